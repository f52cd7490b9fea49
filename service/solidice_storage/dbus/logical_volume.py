# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.LogicalVolume at /org/solidice/Storage/LogicalVolume/<uuid>:
the seed's LV level (infoLV is its properties; extendLV, removeLV, snapshotLV), and
since 0.2 Resize, Rename and tags."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions, validation
from ..engine import rules
from ..engine.protocol import MANAGED_TAG
from ..models import LogicalVolume
from .base import Context, ObjectInterface, arg_names, check_options, path
from .errors import storage_method


class LogicalVolumeInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("LogicalVolume", ctx, model)

    def _resolved(self) -> tuple[LogicalVolume, dict[str, str]]:
        """This LV as the engine has it now (`NotFound` once it is gone), and what
        polkit is told of it: its name, UUID and node, and its VG's name and UUID."""
        lv = self.ctx.engine.reads.resolve_logical_volume(self.model.uuid)
        vg = self.ctx.engine.reads.resolve_volume_group(lv.volume_group)
        return lv, {"lv": lv.name, "lv.uuid": lv.uuid, "lv.path": lv.path,
                    "vg": vg.name, "vg.uuid": vg.uuid}

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.model.name

    @dbus_property(access=PropertyAccess.READ)
    def Uuid(self) -> "s":
        return self.model.uuid

    @dbus_property(access=PropertyAccess.READ)
    def VolumeGroup(self) -> "o":
        return path("VolumeGroup", self.model.volume_group)

    @dbus_property(access=PropertyAccess.READ)
    def Size(self) -> "t":
        return self.model.size

    @dbus_property(access=PropertyAccess.READ)
    def Path(self) -> "s":
        return self.model.path

    @dbus_property(access=PropertyAccess.READ)
    def Active(self) -> "b":
        return self.model.active

    @dbus_property(access=PropertyAccess.READ)
    def Origin(self) -> "o":
        return path("LogicalVolume", self.model.origin)

    @dbus_property(access=PropertyAccess.READ)
    def Attributes(self) -> "s":
        return self.model.attributes

    @dbus_property(access=PropertyAccess.READ)
    def Tags(self) -> "as":
        return list(self.model.tags)

    @storage_method()
    async def Extend(self, size: "t", options: "a{sv}") -> None:
        opts = check_options("LogicalVolume.Extend", options)
        size = validation.size(size)
        lv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, details, opts.interactive)
        await self.ctx.engine.extend_logical_volume(lv.uuid, size, opts)

    @storage_method()
    async def Remove(self, options: "a{sv}") -> None:
        opts = check_options("LogicalVolume.Remove", options)
        lv, details = self._resolved()
        await self.ctx.auth.check(actions.REMOVE, details, opts.interactive)
        await self.ctx.engine.remove_logical_volume(lv.uuid, opts)

    @arg_names("object_path")
    @storage_method()
    async def Snapshot(self, name: "s", size: "t", options: "a{sv}") -> "o":
        opts = check_options("Snapshot", options)
        name, size = validation.lv_name(name), validation.size(size)
        lv, details = self._resolved()
        uid = await self.ctx.auth.check(actions.MANAGE_LVM, {**details, "snapshot": name},
                                        opts.interactive)
        uuid = await self.ctx.engine.snapshot_logical_volume(lv.uuid, name, size, opts, uid)
        return path("LogicalVolume", uuid)

    @storage_method()
    async def Activate(self, options: "a{sv}") -> None:
        opts = check_options("Activate", options)
        lv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, details, opts.interactive)
        await self.ctx.engine.activate_logical_volume(lv.uuid, opts)

    @storage_method()
    async def Deactivate(self, options: "a{sv}") -> None:
        opts = check_options("Deactivate", options)
        lv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, details, opts.interactive)
        await self.ctx.engine.deactivate_logical_volume(lv.uuid, opts)

    @storage_method()
    async def Resize(self, size: "t", options: "a{sv}") -> None:
        opts = check_options("LogicalVolume.Resize", options)
        size = validation.size(size)
        lv, details = self._resolved()
        extent = self.ctx.engine.reads.resolve_volume_group(lv.volume_group).extent_size
        # what is refused is refused before polkit asks anyone (the engine checks
        # again under the VG's lock); a shrink destroys data: `remove`
        count = rules.resize_extents(lv, size, extent, opts)
        shrink = count is not None and count * extent < lv.size
        await self.ctx.auth.check(actions.REMOVE if shrink else actions.MANAGE_LVM,
                                  {**details, "size": str(size)}, opts.interactive)
        # a shrink only if polkit was asked about one
        await self.ctx.engine.resize_logical_volume(lv.uuid, size,
                                                    opts.replace(shrink=shrink))

    @storage_method()
    async def Rename(self, name: "s", options: "a{sv}") -> None:
        opts = check_options("LogicalVolume.Rename", options)
        name = validation.lv_name(name)
        lv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**details, "new-name": name},
                                  opts.interactive)
        await self.ctx.engine.rename_logical_volume(lv.uuid, name, opts)

    @storage_method()
    async def AddTags(self, tags: "as", options: "a{sv}") -> None:
        opts = check_options("AddTags", options)
        tags = validation.tags(tags, MANAGED_TAG)
        lv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**details, "tags": ",".join(tags)},
                                  opts.interactive)
        await self.ctx.engine.add_tags("LogicalVolume", lv.uuid, tags, opts)

    @storage_method()
    async def RemoveTags(self, tags: "as", options: "a{sv}") -> None:
        opts = check_options("RemoveTags", options)
        tags = validation.tags(tags, MANAGED_TAG)
        lv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**details, "tags": ",".join(tags)},
                                  opts.interactive)
        await self.ctx.engine.remove_tags("LogicalVolume", lv.uuid, tags, opts)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.LogicalVolume at /org/solidice/Storage/LogicalVolume/<uuid>:
the seed's LV level (infoLV is its properties; extendLV, removeLV, snapshotLV)."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions, validation
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

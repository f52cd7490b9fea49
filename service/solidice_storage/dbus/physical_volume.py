# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.PhysicalVolume at /org/solidice/Storage/PhysicalVolume/<uuid>:
the seed's infoPV is its properties; since 0.2 its tags."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions, validation
from ..engine.protocol import MANAGED_TAG
from ..models import PhysicalVolume
from .base import Context, ObjectInterface, check_options, path
from .errors import storage_method


class PhysicalVolumeInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("PhysicalVolume", ctx, model)

    def _resolved(self) -> tuple[PhysicalVolume, dict[str, str]]:
        """This PV as the engine has it now (`NotFound` once it is gone), and what
        polkit is told of it: its UUID and node, its VG's name and UUID when it is
        in one, its LUN's WWID when it is on one."""
        pv = self.ctx.engine.reads.resolve_any_physical_volume(self.model.uuid)
        details = {"pv": pv.uuid, "device": pv.device}
        if pv.volume_group is not None:
            vg = self.ctx.engine.reads.resolve_volume_group(pv.volume_group)
            details.update({"vg": vg.name, "vg.uuid": vg.uuid})
        if pv.lun is not None:
            details["lun.wwid"] = pv.lun
        return pv, details

    @dbus_property(access=PropertyAccess.READ)
    def Uuid(self) -> "s":
        return self.model.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "s":
        return self.model.device

    @dbus_property(access=PropertyAccess.READ)
    def Size(self) -> "t":
        return self.model.size

    @dbus_property(access=PropertyAccess.READ)
    def FreeSize(self) -> "t":
        return self.model.free_size

    @dbus_property(access=PropertyAccess.READ)
    def VolumeGroup(self) -> "o":
        return path("VolumeGroup", self.model.volume_group)

    @dbus_property(access=PropertyAccess.READ)
    def Lun(self) -> "o":
        return path("Lun", self.model.lun)

    @dbus_property(access=PropertyAccess.READ)
    def Tags(self) -> "as":
        return list(self.model.tags)

    @storage_method()
    async def AddTags(self, tags: "as", options: "a{sv}") -> None:
        opts = check_options("AddTags", options)
        tags = validation.tags(tags, MANAGED_TAG)
        pv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**details, "tags": ",".join(tags)},
                                  opts.interactive)
        await self.ctx.engine.add_tags("PhysicalVolume", pv.uuid, tags, opts)

    @storage_method()
    async def RemoveTags(self, tags: "as", options: "a{sv}") -> None:
        opts = check_options("RemoveTags", options)
        tags = validation.tags(tags, MANAGED_TAG)
        pv, details = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**details, "tags": ",".join(tags)},
                                  opts.interactive)
        await self.ctx.engine.remove_tags("PhysicalVolume", pv.uuid, tags, opts)

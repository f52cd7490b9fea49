# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.VolumeGroup at /org/solidice/Storage/VolumeGroup/<uuid>:
the seed's VolumeGroup level (listPV, extendVolumeGroup, removePV, listLVs,
createLV). No property lists the LVs: at 10,000 LVs each change would resend it."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions, validation
from ..engine.protocol import MANAGED_TAG
from ..models import Lun, PhysicalVolume, VolumeGroup
from .base import Context, ObjectInterface, arg_names, check_options, key_of, path, paths
from .errors import storage_method


def vg_details(vg: VolumeGroup) -> dict[str, str]:
    """What polkit is told of a VG: its name and its UUID."""
    return {"vg": vg.name, "vg.uuid": vg.uuid}


def device_details(luns: list[Lun]) -> dict[str, str]:
    """What polkit is told of the devices a VG is made of or extended with: the
    nodes the LUNs are used through and their WWIDs, in the caller's order."""
    return {"devices": ",".join(lun.device for lun in luns),
            "luns": ",".join(lun.wwid for lun in luns)}


class VolumeGroupInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("VolumeGroup", ctx, model)

    def _resolved(self) -> VolumeGroup:
        """This VG as the engine has it now (`NotFound` once it is gone)."""
        return self.ctx.engine.reads.resolve_volume_group(self.model.uuid)

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.model.name

    @dbus_property(access=PropertyAccess.READ)
    def Uuid(self) -> "s":
        return self.model.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Size(self) -> "t":
        return self.model.size

    @dbus_property(access=PropertyAccess.READ)
    def FreeSize(self) -> "t":
        return self.model.free_size

    @dbus_property(access=PropertyAccess.READ)
    def ExtentSize(self) -> "t":
        return self.model.extent_size

    @dbus_property(access=PropertyAccess.READ)
    def PhysicalVolumes(self) -> "ao":
        return paths("PhysicalVolume", self.model.physical_volumes)

    @dbus_property(access=PropertyAccess.READ)
    def Tags(self) -> "as":
        return list(self.model.tags)

    @dbus_property(access=PropertyAccess.READ)
    def Managed(self) -> "b":
        return self.model.managed

    @dbus_property(access=PropertyAccess.READ)
    def Partial(self) -> "b":
        return self.model.partial

    @arg_names("physical_volumes")
    @storage_method()
    async def ListPhysicalVolumes(self, options: "a{sv}") -> "ao":
        check_options("ListPhysicalVolumes", options)
        return paths("PhysicalVolume", self.ctx.engine.reads.list_physical_volumes(
            self.model.uuid))

    @arg_names("logical_volumes")
    @storage_method()
    async def ListLogicalVolumes(self, options: "a{sv}") -> "ao":
        check_options("ListLogicalVolumes", options)
        return paths("LogicalVolume", self.ctx.engine.reads.list_logical_volumes(
            self.model.uuid))

    @storage_method()
    async def Extend(self, devices: "as", options: "a{sv}") -> None:
        opts = check_options("VolumeGroup.Extend", options)
        devices = validation.devices(devices)
        vg = self._resolved()
        luns = self.ctx.engine.reads.resolve_devices(
            [key_of(self.ctx, device, "LUN", Lun) for device in devices])
        await self.ctx.auth.check(actions.MANAGE_LVM,
                                  {**vg_details(vg), **device_details(luns)},
                                  opts.interactive)
        await self.ctx.engine.extend_volume_group(vg.uuid, [lun.wwid for lun in luns],
                                                  opts)

    @arg_names("job")
    @storage_method()
    async def RemovePhysicalVolume(self, pv: "s", options: "a{sv}") -> "o":
        opts = check_options("RemovePhysicalVolume", options)
        pv = validation.reference(pv, "physical volume")
        vg = self._resolved()
        found = self.ctx.engine.reads.resolve_physical_volume(
            vg.uuid, key_of(self.ctx, pv, "physical volume", PhysicalVolume))
        details = {**vg_details(vg), "pv": found.uuid, "device": found.device}
        if found.lun is not None:
            details["lun.wwid"] = found.lun
        uid = await self.ctx.auth.check(actions.REMOVE, details, opts.interactive)
        job = await self.ctx.engine.remove_physical_volume(vg.uuid, found.uuid, opts, uid)
        return path("Job", None if job is None else str(job))

    @arg_names("object_path")
    @storage_method()
    async def CreateLogicalVolume(self, name: "s", size: "t", options: "a{sv}") -> "o":
        opts = check_options("CreateLogicalVolume", options)
        name, size = validation.lv_name(name), validation.size(size)
        vg = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**vg_details(vg), "lv": name},
                                  opts.interactive)
        uuid = await self.ctx.engine.create_logical_volume(vg.uuid, name, size, opts)
        return path("LogicalVolume", uuid)

    @storage_method()
    async def Remove(self, options: "a{sv}") -> None:
        opts = check_options("VolumeGroup.Remove", options)
        vg = self._resolved()
        await self.ctx.auth.check(actions.REMOVE, vg_details(vg), opts.interactive)
        await self.ctx.engine.remove_volume_group(vg.uuid, opts)

    @storage_method()
    async def Rename(self, name: "s", options: "a{sv}") -> None:
        opts = check_options("VolumeGroup.Rename", options)
        name = validation.vg_name(name)
        vg = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**vg_details(vg), "new-name": name},
                                  opts.interactive)
        await self.ctx.engine.rename_volume_group(vg.uuid, name, opts)

    @storage_method()
    async def AddTags(self, tags: "as", options: "a{sv}") -> None:
        opts = check_options("AddTags", options)
        tags = validation.tags(tags, MANAGED_TAG)
        vg = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**vg_details(vg),
                                                       "tags": ",".join(tags)},
                                  opts.interactive)
        await self.ctx.engine.add_tags("VolumeGroup", vg.uuid, tags, opts)

    @storage_method()
    async def RemoveTags(self, tags: "as", options: "a{sv}") -> None:
        opts = check_options("RemoveTags", options)
        tags = validation.tags(tags, MANAGED_TAG)
        vg = self._resolved()
        await self.ctx.auth.check(actions.MANAGE_LVM, {**vg_details(vg),
                                                       "tags": ",".join(tags)},
                                  opts.interactive)
        await self.ctx.engine.remove_tags("VolumeGroup", vg.uuid, tags, opts)

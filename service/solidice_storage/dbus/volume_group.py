"""org.solidice.Storage.VolumeGroup at /org/solidice/Storage/VolumeGroup/<uuid>:
the seed's VolumeGroup level (listPV, extendVolumeGroup, removePV, listLVs,
createLV). No property lists the LVs: at 10,000 LVs each change would resend it."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions, validation
from .base import Context, ObjectInterface, check_options, path, paths
from .errors import storage_method


class VolumeGroupInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("VolumeGroup", ctx, model)

    def _details(self) -> dict[str, str]:
        return {"vg": self.model.name, "vg.uuid": self.model.uuid}

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

    @storage_method()
    async def ListPhysicalVolumes(self, options: "a{sv}") -> "ao":
        check_options("ListPhysicalVolumes", options)
        return paths("PhysicalVolume", self.ctx.engine.list_physical_volumes(self.model.uuid))

    @storage_method()
    async def ListLogicalVolumes(self, options: "a{sv}") -> "ao":
        check_options("ListLogicalVolumes", options)
        return paths("LogicalVolume", self.ctx.engine.list_logical_volumes(self.model.uuid))

    @storage_method()
    async def Extend(self, devices: "as", options: "a{sv}") -> None:
        opts = check_options("VolumeGroup.Extend", options)
        devices = validation.devices(devices)
        await self.ctx.auth.check(actions.MANAGE_LVM,
                                  {**self._details(), "devices": ",".join(devices)},
                                  opts.interactive)
        await self.ctx.engine.extend_volume_group(self.model.uuid, devices, opts)

    @storage_method()
    async def RemovePhysicalVolume(self, pv: "s", options: "a{sv}") -> "o":
        opts = check_options("RemovePhysicalVolume", options)
        pv = validation.reference(pv, "physical volume")
        uid = await self.ctx.auth.check(actions.REMOVE, {**self._details(), "pv": pv},
                                        opts.interactive)
        job = await self.ctx.engine.remove_physical_volume(self.model.uuid, pv, opts, uid)
        return path("Job", None if job is None else str(job))

    @storage_method()
    async def CreateLogicalVolume(self, name: "s", size: "t", options: "a{sv}") -> "o":
        opts = check_options("CreateLogicalVolume", options)
        name, size = validation.lv_name(name), validation.size(size)
        await self.ctx.auth.check(actions.MANAGE_LVM, {**self._details(), "lv": name},
                                  opts.interactive)
        uuid = await self.ctx.engine.create_logical_volume(self.model.uuid, name, size, opts)
        return path("LogicalVolume", uuid)

    @storage_method()
    async def Remove(self, options: "a{sv}") -> None:
        opts = check_options("VolumeGroup.Remove", options)
        await self.ctx.auth.check(actions.REMOVE, self._details(), opts.interactive)
        await self.ctx.engine.remove_volume_group(self.model.uuid, opts)

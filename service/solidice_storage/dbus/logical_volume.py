"""org.solidice.Storage.LogicalVolume at /org/solidice/Storage/LogicalVolume/<uuid>:
the seed's LV level (infoLV is its properties; extendLV, removeLV, snapshotLV)."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions, validation
from .base import Context, ObjectInterface, check_options, path
from .errors import storage_method


class LogicalVolumeInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("LogicalVolume", ctx, model)

    def _details(self) -> dict[str, str]:
        return {"lv": self.model.name, "lv.uuid": self.model.uuid,
                "lv.path": self.model.path}

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
        await self.ctx.auth.check(actions.MANAGE_LVM, self._details(), opts.interactive)
        await self.ctx.engine.extend_logical_volume(self.model.uuid, size, opts)

    @storage_method()
    async def Remove(self, options: "a{sv}") -> None:
        opts = check_options("LogicalVolume.Remove", options)
        await self.ctx.auth.check(actions.REMOVE, self._details(), opts.interactive)
        await self.ctx.engine.remove_logical_volume(self.model.uuid, opts)

    @storage_method()
    async def Snapshot(self, name: "s", size: "t", options: "a{sv}") -> "o":
        opts = check_options("Snapshot", options)
        name, size = validation.lv_name(name), validation.size(size)
        uid = await self.ctx.auth.check(actions.MANAGE_LVM,
                                        {**self._details(), "snapshot": name},
                                        opts.interactive)
        uuid = await self.ctx.engine.snapshot_logical_volume(self.model.uuid, name, size,
                                                             opts, uid)
        return path("LogicalVolume", uuid)

    @storage_method()
    async def Activate(self, options: "a{sv}") -> None:
        opts = check_options("Activate", options)
        await self.ctx.auth.check(actions.MANAGE_LVM, self._details(), opts.interactive)
        await self.ctx.engine.activate_logical_volume(self.model.uuid, opts)

    @storage_method()
    async def Deactivate(self, options: "a{sv}") -> None:
        opts = check_options("Deactivate", options)
        await self.ctx.auth.check(actions.MANAGE_LVM, self._details(), opts.interactive)
        await self.ctx.engine.deactivate_logical_volume(self.model.uuid, opts)

"""org.solidice.Storage.Mount at /org/solidice/Storage/Mount/<escaped local path>."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions
from .base import Context, ObjectInterface, check_options
from .errors import storage_method


class MountInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("Mount", ctx, model)

    @dbus_property(access=PropertyAccess.READ)
    def Server(self) -> "s":
        return self.model.server

    @dbus_property(access=PropertyAccess.READ)
    def RemotePath(self) -> "s":
        return self.model.remote_path

    @dbus_property(access=PropertyAccess.READ)
    def LocalPath(self) -> "s":
        return self.model.local_path

    @dbus_property(access=PropertyAccess.READ)
    def Options(self) -> "s":
        return self.model.options

    @dbus_property(access=PropertyAccess.READ)
    def Persistent(self) -> "b":
        return self.model.persistent

    @storage_method()
    async def Unmount(self, force: "b", options: "a{sv}") -> None:
        opts = check_options("Unmount", options)
        await self.ctx.auth.check(actions.MOUNT_NFS, {"local-path": self.model.local_path},
                                  opts.interactive)
        await self.ctx.engine.unmount(self.model.local_path, force, opts)

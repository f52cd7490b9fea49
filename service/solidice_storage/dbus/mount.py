# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.Mount at /org/solidice/Storage/Mount/<escaped local path>."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions, options, validation
from ..models import Mount
from .base import Context, ObjectInterface, check_options
from .errors import storage_method


async def unmount(ctx: Context, local_path: str, force: bool,
                  opts: options.Options) -> None:
    """Both Unmounts (StoragePool's, by path, and a Mount's own): one mount-point
    rule, checked before polkit is asked; polkit is told what is mounted there."""
    local_path = validation.unmount_point(local_path, ctx.config.mount_roots)
    details = {"local-path": local_path}
    if (mount := ctx.engine.store.get(Mount, local_path)) is not None:
        details.update({"server": mount.server, "remote-path": mount.remote_path})
    await ctx.auth.check(actions.MOUNT_NFS, details, opts.interactive)
    await ctx.engine.unmount(local_path, force, opts)


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
        await unmount(self.ctx, self.model.local_path, force, opts)

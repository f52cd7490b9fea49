"""org.solidice.Storage.StoragePool at /org/solidice/Storage/Host: the seed's
StoragePool level (VG create and remove, NFS mount and unmount)."""

from .. import actions, validation
from .base import Context, ObjectInterface, check_options, path
from .errors import storage_method


class StoragePoolInterface(ObjectInterface):
    def __init__(self, ctx: Context) -> None:
        super().__init__("StoragePool", ctx, None)

    @storage_method()
    async def CreateVolumeGroup(self, name: "s", devices: "as", options: "a{sv}") -> "o":
        opts = check_options("CreateVolumeGroup", options)
        name, devices = validation.vg_name(name), validation.devices(devices)
        await self.ctx.auth.check(actions.MANAGE_LVM, {"vg": name,
                                                       "devices": ",".join(devices)},
                                  opts.interactive)
        uuid = await self.ctx.engine.create_volume_group(name, devices, opts)
        return path("VolumeGroup", uuid)

    @storage_method()
    async def RemoveVolumeGroup(self, vg: "s", options: "a{sv}") -> None:
        opts = check_options("RemoveVolumeGroup", options)
        vg = validation.reference(vg, "volume group")
        await self.ctx.auth.check(actions.REMOVE, {"vg": vg}, opts.interactive)
        await self.ctx.engine.remove_volume_group(vg, opts)

    @storage_method()
    async def MountNfs(self, server: "s", remote_path: "s", local_path: "s",
                       options: "a{sv}") -> "o":
        opts = check_options("MountNfs", options)
        server = validation.host(server)
        remote_path = validation.remote_path(remote_path)
        local_path = validation.local_path(local_path, self.ctx.config.mount_roots)
        uid = await self.ctx.auth.check(actions.MOUNT_NFS, {
            "server": server, "remote-path": remote_path, "local-path": local_path},
            opts.interactive)
        key = await self.ctx.engine.mount_nfs(server, remote_path, local_path, opts, uid)
        return path("Mount", key)

    @storage_method()
    async def Unmount(self, local_path: "s", force: "b", options: "a{sv}") -> None:
        opts = check_options("Unmount", options)
        local_path = validation.local_path(local_path, self.ctx.config.mount_roots)
        await self.ctx.auth.check(actions.MOUNT_NFS, {"local-path": local_path},
                                  opts.interactive)
        await self.ctx.engine.unmount(local_path, force, opts)

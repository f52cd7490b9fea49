# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.StoragePool at /org/solidice/Storage/Host: the seed's
StoragePool level (VG create and remove, NFS mount and unmount).

Every reference is resolved before polkit is asked (engine/resolve.py): polkit is
told the object found, and the engine is handed that object's UUID or WWID."""

from .. import actions, validation
from ..models import Lun, VolumeGroup
from .base import Context, ObjectInterface, arg_names, check_options, key_of, path
from .errors import storage_method
from .mount import unmount
from .volume_group import device_details, vg_details


class StoragePoolInterface(ObjectInterface):
    def __init__(self, ctx: Context) -> None:
        super().__init__("StoragePool", ctx, None)

    @arg_names("object_path")
    @storage_method()
    async def CreateVolumeGroup(self, name: "s", devices: "as", options: "a{sv}") -> "o":
        opts = check_options("CreateVolumeGroup", options)
        name, devices = validation.vg_name(name), validation.devices(devices)
        luns = self.ctx.engine.reads.resolve_devices(
            [key_of(self.ctx, device, "LUN", Lun) for device in devices])
        await self.ctx.auth.check(actions.MANAGE_LVM, {"vg": name, **device_details(luns)},
                                  opts.interactive)
        uuid = await self.ctx.engine.create_volume_group(
            name, [lun.wwid for lun in luns], opts)
        return path("VolumeGroup", uuid)

    @storage_method()
    async def RemoveVolumeGroup(self, vg: "s", options: "a{sv}") -> None:
        opts = check_options("RemoveVolumeGroup", options)
        ref = key_of(self.ctx, validation.reference(vg, "volume group"), "volume group",
                     VolumeGroup)
        found = self.ctx.engine.reads.resolve_volume_group(ref)
        await self.ctx.auth.check(actions.REMOVE, vg_details(found), opts.interactive)
        await self.ctx.engine.remove_volume_group(found.uuid, opts)

    @arg_names("object_path")
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
        await unmount(self.ctx, local_path, force, opts)

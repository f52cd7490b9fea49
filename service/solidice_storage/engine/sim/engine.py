# SPDX-License-Identifier: LGPL-2.1-or-later
"""The simulated host: every operation of the contract, in memory.

For trying the service and for the fast D-Bus tier; never proof that a real feature
works. It uses the same validation and resolver as the real engine, never touches
the filesystem or the network, and starts from `seed`'s believable host. Each domain
is an object of its own (luns, iscsi, lvm, nfs), as in the real engine; this class
composes them and answers the `Engine` protocol by handing each call to its domain.
"""

import asyncio
import logging

from ... import __version__
from ...options import (CreateLogicalVolumeOptions, CreateVolumeGroupOptions,
                        DiscoveryOptions, EnumerateIscsiLunsOptions,
                        ExtendLogicalVolumeOptions, ExtendVolumeGroupOptions, LoginOptions,
                        MountNfsOptions, Options, RemoveOptions,
                        RemovePhysicalVolumeOptions, ResizeLogicalVolumeOptions)
from ..jobs import Jobs
from ..protocol import BlockInfo
from ..reads import Reads
from ..store import StateStore
from . import seed
from .faults import Faults
from .iscsi import SimIscsi
from .luns import SimLuns
from .lvm import SimLvm
from .nfs import SimNfs

log = logging.getLogger(__name__)


class SimEngine:
    description = f"simulated host (solidice-storage {__version__})"
    multipath = True
    iscsi_initiator_name = seed.INITIATOR

    def __init__(self, bulk_lvs: int = 0, faults: frozenset[str] = frozenset(),
                 step: float = seed.STEP) -> None:
        """`step`: seconds each step of a simulated long operation takes."""
        self.store = StateStore()
        self.jobs = Jobs(self.store)
        self.reads = Reads(self.store)
        self.faults = Faults(faults)
        self.luns = SimLuns(self.store)
        self.iscsi = SimIscsi(self.jobs, self.luns, step)
        self.lvm = SimLvm(self.store, self.jobs, self.faults, seed.UuidSource(),
                          seed.SYSTEM_DISK, step)
        self.nfs = SimNfs(self.store, self.jobs, step)
        self.step = step
        self._bulk_lvs = bulk_lvs

    async def start(self) -> None:
        await seed.seed(self.iscsi, self.lvm, self.nfs, self._bulk_lvs)
        self.faults.arm()

    def serving(self) -> None:
        pass

    async def close(self) -> None:
        await self.lvm.close()

    # ---- LUNs ----

    async def get_block_info(self, name_or_uuid: str) -> BlockInfo:
        return await self.luns.get_block_info(name_or_uuid)

    def grow_lun(self, wwid: str, size: int) -> None:
        """The array grows iSCSI LUN `wwid` (SimLuns.grow_lun)."""
        self.luns.grow_lun(wwid, size)

    def map_lun(self, target: str, size: int) -> str:
        """The array maps a new LUN on `target` (SimLuns.map_lun)."""
        return self.luns.map_lun(target, size)

    async def rescan(self, opts: Options) -> None:
        await asyncio.sleep(self.step)
        for target in self.iscsi.targets_logged_in():
            grown = self.luns.rescan_target(target)
            self.iscsi.publish_target(target)
            for wwid in grown:
                await self.lvm.resize_pv(wwid)

    # ---- iSCSI ----

    async def discover_iscsi_targets(self, portal: str, opts: DiscoveryOptions,
                                     uid: int = 0) -> list[tuple[str, str]]:
        return await self.iscsi.discover_iscsi_targets(portal, opts, uid)

    async def login_iscsi(self, portal: str, target: str, opts: LoginOptions,
                          uid: int) -> str:
        return await self.iscsi.login_iscsi(portal, target, opts, uid)

    async def logout_iscsi(self, portal: str, target: str, opts: Options,
                           uid: int = 0) -> None:
        await self.iscsi.logout_iscsi(portal, target, opts, uid)

    async def enumerate_iscsi_luns(self, portal: str, target: str,
                                   opts: EnumerateIscsiLunsOptions,
                                   uid: int | None) -> list[str]:
        return await self.iscsi.enumerate_iscsi_luns(portal, target, opts, uid)

    # ---- LVM ----

    async def create_volume_group(self, name: str, devices: list[str],
                                  opts: CreateVolumeGroupOptions) -> str:
        return await self.lvm.create_volume_group(name, devices, opts)

    async def remove_volume_group(self, vg: str, opts: RemoveOptions) -> None:
        await self.lvm.remove_volume_group(vg, opts)

    async def extend_volume_group(self, vg: str, devices: list[str],
                                  opts: ExtendVolumeGroupOptions) -> None:
        await self.lvm.extend_volume_group(vg, devices, opts)

    async def remove_physical_volume(self, vg: str, pv: str,
                                     opts: RemovePhysicalVolumeOptions,
                                     uid: int) -> int | None:
        return await self.lvm.remove_physical_volume(vg, pv, opts, uid)

    async def create_logical_volume(self, vg: str, name: str, size: int,
                                    opts: CreateLogicalVolumeOptions) -> str:
        return await self.lvm.create_logical_volume(vg, name, size, opts)

    async def extend_logical_volume(self, lv: str, size: int,
                                    opts: ExtendLogicalVolumeOptions) -> None:
        await self.lvm.extend_logical_volume(lv, size, opts)

    async def remove_logical_volume(self, lv: str, opts: RemoveOptions) -> None:
        await self.lvm.remove_logical_volume(lv, opts)

    async def snapshot_logical_volume(self, lv: str, name: str, size: int,
                                      opts: Options, uid: int) -> str:
        return await self.lvm.snapshot_logical_volume(lv, name, size, opts, uid)

    async def activate_logical_volume(self, lv: str, opts: Options) -> None:
        await self.lvm.activate_logical_volume(lv, opts)

    async def deactivate_logical_volume(self, lv: str, opts: Options) -> None:
        await self.lvm.deactivate_logical_volume(lv, opts)

    async def resize_logical_volume(self, lv: str, size: int,
                                    opts: ResizeLogicalVolumeOptions) -> None:
        await self.lvm.resize_logical_volume(lv, size, opts)

    async def rename_logical_volume(self, lv: str, name: str, opts: Options) -> None:
        await self.lvm.rename_logical_volume(lv, name, opts)

    async def rename_volume_group(self, vg: str, name: str, opts: Options) -> None:
        await self.lvm.rename_volume_group(vg, name, opts)

    async def add_tags(self, kind: str, key: str, tags: list[str], opts: Options) -> None:
        await self.lvm.add_tags(kind, key, tags, opts)

    async def remove_tags(self, kind: str, key: str, tags: list[str],
                          opts: Options) -> None:
        await self.lvm.remove_tags(kind, key, tags, opts)

    # ---- NFS ----

    async def mount_nfs(self, server: str, remote_path: str, local_path: str,
                        opts: MountNfsOptions, uid: int) -> str:
        return await self.nfs.mount_nfs(server, remote_path, local_path, opts, uid)

    async def unmount(self, local_path: str, force: bool, opts: Options) -> None:
        await self.nfs.unmount(local_path, force, opts)

    # ---- jobs ----

    def cancel_job(self, job_id: int) -> None:
        self.jobs.cancel(job_id)

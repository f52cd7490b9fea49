# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Engine protocol: every operation the D-Bus layer can ask of the host.

Two implementations: `sim.engine.SimEngine` (in memory) and the real host engine
(`host.engine.HostEngine`). Both get arguments already checked by `validation` and
options as `options`' dataclasses, and resolve references with `resolve` (`reads`).
Every method states what holds on completion. Changes reach the exported objects
through the engine's `StateStore` before the method returns, so a caller's reply
always follows its object onto the bus. Errors are `errors.StorageError`s.
"""

from typing import Protocol

from ..models import BlockInfo  # noqa: F401  (engines import it from here)
from ..options import (CreateLogicalVolumeOptions, CreateVolumeGroupOptions,
                       DiscoveryOptions, EnumerateIscsiLunsOptions, ExtendLogicalVolumeOptions,
                       ExtendVolumeGroupOptions, LoginOptions, MountNfsOptions, Options,
                       RemoveOptions, RemovePhysicalVolumeOptions,
                       ResizeLogicalVolumeOptions)
from .reads import Reads
from .store import StateStore

# Tag on every VG this service created (VolumeGroup.Managed); LVM keeps it with the
# VG's metadata, so it survives restarts and shows in `vgs -o tags`.
MANAGED_TAG = "org.solidice.storage"


class Engine(Protocol):
    store: StateStore
    #: what the engine is, for logs and `Host.Version`
    description: str

    @property
    def multipath(self) -> bool:
        """True when multipathd manages devices on this host."""

    @property
    def iscsi_initiator_name(self) -> str:
        """This host's iSCSI initiator name, or "" when it has none."""

    async def start(self) -> None:
        """Scan the host. On completion the store holds every object there is."""

    def serving(self) -> None:
        """The bus name is ours (called once, after `start`): background work that
        must not delay start-up may begin (re-establishing persistent mounts)."""

    async def close(self) -> None:
        """Stop watching the host. Nothing on the host changes."""

    #: enumerating, listing and resolving references: from memory, before
    #: polkit is asked (engine/reads.py)
    reads: Reads

    async def get_block_info(self, name_or_uuid: str) -> BlockInfo:
        """What a device is, named by WWID, LVM UUID, `vg/lv` or /dev path (the
        D-Bus layer turns an object path into its key first). A /dev path is
        resolved from udev's data alone (nodes, kernel names, DEVLINKS), never
        looked up on the filesystem; any other path, or a /dev path with a '.',
        '..' or empty component, is `InvalidArgument`. `NotFound` if nothing is."""

    # ---- iSCSI ----

    async def discover_iscsi_targets(self, portal: str,
                                     opts: DiscoveryOptions) -> list[tuple[str, str]]:
        """(target, portal) pairs the portal offers (SendTargets). Discovery CHAP
        from `username`/`password`. `Timeout` if the whole discovery takes longer
        than `timeout` seconds (30 by default)."""

    async def login_iscsi(self, portal: str, target: str, opts: LoginOptions,
                          uid: int) -> str:
        """Ensures a session to `target` through `portal` exists; returns its key.
        Its LUNs are exported before this returns. A job while it runs."""

    async def logout_iscsi(self, portal: str, target: str, opts: Options) -> None:
        """Ensures no session to `target` through `portal`. `NotFound` if there was
        none; `Busy` if one of its LUNs holds a PV of a VG in use."""

    async def enumerate_iscsi_luns(self, portal: str, target: str,
                                   opts: EnumerateIscsiLunsOptions,
                                   uid: int) -> list[str]:
        """WWIDs of the LUNs behind `target`, logging in first unless `login` is
        false (then `NotFound` when there is no session)."""

    async def rescan(self, opts: Options) -> None:
        """The host has looked again at what it is already connected to. On
        completion: the LUNs newly mapped on the existing iSCSI sessions and FC
        hosts are in the store; a LUN that grew on the array has its new size (each
        path device rescanned, the multipath map resized), and so does the PV on it
        (pvresize), with its VG. Logs in to nothing and changes nothing else."""

    # ---- LVM ----

    async def create_volume_group(self, name: str, devices: list[str],
                                  opts: CreateVolumeGroupOptions) -> str:
        """A VG `name` over `devices` (pvcreate where needed, multipath maps only)
        exists, tagged as managed; returns its UUID. `AlreadyExists` if the name is
        taken, `Busy` if a device is in use, `InvalidArgument` for a path device."""

    async def remove_volume_group(self, vg: str, opts: RemoveOptions) -> None:
        """The VG, its LVs and its PV labels are gone. Unmanaged VGs need `force`;
        `Busy` if an LV is open."""

    async def extend_volume_group(self, vg: str, devices: list[str],
                                  opts: ExtendVolumeGroupOptions) -> None:
        """The devices are PVs of the VG."""

    async def remove_physical_volume(self, vg: str, pv: str,
                                     opts: RemovePhysicalVolumeOptions,
                                     uid: int) -> int | None:
        """The PV is out of the VG and its label removed. With `move-data`, returns
        at once the id of the job that moves its extents first; `Busy` without it
        if the PV holds data. None when done synchronously."""

    async def create_logical_volume(self, vg: str, name: str, size: int,
                                    opts: CreateLogicalVolumeOptions) -> str:
        """An LV `name` of at least `size` bytes (rounded up to extents) exists,
        active unless `activate` is false; returns its UUID."""

    async def extend_logical_volume(self, lv: str, size: int,
                                    opts: ExtendLogicalVolumeOptions) -> None:
        """The LV grew by `size` bytes (rounded up). With `expected-size`, nothing
        happens and `InvalidArgument` is raised unless the LV is that size now."""

    async def remove_logical_volume(self, lv: str, opts: RemoveOptions) -> None:
        """The LV is gone. `Busy` if it is open or has snapshots."""

    async def snapshot_logical_volume(self, lv: str, name: str, size: int,
                                      opts: Options, uid: int) -> str:
        """A snapshot `name` of the LV with `size` bytes of space exists; returns its
        UUID. A job while it runs."""

    async def activate_logical_volume(self, lv: str, opts: Options) -> None:
        """The LV is active."""

    async def deactivate_logical_volume(self, lv: str, opts: Options) -> None:
        """The LV is inactive. `Busy` if it is open."""

    async def resize_logical_volume(self, lv: str, size: int,
                                    opts: ResizeLogicalVolumeOptions) -> None:
        """The LV is `size` bytes, rounded up to whole extents; a no-op when it is
        that size. A smaller size needs `shrink` (else `InvalidArgument`) and is
        `Busy` while the LV is open; `expected-size` as for `extend_logical_volume`.
        `NotSupported` for a kind of LV not handled (engine/rules.resize_extents)."""

    async def rename_logical_volume(self, lv: str, name: str, opts: Options) -> None:
        """The LV is called `name` (its UUID stays); a no-op when it is already.
        `AlreadyExists` if another LV of its VG has the name. An active LV's new
        /dev link exists on completion."""

    async def rename_volume_group(self, vg: str, name: str, opts: Options) -> None:
        """The VG is called `name` (its UUID stays), its LVs' paths follow; a no-op
        when it is already. `AlreadyExists` if any VG has the name. The maps of
        its active LVs bear the new name and their /dev links exist on completion."""

    async def add_tags(self, kind: str, key: str, tags: list[str], opts: Options) -> None:
        """The VG, LV or PV (`kind`: its model's KIND; `key`: its UUID) carries
        `tags` (checked by validation.tags: never MANAGED_TAG)."""

    async def remove_tags(self, kind: str, key: str, tags: list[str],
                          opts: Options) -> None:
        """The VG, LV or PV carries none of `tags`; absent ones are no error."""

    # ---- NFS ----

    async def mount_nfs(self, server: str, remote_path: str, local_path: str,
                        opts: MountNfsOptions, uid: int) -> str:
        """server:remote_path is mounted on local_path (always nosuid,nodev);
        returns the mount's key (its local path). `Timeout` if the server does not
        answer within `timeout` seconds, leaving no mount point it created. With
        `persistent`, the mount is recorded and kept: made again after a restart or
        a reboot, or when it vanishes, until `unmount`."""

    async def unmount(self, local_path: str, force: bool, opts: Options) -> None:
        """Nothing is mounted on local_path, and it is no longer kept mounted.
        `Busy` if in use and not `force`; `force` detaches it even when its server
        is dead. `NotFound` if no NFS mount is there or recorded."""

    # ---- jobs ----

    def cancel_job(self, job_id: int) -> None:
        """Asks the job to stop; it completes with `Cancelled` when it has."""

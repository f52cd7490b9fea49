# SPDX-License-Identifier: LGPL-2.1-or-later
"""The LUN index: the host's disks (udev's database and sysfs, blockdev.py), which of
them are LUNs, their paths' states, and the iSCSI sessions they sit on.

Nothing is opened, and everything runs off the event loop. One scan reads the host
and publishes the LUNs and the sessions that changed; the LVM domain hears of each
scan through its hooks (`LvmHooks`) and asks this index which node to use for a LUN.
"""

import asyncio
import logging
import os
from pathlib import Path
from typing import Callable, Protocol

from .... import validation
from ....errors import InvalidArgument, NotFound
from ....models import IscsiSession, Lun
from ... import resolve
from ...rules import wwid_candidates
from ...store import StateStore
from .. import dm, multipath
from ..iscsi.sessions import SYSFS, SysSession, read_sessions, session_model
from ..runner import Runner
from ..threads import off_loop
from . import blockdev
from .blockdev import Disk

log = logging.getLogger(__name__)
# disks, sessions, and the LVs device-mapper has active (LV UUID → True)
Reading = tuple[list[Disk], list[SysSession], dict[str, bool]]


def read_host(sysfs: Path) -> Reading:
    """What one scan reads: udev's disks, sysfs's sessions, the active LVs."""
    active = {volume.uuid: True for volume in blockdev.volumes() if volume.kind == "lvm"}
    return blockdev.scan(), read_sessions(sysfs), active


class LvmHooks(Protocol):
    """What the LVM domain hears of each scan."""

    def link_lun(self, lun: Lun) -> Lun: ...
    def paths_changed(self) -> None: ...
    def labels_seen(self, labelled: set[str]) -> None: ...
    def devices_changed(self, active_lvs: dict[str, bool], read_at: float) -> None: ...


class NoLvm:
    """The hooks before an LVM domain is attached: nothing to tell."""

    def link_lun(self, lun: Lun) -> Lun:
        return lun

    def paths_changed(self) -> None:
        pass

    def labels_seen(self, labelled: set[str]) -> None:
        pass

    def devices_changed(self, active_lvs: dict[str, bool], read_at: float) -> None:
        pass


class Luns:
    """The LUNs of this host, as of the last scan. `read`: what a scan reads (the
    host's own udev database and `sysfs` by default; a test's stand-in)."""

    def __init__(self, runner: Runner, store: StateStore, sysfs: Path = SYSFS,
                 read: Callable[[Path], Reading] = read_host) -> None:
        self.runner = runner
        self.store = store
        self.sysfs = sysfs
        self.disks: list[Disk] = []
        self.sessions: list[SysSession] = []
        self.multipath = False             # multipathd runs
        self.lvm: LvmHooks = NoLvm()       # the LVM domain, once attached
        self._read = read
        self._lock = asyncio.Lock()

    async def scan(self) -> None:
        """Read the disks and the paths' states; publish what changed. Scans run one
        at a time, so a slow one never overwrites a newer one."""
        async with self._lock:
            read_at = asyncio.get_running_loop().time()
            disks, sessions, active_lvs = await off_loop(self._read, self.sysfs)
            states = await dm.multipath_path_states(self.runner)
            running = await multipath.multipathd_running(self.runner)
            host_changed, self.multipath = running != self.multipath, running
            self.disks, self.sessions = disks, sessions
            self._publish(states, host_changed)
            self.lvm.paths_changed()
            self.lvm.devices_changed(active_lvs, read_at)
            self.lvm.labels_seen({disk.wwid for disk in disks
                                  if disk.path_of is None and disk.status == "pv"})

    def _publish(self, states: dict[str, dict[str, str]], host_changed: bool) -> None:
        """The LUNs and sessions of the last read, in the store; those gone, out."""
        by_name = {disk.name: disk for disk in self.disks}
        luns = [self.lvm.link_lun(_lun(disk, by_name,
                                       states.get(disk.node.rsplit("/", 1)[1], {})))
                for disk in self.disks if self.is_lun(disk)]
        iscsi = [session_model(session, self.disks) for session in self.sessions]
        gone = [("Lun", key) for key in self.store.all(Lun)
                if key not in {lun.wwid for lun in luns}]
        gone += [("IscsiSession", key) for key in self.store.all(IscsiSession)
                 if key not in {session.key for session in iscsi}]
        self.store.publish([*luns, *iscsi], gone, host=host_changed)

    def is_lun(self, disk: Disk) -> bool:
        """A map, or a disk no map is made of: not a path of a map, nor a path
        multipathd will claim (udev's DM_MULTIPATH_DEVICE_PATH) whose map it has not
        made yet. Offered meanwhile, the path could be labelled as a PV, and the map
        then made over it."""
        return disk.path_of is None and not (disk.multipath_candidate and self.multipath)

    def enumerate(self) -> list[str]:
        return list(self.store.all(Lun))

    def find_session(self, target: str, portal: str) -> SysSession | None:
        """The kernel's session to `target` through `portal`, as of the last scan."""
        return next((s for s in self.sessions if (s.target, s.portal) == (target, portal)),
                    None)

    def by_wwid(self, wwid: str) -> Disk:
        """The LUN (map or unpathed disk) with this exact WWID."""
        return next(d for d in self.disks if d.wwid == wwid and d.path_of is None)

    def disk_at(self, ref: str) -> Disk | None:
        """The disk a /dev name is (its node, kernel node or a udev link), or None."""
        return next((disk for disk in self.disks if ref in dev_names(disk)), None)

    def resolve_device(self, ref: str) -> Lun:
        """resolve.Resolver's, with /dev names resolved from udev's data alone."""
        if not ref.startswith("/dev/"):
            return resolve.lun(self.store, ref)
        validation.device_path(ref, "device")
        disk = self.disk_at(ref)
        if disk is not None and disk.path_of is not None:
            owner = next((d.node for d in self.disks
                          if d.wwid == disk.path_of and d.path_of is None), disk.path_of)
            raise InvalidArgument(f"{ref} is a path of multipath map {owner}; use the map")
        lun = self.store.get(Lun, disk.wwid) if disk is not None else None
        if lun is None:
            raise NotFound(f"no LUN at {ref}")
        return lun

    # ---- for the LVM domain (its LunIndex) ----

    def lun_for_device(self, device: str) -> str | None:
        """The WWID of the LUN a device node is (a map or an unpathed disk), or None
        when the device is a path of a map or no LUN at all: LVM must only ever use
        the map of a multipathed LUN, never one of its paths."""
        resolved = os.path.realpath(device)
        name = os.path.basename(resolved)
        disk = next((d for d in self.disks
                     if d.name == name or d.node in (device, resolved)), None)
        return disk.wwid if disk is not None and self.is_lun(disk) else None

    def device_for_wwid(self, wwid: str) -> str:
        """The node to use for LUN `wwid`: its map's when multipathed."""
        for candidate in wwid_candidates(wwid):
            for disk in self.disks:
                if disk.wwid == candidate and self.is_lun(disk):
                    return disk.node
        raise NotFound(f"no LUN {wwid}")


def dev_names(device: Disk | blockdev.Volume) -> set[str]:
    """Every /dev name udev gave a device: its node, its kernel node, its links."""
    return {device.node, f"/dev/{device.name}", *device.links}


def _lun(disk: Disk, by_name: dict[str, Disk], states: dict[str, str]) -> Lun:
    paths = tuple((slave, states.get(by_name[slave].dev_t, "unknown")
                   if slave in by_name else "unknown") for slave in disk.slaves)
    return Lun(wwid=disk.wwid, device=disk.node, size=disk.size, vendor=disk.vendor,
               model=disk.model, serial=disk.serial, transport=disk.transport,
               multipath=disk.multipath, paths=paths, status=disk.status)

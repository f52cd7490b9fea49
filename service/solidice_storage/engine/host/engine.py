"""The real host engine: LUN discovery (multipath-aware), iSCSI, rescans, block
device information, LVM (lvm/engine.py) and NFS mounts (nfs.py).

Discovery reads udev's database and sysfs (blockdev.py), the iSCSI sessions from
sysfs (iscsi.py) and device-mapper's view of each path (`dmsetup status`); nothing is
opened, and everything runs off the event loop. udev events (udev.py) trigger a
rescan, so reads answer from memory and sessions made or ended outside the service
show up by themselves.
"""

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import Iterable

from ... import __version__, objpath, validation
from ...config import Config
from ...errors import Busy, InvalidArgument, NotFound, Timeout
from ...models import IscsiSession, Lun
from ...validation import Options
from .. import blockdev, resolve
from ..protocol import BlockInfo
from ..intents import Intent, Intents, by_owner
from ..iscsi import (ISCSI_KINDS, SYSFS, Iscsi, PortalResolver, SysSession, literal_portal,
                    other_chap_on_a_session, read_sessions)
from ..mountinfo import read_mountinfo
from ..nfs import NFS_KINDS, NfsMounts
from .runner import Runner
from ..rules import ISCSI_TIMEOUT, wwid_candidates
from ..jobs import Jobs
from . import dm, udev
from .lvm.engine import LVM_KINDS, LvmEngine
from .udev import UdevWatch
from ..unavailable import UnavailableEngine

log = logging.getLogger(__name__)
SCAN_TIMEOUT = 60
SETTLE_TIMEOUT = 30          # how long a login waits for its LUNs' maps
INITIATOR_NAME_FILE = "/etc/iscsi/initiatorname.iscsi"


class HostEngine(resolve.Resolver, UnavailableEngine):
    description = (f"this host (solidice-storage {__version__}; LUNs, multipath, iSCSI, "
                   "LVM and NFS)")

    def __init__(self, runner: Runner | None = None, sysfs: Path = SYSFS,
                 state_dir: Path | None = None, config: Config | None = None) -> None:
        super().__init__()
        self.config = config or Config()
        self.state_dir = state_dir
        self.intents = Intents(state_dir)   # multi-step changes in progress (intents.py)
        self.runner = runner or Runner()
        self.runner.set_limit("lvm", self.config.lvm_concurrency)
        self.iscsi = Iscsi(self.runner, intents=self.intents)
        self.resolver = PortalResolver()    # portal names: never in the default executor
        self.jobs = Jobs(self.store)
        self.multipath = False
        self.iscsi_initiator_name = ""
        self._sysfs = sysfs
        self._disks: list[blockdev.Disk] = []
        self._sessions: list[SysSession] = []
        self._watch = UdevWatch(self.scan)
        self._scan_lock = asyncio.Lock()
        self._session_locks: dict[str, asyncio.Lock] = {}
        self._active_lvs: dict[str, bool] = {}
        self.nfs = NfsMounts(self.runner, self.store, self.jobs, state_dir, self.intents,
                             self.config)
        self.lvm = LvmEngine(self.runner, self.store, self.jobs, self.intents, self)

    async def start(self) -> None:
        if missing := self.runner.missing():
            log.info("not installed here: %s", ", ".join(missing))
        self.iscsi_initiator_name = await asyncio.to_thread(_initiator_name)
        # changes a daemon that died left half-done: each to the engine that owns
        # its kind, finished or undone before anyone is answered
        pending = by_owner(await self.intents.pending(), {
            "iscsi": ISCSI_KINDS, "lvm": LVM_KINDS, "nfs": NFS_KINDS})
        await self._recover_logins(pending["iscsi"])    # first: they change the LUNs
        self._watch.start()                # before the scan: no event falls in between
        started = asyncio.get_running_loop().time()
        await self.scan()
        log.info("first scan: %d LUNs, %d block devices, %d iSCSI sessions in %.3f s",
                 len(self.store.all(Lun)), len(self._disks), len(self._sessions),
                 asyncio.get_running_loop().time() - started)
        await self.lvm.start(pending["lvm"])
        await self.scan()                  # the LUNs again, with their PV links
        await self.nfs.start()
        for intent in pending["nfs"]:
            await self.intents.settle(intent, self.nfs.recover(intent))

    async def _recover_logins(self, pending: list[Intent]) -> None:
        if not pending:
            return
        if not self.runner.has("iscsiadm"):
            log.error("%d iSCSI intent records left in place: no iscsiadm", len(pending))
            return
        for intent in pending:
            sessions = await _off_loop(read_sessions, self._sysfs)
            if await self.intents.settle(intent, self.iscsi.recover(intent, sessions)):
                await self._settle()           # a logout or a record gone: udev's turn

    def serving(self) -> None:
        self.nfs.serving()

    async def close(self) -> None:
        self._watch.close()
        self.resolver.close()
        await self.nfs.close()
        await self.lvm.close()

    # ---- NFS (nfs.py) ----

    async def mount_nfs(self, server: str, remote_path: str, local_path: str,
                        opts: Options, uid: int) -> str:
        return await self.nfs.mount(server, remote_path, local_path, opts, uid)

    async def unmount(self, local_path: str, force: bool, opts: Options) -> None:
        await self.nfs.unmount(local_path, force)

    async def scan(self) -> None:
        """Read the disks and the paths' states; publish what changed. Scans run one
        at a time, so a slow one never overwrites a newer one."""
        async with self._scan_lock:
            read_at = asyncio.get_running_loop().time()
            disks, sessions, active_lvs = await _off_loop(self._read_host)
            states = await self._path_states()
            multipath = await self._multipathd_running()
            host_changed, self.multipath = multipath != self.multipath, multipath
            self._disks, self._sessions = disks, sessions
            by_name = {disk.name: disk for disk in disks}
            luns = [self.lvm.link_lun(self._lun(disk, by_name,
                                                 states.get(disk.node.rsplit("/", 1)[1], {})))
                    for disk in disks if self._is_lun(disk)]
            iscsi = [self._session(session) for session in sessions]
            gone = [("Lun", key) for key in self.store.all(Lun)
                    if key not in {lun.wwid for lun in luns}]
            gone += [("IscsiSession", key) for key in self.store.all(IscsiSession)
                     if key not in {session.key for session in iscsi}]
            self.store.publish([*luns, *iscsi], gone, host=host_changed)
            self.lvm.paths_changed()
            self.lvm.devices_changed(active_lvs, read_at)
            self.lvm.labels_seen({disk.wwid for disk in disks
                                  if disk.path_of is None and disk.status == "pv"})

    def _is_lun(self, disk: blockdev.Disk) -> bool:
        """A map, or a disk no map is made of: not a path of a map, nor a path
        multipathd will claim (udev's DM_MULTIPATH_DEVICE_PATH) whose map it has not
        made yet. Offered meanwhile, the path could be labelled as a PV, and the map
        then made over it."""
        return disk.path_of is None and not (disk.multipath_candidate and self.multipath)

    def _read_host(self) -> tuple[list[blockdev.Disk], list[SysSession], dict[str, bool]]:
        """Disks, sessions, and the LVs device-mapper has active (LV UUID → True)."""
        active = {volume.uuid: True for volume in blockdev.volumes()
                  if volume.kind == "lvm"}
        return blockdev.scan(), read_sessions(self._sysfs), active

    def _session(self, session: SysSession) -> IscsiSession:
        """The session's LUNs: the maps its path devices belong to, or the disks."""
        luns = dict.fromkeys(disk.path_of or disk.wwid for disk in self._disks
                             if disk.iscsi_session == session.sid)
        return IscsiSession(target=session.target, portal=session.portal,
                            luns=tuple(sorted(luns)))

    async def _path_states(self) -> dict[str, dict[str, str]]:
        return await dm.multipath_path_states(self.runner)

    async def _multipathd_running(self) -> bool:
        if not self.runner.has("multipathd"):
            return False
        result = await self.runner.run("multipathd", "show", "daemon", timeout=15)
        return result.ok and "pid" in result.stdout

    @staticmethod
    def _lun(disk: blockdev.Disk, by_name: dict[str, blockdev.Disk],
             states: dict[str, str]) -> Lun:
        paths = tuple((slave, states.get(by_name[slave].dev_t, "unknown")
                       if slave in by_name else "unknown") for slave in disk.slaves)
        return Lun(wwid=disk.wwid, device=disk.node, size=disk.size, vendor=disk.vendor,
                   model=disk.model, serial=disk.serial, transport=disk.transport,
                   multipath=disk.multipath, paths=paths, status=disk.status)

    def enumerate_luns(self) -> list[str]:
        return list(self.store.all(Lun))

    # ---- block device information ----

    async def get_block_info(self, name_or_uuid: str) -> BlockInfo:
        return await _off_loop(self._block_info, name_or_uuid)

    def _block_info(self, ref: str) -> BlockInfo:
        """By object path, WWID (any spelling), kernel name, /dev name (node, kernel
        node or udev link), PV, LV, filesystem or partition UUID. A /dev name is
        looked up in udev's data only: nothing a caller sends reaches the
        filesystem (a path into a dead NFS or FUSE mount would hang a thread)."""
        validation.reference(ref, "name or UUID")     # whoever calls: nothing out of /dev
        if ref.startswith("/org/"):
            parsed = objpath.parse(ref)
            if parsed is None or parsed[0] != "Lun":
                raise InvalidArgument(f"{ref} is not the object path of a LUN")
            ref = parsed[1]
        luns = [d for d in self._disks if d.path_of is None]
        for candidate in wwid_candidates(ref):
            for disk in luns:
                if disk.wwid == candidate:
                    return self._disk_info(disk)
        if ref.startswith("/dev/"):
            return self._dev_info(ref)
        for disk in self._disks:
            if disk.name == ref:
                return self._disk_info(disk)
        for disk in self._disks:
            if ref and disk.fs_uuid == ref:          # a PV's or a filesystem's UUID
                return self._disk_info(disk, uuid=ref)
        for volume in blockdev.volumes():            # partitions and LVs: read now
            if ref in (volume.name, volume.uuid, volume.label):
                return self._volume_info(volume, volume.uuid)
            if volume.fs_uuid == ref:
                return self._volume_info(volume, ref)
        raise NotFound(f"no device, LUN or volume {ref!r}")

    def _dev_info(self, ref: str) -> BlockInfo:
        """A /dev name: a disk's, else a partition's or an LV's (read now)."""
        disk = self._disk_at(ref)
        if disk is not None:
            return self._disk_info(disk)
        for volume in blockdev.volumes():
            # /dev/<vg>/<lv> by udev's DM_VG_NAME/DM_LV_NAME too: LVM makes that
            # link itself where its udev rules are off, and then udev has no link
            if ref in _dev_names(volume) or volume.label and ref == f"/dev/{volume.label}":
                return self._volume_info(volume, volume.uuid)
        raise NotFound(f"no device, LUN or volume {ref!r}")

    def _disk_at(self, ref: str) -> blockdev.Disk | None:
        """The disk a /dev name is (its node, kernel node or a udev link), or None."""
        return next((disk for disk in self._disks if ref in _dev_names(disk)), None)

    def resolve_device(self, ref: str) -> Lun:
        """resolve.Resolver's, with /dev names resolved from udev's data alone."""
        if not ref.startswith("/dev/"):
            return resolve.lun(self.store, ref)
        validation.device_path(ref, "device")
        disk = self._disk_at(ref)
        if disk is not None and disk.path_of is not None:
            owner = next((d.node for d in self._disks
                          if d.wwid == disk.path_of and d.path_of is None), disk.path_of)
            raise InvalidArgument(f"{ref} is a path of multipath map {owner}; use the map")
        lun = self.store.get(Lun, disk.wwid) if disk is not None else None
        if lun is None:
            raise NotFound(f"no LUN at {ref}")
        return lun

    def _disk_info(self, disk: blockdev.Disk, uuid: str = "") -> BlockInfo:
        if disk.path_of is not None:
            used_by = f"multipath:{self._by_wwid(disk.path_of).node}"
        else:
            used_by = _used_by(disk.status, disk.holders)
        return BlockInfo(uuid=uuid or disk.wwid, size=disk.size, path=disk.node,
                         type="multipath" if disk.multipath else "disk", used_by=used_by,
                         name=disk.name)

    @staticmethod
    def _volume_info(volume: blockdev.Volume, uuid: str) -> BlockInfo:
        status = blockdev.status({"ID_FS_TYPE": volume.fs_type}, volume.holders)
        return BlockInfo(uuid=uuid or volume.fs_uuid, size=volume.size, path=volume.node,
                         type=volume.kind, used_by=_used_by(status, volume.holders),
                         name=volume.label or volume.name)

    def _by_wwid(self, wwid: str) -> blockdev.Disk:
        return next(d for d in self._disks if d.wwid == wwid and d.path_of is None)

    # ---- iSCSI ----

    async def _resolve(self, portal: str, caller: int) -> str:
        """`host:port` with the host as the address iscsid and sysfs use; a name is
        looked up for an authorized `caller` (uid) only, never in the default
        executor (iscsi.PortalResolver)."""
        return await self.resolver.resolve(portal, caller)

    def _find_session(self, target: str, portal: str) -> SysSession | None:
        return next((s for s in self._sessions
                     if (s.target, s.portal) == (target, portal)), None)

    async def discover_iscsi_targets(self, portal: str, opts: Options,
                                     uid: int = 0) -> list[tuple[str, str]]:
        return await self.iscsi.discover(await self._resolve(portal, uid), opts)

    async def login_iscsi(self, portal: str, target: str, opts: Options, uid: int) -> str:
        """A session to `target` through `portal` there; on one that exists,
        other CHAP credentials than its record's are `Busy` (iscsiadm would store
        them without the target checking them), the same ones change nothing."""
        portal = await self._resolve(portal, uid)
        key = IscsiSession(target=target, portal=portal).key
        async with self._session_locks.setdefault(key, asyncio.Lock()):
            if self._find_session(target, portal) is not None:
                if not await self.iscsi.chap_matches(portal, target, opts):
                    raise other_chap_on_a_session(target, portal)
                if "node-startup" not in opts:
                    return key
            job = self.jobs.start("iscsi-login", [], uid, cancelable=False)
            return await self.jobs.run(job, self._login(portal, target, opts))

    async def _login(self, portal: str, target: str, opts: Options) -> str:
        timeout = opts.get("timeout", ISCSI_TIMEOUT)
        had_session = self._find_session(target, portal) is not None
        try:
            await self.iscsi.login(portal, target, opts, timeout, had_session=had_session)
        except Exception:
            if not had_session:
                await self._drop_failed_login(target, portal)
            raise
        await self._wait_for_session(target, portal)
        return IscsiSession(target=target, portal=portal).key

    async def _drop_failed_login(self, target: str, portal: str) -> None:
        """The tree read again before the caller hears of a failed login: the
        session of the attempt (which iscsi.login logs out) must not stay in it."""
        await self._settle()
        await self.scan()

    async def _wait_for_session(self, target: str, portal: str) -> None:
        """Until the session is in sysfs and each of its disks that multipath will
        claim is in a map: a login returns with its LUNs exported as maps. udev
        settling is not enough: multipathd makes the map after the path's event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT
        claimed: dict[str, bool] = {}
        while True:
            await self._settle()
            await self.scan()
            session = self._find_session(target, portal)
            if session is not None:
                waiting = []
                for disk in self._disks:
                    if disk.iscsi_session != session.sid or disk.path_of is not None:
                        continue
                    if disk.name not in claimed:
                        claimed[disk.name] = await self._multipath_claims(disk)
                    if claimed[disk.name]:
                        waiting.append(disk.name)
                if not waiting:
                    return
            if loop.time() > deadline:
                log.warning("session to %s through %s: LUNs not settled after %s s",
                            target, portal, SETTLE_TIMEOUT)
                return
            await asyncio.sleep(0.3)

    async def _multipath_claims(self, disk: blockdev.Disk) -> bool:
        """Whether multipathd will make a map of this path (`multipath -c`: the
        check its udev rules make, blacklist and find_multipaths included)."""
        if not self.multipath or not self.runner.has("multipath"):
            return False
        result = await self.runner.run("multipath", "-c", disk.node, timeout=15)
        return result.ok

    async def _settle(self) -> None:
        await udev.settle(self.runner)

    async def logout_iscsi(self, portal: str, target: str, opts: Options,
                           uid: int = 0) -> None:
        """No session to `target` through `portal`. `NotFound` if there was none;
        `Busy` (nothing done) if a LUN the logout would take away is in use."""
        portal = await self._resolve(portal, uid)
        key = IscsiSession(target=target, portal=portal).key
        async with self._session_locks.setdefault(key, asyncio.Lock()):
            await self.scan()
            session = self._find_session(target, portal)
            if session is None:
                raise NotFound(f"no session to {target} through {portal}")
            mounted, partitions = await _off_loop(_mounts_and_partitions, self._sysfs)
            maps = self._maps_left_without_paths(session, mounted, partitions)
            await self.iscsi.flush_maps(maps)
            await self.iscsi.logout(session, opts)
            await self._settle()
            await self.scan()

    def _maps_left_without_paths(self, session: SysSession,
                                 mounted: frozenset[str] = frozenset(),
                                 partitions: Iterable[blockdev.Volume] = ()) -> list[str]:
        """The maps to flush before logging out of `session`: those whose every path
        goes through it. `Busy` if a LUN the logout would take away (such a map, or
        a disk of the session that multipath leaves alone) is in use: an LVM PV (of
        any VG, active or not), held by another device, mounted (`mounted`: kernel
        names), or with a partition that is one of those."""
        by_name = {disk.name: disk for disk in self._disks}
        maps = []
        for disk in self._disks:
            if disk.multipath:
                going = bool(disk.slaves) and all(
                    by_name.get(slave) is not None
                    and by_name[slave].iscsi_session == session.sid for slave in disk.slaves)
            else:
                going = disk.path_of is None and disk.iscsi_session == session.sid
            if not going:
                continue
            if reason := self._in_use(disk, mounted, partitions):
                raise Busy(f"LUN {disk.wwid} behind {session.target} {reason}; logging "
                           f"out of {session.portal} would take it away")
            if disk.multipath:
                maps.append(disk.node.rsplit("/", 1)[1])
        return maps

    def _in_use(self, disk: blockdev.Disk, mounted: frozenset[str],
                partitions: Iterable[blockdev.Volume]) -> str:
        """Why `disk` must not go away, or "". An inactive VG's PV has no holder
        and no mount: its label (udev's, or the LVM engine's link) is what counts."""
        lun = self.store.get(Lun, disk.wwid)
        if disk.status == "pv" or disk.fs_type == "LVM2_member" or \
                (lun is not None and lun.physical_volume):
            return "holds an LVM physical volume"
        if disk.holders:
            return f"is in use (held by {', '.join(disk.holders)})"
        if disk.name in mounted:
            return "is mounted"
        for part in partitions:
            if part.parent != disk.name:
                continue
            if part.fs_type == "LVM2_member":
                return f"has a partition {part.name} that holds an LVM physical volume"
            if part.holders:
                return f"has a partition {part.name} in use (held by {', '.join(part.holders)})"
            if part.name in mounted:
                return f"has a partition {part.name} that is mounted"
        return ""

    async def enumerate_iscsi_luns(self, portal: str, target: str, opts: Options,
                                   uid: int | None) -> list[str]:
        """The LUNs of the session to `target` through `portal`. `uid` None: the
        caller is not authorized, so the portal is matched as written against the
        sessions there are (no name server asked, no login)."""
        literal = literal_portal(portal)
        if literal is not None:
            session = self.store.get(IscsiSession, IscsiSession(target=target,
                                                                portal=literal).key)
            if session is not None:
                return list(session.luns)
        if not opts.get("login", True):
            raise NotFound(f"no session to {target} through {portal}; "
                           "log in first or leave login true")
        if uid is None:
            raise NotFound(f"no session to {target} through {portal} any more")
        portal = await self._resolve(portal, uid)
        key = IscsiSession(target=target, portal=portal).key
        if self.store.get(IscsiSession, key) is None:
            await self.login_iscsi(portal, target, opts, uid)
        session = self.store.get(IscsiSession, key)
        if session is None:
            raise NotFound(f"no session to {target} through {portal}")
        return list(session.luns)

    # ---- rescans ----

    async def rescan(self, opts: Options) -> None:
        """New LUNs on the sessions and FC hosts; grown LUNs' paths, maps and PVs."""
        if self._sessions:
            await self.iscsi.rescan_sessions()
        await _off_loop(_scan_fc_hosts, self._sysfs)
        before = {disk.wwid: disk.size for disk in self._disks if disk.path_of is None}
        paths = [disk.name for disk in self._disks if not disk.multipath]
        await _off_loop(_rescan_devices, self._sysfs, paths)
        await self._settle()
        await self.scan()
        by_name = {disk.name: disk for disk in self._disks}
        for disk in [d for d in self._disks if d.multipath]:
            sizes = {by_name[s].size for s in disk.slaves if s in by_name}
            if sizes and max(sizes) != disk.size:
                result = await self.runner.run("multipathd", "resize", "map",
                                               disk.node.rsplit("/", 1)[1], timeout=60)
                if not result.ok or "fail" in result.stdout:
                    log.warning("multipathd could not resize %s: %s", disk.wwid,
                                result.error_line() if not result.ok else result.stdout)
        await self._settle()
        await self.scan()
        for disk in self._disks:
            grown = self._is_lun(disk) and disk.size > before.get(disk.wwid, disk.size)
            if grown and disk.fs_type == "LVM2_member":
                await self.lvm.resize_pv(disk.node)
        await self.scan()

    # ---- LVM (lvm/engine.py) ----

    def enumerate_volume_groups(self) -> list[str]:
        return self.lvm.enumerate_volume_groups()

    def list_physical_volumes(self, vg: str) -> list[str]:
        return self.lvm.list_physical_volumes(vg)

    def list_logical_volumes(self, vg: str) -> list[str]:
        return self.lvm.list_logical_volumes(vg)

    async def create_volume_group(self, name: str, devices: list[str], opts: Options) -> str:
        return await self.lvm.create_volume_group(name, devices, opts)

    async def remove_volume_group(self, vg: str, opts: Options) -> None:
        await self.lvm.remove_volume_group(vg, opts)

    async def extend_volume_group(self, vg: str, devices: list[str], opts: Options) -> None:
        await self.lvm.extend_volume_group(vg, devices, opts)

    async def remove_physical_volume(self, vg: str, pv: str, opts: Options,
                                     uid: int) -> int | None:
        return await self.lvm.remove_physical_volume(vg, pv, opts, uid)

    async def create_logical_volume(self, vg: str, name: str, size: int,
                                    opts: Options) -> str:
        return await self.lvm.create_logical_volume(vg, name, size, opts)

    async def extend_logical_volume(self, lv: str, size: int, opts: Options) -> None:
        await self.lvm.extend_logical_volume(lv, size, opts)

    async def remove_logical_volume(self, lv: str, opts: Options) -> None:
        await self.lvm.remove_logical_volume(lv, opts)

    async def snapshot_logical_volume(self, lv: str, name: str, size: int,
                                      opts: Options, uid: int) -> str:
        return await self.lvm.snapshot_logical_volume(lv, name, size, opts, uid)

    async def activate_logical_volume(self, lv: str, opts: Options) -> None:
        await self.lvm.activate_logical_volume(lv, opts)

    async def deactivate_logical_volume(self, lv: str, opts: Options) -> None:
        await self.lvm.deactivate_logical_volume(lv, opts)

    def cancel_job(self, job_id: int) -> None:
        self.lvm.cancel_job(job_id)

    # ---- for the LVM engine ----

    def lun_for_device(self, device: str) -> str | None:
        """The WWID of the LUN a device node is (a map or an unpathed disk), or None
        when the device is a path of a map or no LUN at all: LVM must only ever use
        the map of a multipathed LUN, never one of its paths."""
        resolved = os.path.realpath(device)
        name = os.path.basename(resolved)
        disk = next((d for d in self._disks
                     if d.name == name or d.node in (device, resolved)), None)
        return disk.wwid if disk is not None and self._is_lun(disk) else None

    def device_for_wwid(self, wwid: str) -> str:
        """The node to use for LUN `wwid`: its map's when multipathed."""
        for candidate in wwid_candidates(wwid):
            for disk in self._disks:
                if disk.wwid == candidate and self._is_lun(disk):
                    return disk.node
        raise NotFound(f"no LUN {wwid}")


async def _off_loop(function, *args):
    """`function(*args)` in a thread; `Timeout` if sysfs or udev's database hang."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(function, *args), SCAN_TIMEOUT)
    except asyncio.TimeoutError:
        raise Timeout(f"reading the host's devices took over {SCAN_TIMEOUT} s") from None


def _mounts_and_partitions(sysfs: Path) -> tuple[frozenset[str], list[blockdev.Volume]]:
    """The kernel names of the block devices with a filesystem mounted (by the
    device numbers in the mount table), and the partitions udev knows."""
    mounted = set()
    for entry in read_mountinfo():
        device = sysfs / "dev/block" / entry.device
        if re.fullmatch(r"\d+:\d+", entry.device) and device.exists():
            mounted.add(os.path.basename(os.path.realpath(device)))
    partitions = [volume for volume in blockdev.volumes() if volume.kind == "partition"]
    return frozenset(mounted), partitions


def _dev_names(device: blockdev.Disk | blockdev.Volume) -> set[str]:
    """Every /dev name udev gave a device: its node, its kernel node, its links."""
    return {device.node, f"/dev/{device.name}", *device.links}


def _used_by(status: str, holders: list[str]) -> str:
    if status == "other" and holders:
        return "holders:" + ",".join(holders)
    return {"free": "", "partitioned": "partition-table"}.get(status, status)


def _scan_fc_hosts(sysfs: Path) -> None:
    """Ask each Fibre Channel host for new LUNs (`- - -`: every channel, id, LUN)."""
    try:
        hosts = os.listdir(sysfs / "class/fc_host")
    except OSError:
        return
    for host in hosts:
        try:
            (sysfs / "class/scsi_host" / host / "scan").write_text("- - -\n")
        except OSError as error:
            log.warning("cannot rescan %s: %s", host, error)


def _rescan_devices(sysfs: Path, names: list[str]) -> None:
    """Make the SCSI layer read each disk's capacity again."""
    for name in names:
        rescan = sysfs / "block" / name / "device/rescan"
        if rescan.exists():
            try:
                rescan.write_text("1\n")
            except OSError as error:
                log.warning("cannot rescan %s: %s", name, error)


def _initiator_name() -> str:
    try:
        with open(INITIATOR_NAME_FILE) as handle:
            for line in handle:
                if line.startswith("InitiatorName="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""




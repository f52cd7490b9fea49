# SPDX-License-Identifier: LGPL-2.1-or-later
"""The iSCSI domain of the host engine: discovery, login (returning with the LUNs
exported as maps), logout (refused while a LUN it would take away is in use), and
the LUNs of a session. The kernel's sessions come from the LUN index's last scan."""

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import Iterable

from ....errors import Busy, NotFound
from ....models import IscsiSession, Lun
from ....options import DiscoveryOptions, EnumerateIscsiLunsOptions, LoginOptions, Options
from ...intents import Intent, Intents
from ...jobs import Jobs
from ...rules import ISCSI_TIMEOUT
from .. import multipath, udev
from ..luns import blockdev
from ..luns.blockdev import Disk, Volume
from ..luns.luns import Luns
from ..nfs.mountinfo import read_mountinfo
from ..threads import off_loop
from .initiator import Initiator
from .records import ISCSI_DIR, other_chap_on_a_session
from .recovery import recover_logins
from .sessions import PortalResolver, SysSession, literal_portal

log = logging.getLogger(__name__)
SETTLE_TIMEOUT = 30          # how long a login waits for its LUNs' maps


class Iscsi:
    """Sessions made and ended, for HostEngine's iSCSI operations."""

    def __init__(self, luns: Luns, jobs: Jobs, intents: Intents,
                 iscsi_dir: Path = ISCSI_DIR) -> None:
        self.luns = luns
        self.store = luns.store
        self.jobs = jobs
        self.initiator = Initiator(luns.runner, iscsi_dir, intents)
        self.resolver = PortalResolver()    # portal names: never in the default executor
        self._session_locks: dict[str, asyncio.Lock] = {}

    async def recover(self, pending: list[Intent]) -> None:
        """The logins a daemon that died left half-done, finished or undone."""
        await recover_logins(self.initiator, pending, self.luns.sysfs)

    def close(self) -> None:
        self.resolver.close()

    async def _settled_scan(self) -> None:
        await udev.settle(self.luns.runner)
        await self.luns.scan()

    async def discover(self, portal: str, opts: DiscoveryOptions,
                       uid: int = 0) -> list[tuple[str, str]]:
        """The (target, portal) pairs `portal` offers; a name is resolved for an
        authorized `uid` only (PortalResolver)."""
        return await self.initiator.discover(await self.resolver.resolve(portal, uid), opts)

    async def login(self, portal: str, target: str, opts: LoginOptions, uid: int) -> str:
        """A session to `target` through `portal` there; on one that exists,
        other CHAP credentials than its record's are `Busy` (iscsiadm would store
        them without the target checking them), the same ones change nothing."""
        portal = await self.resolver.resolve(portal, uid)
        key = IscsiSession(target=target, portal=portal).key
        async with self._session_locks.setdefault(key, asyncio.Lock()):
            if self.luns.find_session(target, portal) is not None:
                if not await self.initiator.chap_matches(portal, target, opts):
                    raise other_chap_on_a_session(target, portal)
                if opts.node_startup is None:
                    return key
            job = self.jobs.start("iscsi-login", [], uid, cancelable=False)
            return await self.jobs.run(job, self._login(portal, target, opts))

    async def _login(self, portal: str, target: str, opts: LoginOptions) -> str:
        timeout = opts.timeout if opts.timeout is not None else ISCSI_TIMEOUT
        had_session = self.luns.find_session(target, portal) is not None
        try:
            await self.initiator.login(portal, target, opts, timeout,
                                       had_session=had_session)
        except Exception:
            if not had_session:
                # the tree read again before the caller hears of a failed login:
                # the session of the attempt (which login logs out) must not stay
                await self._settled_scan()
            raise
        await self._wait_for_session(target, portal)
        return IscsiSession(target=target, portal=portal).key

    async def _wait_for_session(self, target: str, portal: str) -> None:
        """Until the session is in sysfs and each of its disks that multipath will
        claim is in a map: a login returns with its LUNs exported as maps. udev
        settling is not enough: multipathd makes the map after the path's event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT
        claimed: dict[str, bool] = {}
        while True:
            await self._settled_scan()
            session = self.luns.find_session(target, portal)
            if session is not None and not await self._unmapped(session, claimed):
                return
            if loop.time() > deadline:
                log.warning("session to %s through %s: LUNs not settled after %s s",
                            target, portal, SETTLE_TIMEOUT)
                return
            await asyncio.sleep(0.3)

    async def _unmapped(self, session: SysSession, claimed: dict[str, bool]) -> list[str]:
        """The session's disks multipath will claim that are in no map yet
        (`claimed`: multipath's answer per disk, asked once)."""
        waiting = []
        for disk in self.luns.disks:
            if disk.iscsi_session != session.sid or disk.path_of is not None:
                continue
            if disk.name not in claimed:
                claimed[disk.name] = self.luns.multipath and \
                    await multipath.claims(self.luns.runner, disk.node)
            if claimed[disk.name]:
                waiting.append(disk.name)
        return waiting

    async def logout(self, portal: str, target: str, opts: Options, uid: int = 0) -> None:
        """No session to `target` through `portal`. `NotFound` if there was none;
        `Busy` (nothing done) if a LUN the logout would take away is in use."""
        portal = await self.resolver.resolve(portal, uid)
        key = IscsiSession(target=target, portal=portal).key
        async with self._session_locks.setdefault(key, asyncio.Lock()):
            await self.luns.scan()
            session = self.luns.find_session(target, portal)
            if session is None:
                raise NotFound(f"no session to {target} through {portal}")
            mounted, partitions = await off_loop(_mounts_and_partitions, self.luns.sysfs)
            maps = maps_left_without_paths(self.luns, session, mounted, partitions)
            await multipath.flush_maps(self.luns.runner, maps)
            await self.initiator.logout(session)
            await self._settled_scan()

    async def enumerate_luns(self, portal: str, target: str,
                             opts: EnumerateIscsiLunsOptions, uid: int | None) -> list[str]:
        """The LUNs of the session to `target` through `portal`. `uid` None: the
        caller is not authorized, so the portal is matched as written against the
        sessions there are (no name server asked, no login)."""
        literal = literal_portal(portal)
        if literal is not None:
            session = self.store.get(IscsiSession, IscsiSession(target=target,
                                                                portal=literal).key)
            if session is not None:
                return list(session.luns)
        if not opts.login:
            raise NotFound(f"no session to {target} through {portal}; "
                           "log in first or leave login true")
        if uid is None:
            raise NotFound(f"no session to {target} through {portal} any more")
        portal = await self.resolver.resolve(portal, uid)
        key = IscsiSession(target=target, portal=portal).key
        if self.store.get(IscsiSession, key) is None:
            await self.login(portal, target, opts, uid)
        session = self.store.get(IscsiSession, key)
        if session is None:
            raise NotFound(f"no session to {target} through {portal}")
        return list(session.luns)


def maps_left_without_paths(luns: Luns, session: SysSession,
                            mounted: frozenset[str] = frozenset(),
                            partitions: Iterable[Volume] = ()) -> list[str]:
    """The maps to flush before logging out of `session`: those whose every path
    goes through it. `Busy` if a LUN the logout would take away (such a map, or
    a disk of the session that multipath leaves alone) is in use: an LVM PV (of
    any VG, active or not), held by another device, mounted (`mounted`: kernel
    names), or with a partition that is one of those."""
    by_name = {disk.name: disk for disk in luns.disks}
    maps = []
    for disk in luns.disks:
        if disk.multipath:
            going = bool(disk.slaves) and all(
                by_name.get(slave) is not None
                and by_name[slave].iscsi_session == session.sid for slave in disk.slaves)
        else:
            going = disk.path_of is None and disk.iscsi_session == session.sid
        if not going:
            continue
        if reason := _in_use(luns, disk, mounted, partitions):
            raise Busy(f"LUN {disk.wwid} behind {session.target} {reason}; logging "
                       f"out of {session.portal} would take it away")
        if disk.multipath:
            maps.append(disk.node.rsplit("/", 1)[1])
    return maps


def _in_use(luns: Luns, disk: Disk, mounted: frozenset[str],
            partitions: Iterable[Volume]) -> str:
    """Why `disk` must not go away, or "". An inactive VG's PV has no holder
    and no mount: its label (udev's, or the LVM domain's link) is what counts."""
    lun = luns.store.get(Lun, disk.wwid)
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


def _mounts_and_partitions(sysfs: Path) -> tuple[frozenset[str], list[Volume]]:
    """The kernel names of the block devices with a filesystem mounted (by the
    device numbers in the mount table), and the partitions udev knows."""
    mounted = set()
    for entry in read_mountinfo():
        device = sysfs / "dev/block" / entry.device
        if re.fullmatch(r"\d+:\d+", entry.device) and device.exists():
            mounted.add(os.path.basename(os.path.realpath(device)))
    partitions = [volume for volume in blockdev.volumes() if volume.kind == "partition"]
    return frozenset(mounted), partitions

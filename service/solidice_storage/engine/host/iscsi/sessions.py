# SPDX-License-Identifier: LGPL-2.1-or-later
"""The iSCSI sessions the kernel has (read from sysfs), portals as sysfs writes them,
and portal names resolved in a pool of threads of their own.

Sessions: /sys/class/iscsi_session/sessionN/{targetname,state} and
/sys/class/iscsi_connection/connectionN:0/persistent_{address,port}.
"""

import asyncio
import collections
import concurrent.futures
import contextlib
import ipaddress
import os
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ....errors import Busy, NotFound, Timeout
from ....models import IscsiSession
from ..luns.blockdev import Disk

SYSFS = Path("/sys")
RESOLVE_TIMEOUT = 10
RESOLVE_WORKERS = 2               # threads for portal names (PortalResolver)
RESOLVE_PER_CALLER = 2            # unfinished lookups a caller (uid) may have
RESOLVE_QUEUE = 16                # unfinished lookups in all


@dataclass(frozen=True)
class SysSession:
    sid: int
    target: str
    portal: str            # address:port, [address]:port for IPv6
    state: str             # LOGGED_IN, FAILED, FREE


def format_portal(address: str, port: int | str) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def split_portal(portal: str) -> tuple[str, int]:
    address, _, port = portal.rpartition(":")
    return address.strip("[]"), int(port)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def read_sessions(sysfs: Path = SYSFS) -> list[SysSession]:
    """Every iSCSI session the kernel has, from sysfs."""
    sessions = []
    base = sysfs / "class/iscsi_session"
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    for name in names:
        match = re.fullmatch(r"session(\d+)", name)
        if not match:
            continue
        sid = int(match[1])
        connection = sysfs / f"class/iscsi_connection/connection{sid}:0"
        address = (_read(connection / "persistent_address")
                   or _read(connection / "address"))
        port = _read(connection / "persistent_port") or _read(connection / "port")
        target = _read(base / name / "targetname")
        if target and address and port:
            sessions.append(SysSession(sid, target, format_portal(address, port),
                                       _read(base / name / "state")))
    return sessions


def literal_portal(portal: str) -> str | None:
    """`portal` as sysfs writes it when its host is an IP address (no name server
    asked); None when the host is a name."""
    address, port = split_portal(portal)
    try:
        return format_portal(str(ipaddress.ip_address(address)), port)
    except ValueError:
        return None


class PortalResolver:
    """Portal names to addresses, in a small pool of threads of its own.

    getaddrinfo cannot be cancelled: a name server that never answers keeps its
    thread until the resolver library gives up, whatever the caller's timeout. So
    no lookup runs in the default executor (intent writes, scans and LVM work wait
    there), and lookups are capped: RESOLVE_PER_CALLER unfinished ones per caller
    (counted until their thread is free again, not until the caller stops
    waiting), RESOLVE_QUEUE in all; past that, `Busy`. Only authorized calls
    resolve a name."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(RESOLVE_WORKERS, thread_name_prefix="portal-resolver")
        self._unfinished: collections.Counter[int] = collections.Counter()

    async def resolve(self, portal: str, caller: int) -> str:
        """`host:port` with the host as the address iscsid and sysfs use."""
        if (literal := literal_portal(portal)) is not None:
            return literal
        address, port = split_portal(portal)
        if self._unfinished[caller] >= RESOLVE_PER_CALLER \
                or sum(self._unfinished.values()) >= RESOLVE_QUEUE:
            raise Busy(f"too many portal names being resolved (a name server not "
                       f"answering?); cannot resolve {address} now, try again later")
        lookup = self._start(caller, address, port)
        try:
            infos = await asyncio.wait_for(asyncio.wrap_future(lookup), RESOLVE_TIMEOUT)
        except asyncio.TimeoutError:
            raise Timeout(f"cannot resolve {address} within {RESOLVE_TIMEOUT} s") from None
        except OSError as error:
            raise NotFound(f"cannot resolve portal {address}: {error.strerror or error}") \
                from None
        return format_portal(infos[0][4][0], port)

    def _start(self, caller: int, address: str, port: int) -> concurrent.futures.Future:
        """A lookup in the pool, counted against `caller` until its thread is done
        (or it is dropped from the queue)."""
        loop = asyncio.get_running_loop()
        self._unfinished[caller] += 1

        def finished(_: concurrent.futures.Future) -> None:
            with contextlib.suppress(RuntimeError):        # the loop closed meanwhile
                loop.call_soon_threadsafe(self._release, caller)
        lookup = self._pool.submit(lambda: socket.getaddrinfo(address, port,
                                                              type=socket.SOCK_STREAM))
        lookup.add_done_callback(finished)
        return lookup

    def _release(self, caller: int) -> None:
        self._unfinished[caller] -= 1
        if self._unfinished[caller] <= 0:
            del self._unfinished[caller]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def session_model(session: SysSession, disks: list[Disk]) -> IscsiSession:
    """The session's object: its LUNs are the maps its path devices belong to, or
    the disks."""
    luns = dict.fromkeys(disk.path_of or disk.wwid for disk in disks
                         if disk.iscsi_session == session.sid)
    return IscsiSession(target=session.target, portal=session.portal,
                        luns=tuple(sorted(luns)))

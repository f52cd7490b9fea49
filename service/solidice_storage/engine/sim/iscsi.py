# SPDX-License-Identifier: LGPL-2.1-or-later
"""iSCSI on the simulated host: discovery, sessions and their node records.

Every portal of `seed.PORTALS` answers; `seed.UNREACHABLE` never does (so clients
can test their timeouts); any other refuses the connection.
"""

import asyncio

from ...errors import Busy, Failed, NotFound, Timeout
from ...models import IscsiSession, Lun
from ...options import DiscoveryOptions, EnumerateIscsiLunsOptions, LoginOptions, Options
from ..jobs import Jobs
from ..rules import DISCOVERY_TIMEOUT, ISCSI_TIMEOUT
from . import seed
from .luns import SimLuns


class SimIscsi:
    """Sessions to the targets of `luns`' array; their LUNs published through `luns`."""

    def __init__(self, jobs: Jobs, luns: SimLuns, step: float = seed.STEP) -> None:
        self.store, self.jobs, self.luns, self.step = luns.store, jobs, luns, step
        self.sessions: set[tuple[str, str]] = set()   # (target, portal)
        self.node_startup: dict[tuple[str, str], str] = {}
        # the node records' CHAP credentials, as a login stored them
        self.node_chap: dict[tuple[str, str], tuple[str, str]] = {}

    def targets_logged_in(self) -> list[str]:
        return sorted({t for t, _ in self.sessions})

    def set_session(self, target: str, portal: str, present: bool) -> None:
        """Add or drop a session and republish the LUNs behind its target."""
        (self.sessions.add if present else self.sessions.discard)((target, portal))
        self.publish_target(target)
        if not present:
            session = IscsiSession(target=target, portal=portal)
            self.store.publish(removals=[("IscsiSession", session.key)])

    def publish_target(self, target: str) -> None:
        """The LUNs behind `target` and its sessions, as the host has found them."""
        portals = {p for t, p in self.sessions if t == target}
        wwids = self.luns.publish_target(target, portals)
        self.store.publish([IscsiSession(target=target, portal=p, luns=wwids)
                            for t, p in sorted(self.sessions) if t == target])

    async def _reach(self, portal: str, timeout: float) -> None:
        host = portal.rsplit(":", 1)[0]
        if host == seed.UNREACHABLE:
            await asyncio.sleep(timeout)
            raise Timeout(f"portal {portal} did not answer within {timeout:g} s")
        if portal not in seed.PORTALS:
            raise Failed(f"cannot connect to portal {portal}: connection refused")

    async def discover_iscsi_targets(self, portal: str, opts: DiscoveryOptions,
                                     uid: int = 0) -> list[tuple[str, str]]:
        await self._reach(portal, DISCOVERY_TIMEOUT if opts.timeout is None
                          else opts.timeout)
        return [(name, p) for name, target in self.luns.targets.items()
                if portal in target.portals for p in target.portals]

    async def login_iscsi(self, portal: str, target: str, opts: LoginOptions,
                          uid: int) -> str:
        if (target, portal) in self.sessions:
            given = opts.chap
            if given is not None and given != self.node_chap.get((target, portal)):
                raise Busy(f"a session to {target} through {portal} is logged in "
                           "already, with other CHAP credentials; log out first to "
                           "change them")
            if opts.node_startup is None:
                return IscsiSession(target=target, portal=portal).key
        job = self.jobs.start("iscsi-login", [], uid, cancelable=False)
        return await self.jobs.run(job, self._login(portal, target, opts))

    async def _login(self, portal: str, target: str, opts: LoginOptions) -> str:
        await self._reach(portal, ISCSI_TIMEOUT if opts.timeout is None else opts.timeout)
        sim_target = self.luns.targets.get(target)
        if sim_target is None or portal not in sim_target.portals:
            raise NotFound(f"portal {portal} offers no target {target}")
        chap = opts.chap or self.node_chap.get((target, portal))    # else the record's
        if sim_target.chap and chap != sim_target.chap:
            raise Failed(f"login to {target} through {portal} failed: authorization "
                         "failure; check the CHAP username and password")
        if opts.node_startup is not None:
            self.node_startup[(target, portal)] = opts.node_startup
        if chap is not None:
            self.node_chap[(target, portal)] = chap
        if (target, portal) not in self.sessions:
            await asyncio.sleep(self.step)
            self.set_session(target, portal, True)
        return IscsiSession(target=target, portal=portal).key

    async def logout_iscsi(self, portal: str, target: str, opts: Options,
                           uid: int = 0) -> None:
        if (target, portal) not in self.sessions:
            raise NotFound(f"no session to {target} through {portal}")
        others = {p for t, p in self.sessions if t == target and p != portal}
        for sim_lun in self.luns.targets[target].luns:
            lun = self.store.get(Lun, sim_lun.wwid)
            if lun and lun.status == "pv" and not others & set(sim_lun.path_devices):
                raise Busy(f"LUN {lun.wwid} behind {target} holds a physical volume; "
                           "remove it from its volume group first")
        self.set_session(target, portal, False)

    async def enumerate_iscsi_luns(self, portal: str, target: str,
                                   opts: EnumerateIscsiLunsOptions,
                                   uid: int | None) -> list[str]:
        if (target, portal) not in self.sessions:
            if not opts.login:
                raise NotFound(f"no session to {target} through {portal}; "
                               "log in first or leave login true")
            if uid is None:                   # not authorized: no login
                raise NotFound(f"no session to {target} through {portal} any more")
            await self.login_iscsi(portal, target, opts, uid)
        return self.luns.wwids(target)

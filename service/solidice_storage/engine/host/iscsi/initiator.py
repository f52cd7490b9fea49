# SPDX-License-Identifier: LGPL-2.1-or-later
"""iSCSI discovery, login and logout on the real host, through open-iscsi, driven
safely: records edited under one lock, secrets only in the record files.

A login to a portal that never answers must not leave iscsid retrying it after the
caller got `Timeout`: killing iscsiadm does not stop iscsid (seen in the lab). So
before each login the node record gets retry bounds that make iscsid itself give up
within the caller's `timeout`, and the record's previous values are put back after.

- discovery: `-m discovery -t st -p ADDR:PORT -o nonpersistent` (a query: no
  records written); with discovery CHAP, `-m discoverydb -t st -p ADDR:PORT -o new`
  (unless the portal has a record already), the credentials into
  `send_targets/ADDR,PORT/st_config`, then `--discover -o nonpersistent`, and the
  record removed again (or given back its own values): no secret stays behind;
- login: `-m node -T TARGET -p ADDR:PORT -o new` when no record exists, the record
  edited, then `-m node -T TARGET -p ADDR:PORT --login`; each step noted in an
  intent record (intents.py), so that after a crash the next start finishes the
  login (a session is there) or undoes it (recovery.py). iscsiadm answers a login
  to a session that exists with "already present" (exit 15) without asking the
  target anything, so CHAP credentials other than the record's are refused then
  (`Busy`), and a failed login puts the record's own settings back;
- logout: `-m session -r SID --logout` (the engine flushes the maps first).
"""

import asyncio
from pathlib import Path

from ....errors import Failed, NotFound, Timeout
from ....options import DiscoveryOptions, LoginOptions
from ...intents import Intent, Intents
from ...rules import DISCOVERY_TIMEOUT
from ..runner import Result, Runner
from . import iscsiadm
from .iscsiadm import ERR_NO_OBJS_FOUND, ERR_SESS_EXISTS, LOGOUT_TIMEOUT, error_for
from .records import (DISCOVERY_AUTH, ISCSI_DIR, NODE_AUTH, chap_changed, chap_values,
                      login_bounds, node_records, other_chap_on_a_session,
                      put_discovery_record_back, put_records_back, records_hold, set_record)
from .recovery import LOGIN_KIND
from .sessions import SysSession, split_portal

GRACE = 10                        # beyond iscsid's own bound, before we kill iscsiadm
Before = dict[Path, dict[str, str | None]]     # each record's settings before a login


class Initiator:
    """iscsiadm and its records. Reads nothing from memory: the engine does that."""

    def __init__(self, runner: Runner, iscsi_dir: Path = ISCSI_DIR,
                 intents: Intents | None = None) -> None:
        self.runner = runner
        self.iscsi_dir = iscsi_dir
        self.intents = intents or Intents()
        self.db = asyncio.Lock()           # iscsiadm's database: one writer at a time
        self._discovery_locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def _secrets(opts: DiscoveryOptions) -> tuple[str, ...]:
        """What to blank out of iscsiadm's answers: the secret, never the user name
        (it is no secret, and a short one would blank parts of words)."""
        return (opts.password,)

    async def discover(self, portal: str, opts: DiscoveryOptions) -> list[tuple[str, str]]:
        """The (target, portal) pairs `portal` offers. Discovery writes no record;
        with CHAP, the credentials live in a discovery record only for the duration
        of the call: a record made for it is removed after, an administrator's
        record gets its own values back."""
        timeout = opts.timeout if opts.timeout is not None else DISCOVERY_TIMEOUT
        chap = chap_values(opts, DISCOVERY_AUTH)
        if not chap:
            return await self._discover(portal, timeout, opts, with_record=False)
        # one CHAP discovery per portal at a time: they share the record
        async with self._discovery_locks.setdefault(portal, asyncio.Lock()):
            config, before = await self._discovery_record(portal, chap)
            try:
                return await self._discover(portal, timeout, opts, with_record=True)
            finally:
                async with self.db:
                    await asyncio.to_thread(put_discovery_record_back, config, before)

    async def _discovery_record(self, portal: str, chap: dict[str, str]
                                ) -> tuple[Path, dict[str, str | None] | None]:
        """The portal's discovery record with `chap` in it; returns its path and
        what to put back (None: the record is new, remove it)."""
        address, port = split_portal(portal)
        config = self.iscsi_dir / "send_targets" / f"{address},{port}" / "st_config"
        async with self.db:
            existed = await asyncio.to_thread(config.is_file)
            if not existed:
                result = await iscsiadm.new_discovery_record(self.runner, portal)
                if not result.ok:
                    raise error_for(result, f"set up discovery on {portal}")
            try:
                before = await asyncio.to_thread(set_record, config, chap)
            except OSError:
                await asyncio.to_thread(put_discovery_record_back, config,
                                        None if not existed else {})
                raise Failed(f"cannot write the discovery record for {portal}") from None
        return config, ({key: before.get(key) for key in chap} if existed else None)

    async def _discover(self, portal: str, timeout: int, opts: DiscoveryOptions,
                        with_record: bool) -> list[tuple[str, str]]:
        try:
            result = await iscsiadm.discover(self.runner, portal, timeout,
                                             self._secrets(opts), with_record)
        except Timeout:
            raise Timeout(f"portal {portal} did not answer discovery within "
                          f"{timeout} s") from None
        if not result.ok:
            raise error_for(result, f"discover targets on {portal}")
        return list(dict.fromkeys(iscsiadm.parse_nodes(result.stdout)))

    async def chap_matches(self, portal: str, target: str, opts: DiscoveryOptions) -> bool:
        """Whether the node records of `target` through `portal` hold the CHAP
        credentials of `opts` already (True when `opts` has none)."""
        chap = chap_values(opts, NODE_AUTH)
        if not chap:
            return True
        async with self.db:
            return await asyncio.to_thread(records_hold, target, portal, chap,
                                           self.iscsi_dir)

    async def login(self, portal: str, target: str, opts: LoginOptions, timeout: int,
                    had_session: bool = False) -> None:
        """Log in to `target` through `portal`; a session that already exists is
        success, unless `opts` bring other CHAP credentials than its record's:
        those were not checked by the target, so `Busy` (log out first). On
        failure, a record this call created is deleted again; a record that was
        there gets back the settings it had (CHAP, startup: kept in memory only,
        never in the intent record) and its login bounds. An intent record
        (`iscsi-login`, no secret in it) lets a restart do the same after a crash.
        `had_session`: the engine saw a session; a failed attempt never logs out."""
        chap = chap_values(opts, NODE_AUTH)
        settings = {**chap, **_startup(opts), **login_bounds(timeout)}
        async with self.db:
            records = await asyncio.to_thread(node_records, target, portal, self.iscsi_dir)
            intent = await self.intents.begin(LOGIN_KIND, target=target, portal=portal,
                                              created=not records)
        result, outcome = None, "failed"
        before: Before = {}                                 # secrets: memory only
        try:
            await self._prepare(intent, settings, before)
            result = await self._attempt(target, portal, timeout, opts)
            outcome = _outcome(result, chap_changed(before, chap))
            if outcome == "logged-in":
                await self.intents.step(intent, "logged-in")
            elif outcome == "failed" and not had_session:
                # a failed login can leave iscsid's session for the attempt behind
                # (a target gone mid-login): stop it, as recovery does
                await iscsiadm.logout_node(self.runner, target, portal)
        finally:
            await self._finish(intent, before, outcome == "logged-in")
        _raise_for(outcome, result, target, portal, timeout)

    async def _attempt(self, target: str, portal: str, timeout: int,
                       opts: LoginOptions) -> Result | None:
        """iscsiadm's login; None when it outlived the bound given to iscsid."""
        try:
            return await iscsiadm.login(self.runner, target, portal, timeout + GRACE,
                                        self._secrets(opts))
        except Timeout:
            return None              # iscsid was bounded to `timeout`; belt and braces

    async def _prepare(self, intent: Intent, values: dict[str, str], before: Before) -> None:
        """The node record, made if missing, with the login's settings (CHAP, bounds).
        `before` gets each existing record's previous settings other than the
        bounds (None: the line was not there), as each record is written."""
        target, portal = intent.data["target"], intent.data["portal"]
        async with self.db:
            if intent.data["created"]:
                result = await iscsiadm.new_node_record(self.runner, target, portal)
                if not result.ok:
                    raise error_for(result, f"add a record for {target}")
                await self.intents.step(intent, "record-created")
            records = await asyncio.to_thread(node_records, target, portal, self.iscsi_dir)
            if not records:
                raise Failed(f"iscsiadm wrote no record for {target} through {portal}")
            bounds = {}
            for record in records:
                previous = await asyncio.to_thread(set_record, record, values)
                before[record] = {key: previous.get(key) for key in values
                                  if key not in login_bounds(1)}
                # only the bounds are put back from the intent record: never a secret
                bounds[str(record)] = {key: previous[key] for key in login_bounds(1)
                                       if key in previous}
            await self.intents.step(intent, "settings-written", bounds=bounds)

    async def _finish(self, intent: Intent, before: Before, logged_in: bool) -> None:
        """The records as a login that ended so leaves them; the intent ended."""
        async with self.db:
            if not logged_in:
                await asyncio.to_thread(put_records_back, before)
            await self.settle_records(intent.data, logged_in=logged_in)
        await self.intents.end(intent)

    async def settle_records(self, data: dict, logged_in: bool) -> str:
        """After a login (or a crash in one): a record the login created goes if
        there is no session (its CHAP secret with it); any other keeps its
        settings, with its login bounds as they were. The caller holds `db`."""
        target, portal = data["target"], data["portal"]
        if data.get("created") and not logged_in:
            await iscsiadm.delete_node_record(self.runner, target, portal)
            return "deleted the node record it had created"
        restored = []
        for path, before in data.get("bounds", {}).items():
            record = Path(path)
            if before and record in await asyncio.to_thread(
                    node_records, target, portal, self.iscsi_dir):
                await asyncio.to_thread(set_record, record, before)
                restored.append(path)
        return ("put the login bounds back in " + ", ".join(restored)) if restored \
            else "no record to put back"

    async def logout(self, session: SysSession) -> None:
        """No `session`; `NotFound` if it had ended already."""
        result = await iscsiadm.logout_session(self.runner, session.sid, LOGOUT_TIMEOUT)
        if result.returncode == ERR_NO_OBJS_FOUND:
            raise NotFound(f"no session to {session.target} through {session.portal}")
        if not result.ok:
            raise error_for(result, f"log out of {session.target} through {session.portal}")


def _startup(opts: LoginOptions) -> dict[str, str]:
    """The record's startup lines, when the caller chose one."""
    if opts.node_startup is None:
        return {}
    return {"node.startup": opts.node_startup, "node.conn[0].startup": opts.node_startup}


def _outcome(result: Result | None, chap_was_changed: bool) -> str:
    """logged-in, busy (a session was there, with other credentials) or failed."""
    code = None if result is None else result.returncode
    if code == ERR_SESS_EXISTS and chap_was_changed:
        return "busy"
    return "logged-in" if code in (0, ERR_SESS_EXISTS) else "failed"


def _raise_for(outcome: str, result: Result | None, target: str, portal: str,
               timeout: int) -> None:
    """The caller's error for a login that did not succeed."""
    if outcome == "busy":
        raise other_chap_on_a_session(target, portal)
    if result is None:
        raise Timeout(f"login to {target} through {portal} did not finish within "
                      f"{timeout} s")
    if result.returncode == ERR_SESS_EXISTS:
        return
    if not result.ok:
        raise error_for(result, f"log in to {target} through {portal}")

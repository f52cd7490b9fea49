"""iSCSI on the real host, through open-iscsi: iscsiadm for discovery, login and
logout, sysfs for the sessions there are.

Secrets never reach a command line (/proc/*/cmdline is world-readable): CHAP
credentials are written into iscsiadm's own record files (root-only, mode 0600, as
`iscsiadm -o update` would leave them), atomically, and iscsiadm reads them from
there. Every change to that database is serialized by one lock.

A login to a portal that never answers must not leave iscsid retrying it after the
caller got `Timeout`: killing iscsiadm does not stop iscsid (seen in the lab). So
before each login the node record gets retry bounds that make iscsid itself give up
within the caller's `timeout`, and the record's previous values are put back after.

Commands:
- discovery: `iscsiadm -m discovery -t st -p ADDR:PORT -o nonpersistent` (a query:
  no records written); with discovery CHAP, `-m discoverydb -t st -p ADDR:PORT -o new`
  (unless the portal has a record already), the credentials into
  `send_targets/ADDR,PORT/st_config`, then `--discover -o nonpersistent`, and the
  record removed again (or given back its own values): no secret stays behind;
- login: `-m node -T TARGET -p ADDR:PORT -o new` when no record exists, the record
  edited, then `-m node -T TARGET -p ADDR:PORT --login`; each step noted in an
  intent record (intents.py), so that after a crash the next start finishes the
  login (a session is there) or undoes it (`recover`). iscsiadm answers a login
  to a session that exists with "already present" (exit 15) without asking the
  target anything, so CHAP credentials other than the record's are refused then
  (`Busy`), and a failed login puts the record's own settings back;
- logout: `-m session -r SID --logout`, after flushing the multipath maps whose every
  path goes through that session (`multipath -f MAP`), so no pathless map is left
  queueing I/O forever;
- sessions: /sys/class/iscsi_session/sessionN/{targetname,state} and
  /sys/class/iscsi_connection/connectionN:0/persistent_{address,port}.
"""

import asyncio
import collections
import concurrent.futures
import contextlib
import ipaddress
import logging
import os
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import validation
from ..errors import Busy, Failed, NotFound, Timeout
from ..validation import Options
from . import iscsi_parse
from .intents import Intent, Intents
from .host.runner import Result, Runner
from .rules import DISCOVERY_TIMEOUT

log = logging.getLogger(__name__)
ISCSI_DIR = Path("/etc/iscsi")
SYSFS = Path("/sys")
LOGOUT_TIMEOUT = 60
LOGIN_KIND = "iscsi-login"       # its intent record (intents.py)
ISCSI_KINDS = frozenset({LOGIN_KIND})
GRACE = 10                        # beyond iscsid's own bound, before we kill iscsiadm
# iscsid's defaults (iscsid.conf): 8 tries of 15 s each
LOGIN_TRIES_KEY = "node.session.initial_login_retry_max"
LOGIN_TIMEOUT_KEY = "node.conn[0].timeo.login_timeout"
RESOLVE_TIMEOUT = 10
RESOLVE_WORKERS = 2               # threads for portal names (PortalResolver)
RESOLVE_PER_CALLER = 2            # unfinished lookups a caller (uid) may have
RESOLVE_QUEUE = 16                # unfinished lookups in all
NODE_AUTH = "node.session.auth"                   # the CHAP keys' prefixes
DISCOVERY_AUTH = "discovery.sendtargets.auth"


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


# ---- iscsiadm's record files ----

def node_records(target: str, portal: str, iscsi_dir: Path = ISCSI_DIR) -> list[Path]:
    """The record files for `target` through `portal` on the default interface: the
    `ADDR,PORT,TPGT/default` that discovery writes and the flat `ADDR,PORT` file that
    `-o new` writes."""
    address, port = split_portal(portal)
    base = iscsi_dir / "nodes" / target
    found = []
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return []
    for entry in entries:
        if entry.split(",")[:2] != [address, str(port)]:
            continue
        path = base / entry
        if path.is_dir() and (path / "default").is_file():
            found.append(path / "default")
        elif path.is_file():
            found.append(path)
    return found


def read_record(path: Path) -> dict[str, str]:
    """The `key = value` lines of an iscsiadm record file (the first of a key)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values.setdefault(key, value)
    return values


def set_record(path: Path, values: dict[str, str | None]) -> dict[str, str]:
    """Set `key = value` lines in an iscsiadm record file, atomically (a value of
    None: no such line); returns the previous values of the keys that were there.
    Values are checked elsewhere (no control characters), so a value cannot add a
    line."""
    lines = path.read_text().splitlines()
    previous: dict[str, str] = {}
    out = []
    for line in lines:
        key, sep, value = line.partition(" = ")
        if sep and key in values:
            if key not in previous:
                previous[key] = value
                if values[key] is not None:
                    out.append(f"{key} = {values[key]}")
            continue                                   # a duplicate: dropped
        out.append(line)
    missing = [f"{key} = {value}" for key, value in values.items()
               if key not in previous and value is not None]
    end = next((i for i, line in enumerate(out) if line.startswith("# END RECORD")),
               len(out))
    out[end:end] = missing
    temporary = path.with_name(f".{path.name}.solidice-new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                         0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(out) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return previous


def login_bounds(timeout: int) -> dict[str, str]:
    """Record values that make iscsid give up a login within `timeout` seconds."""
    per_try = max(1, min(15, timeout // 2))
    return {LOGIN_TIMEOUT_KEY: str(per_try), LOGIN_TRIES_KEY: str(max(1, timeout // per_try))}


def chap_values(opts: Options, prefix: str) -> dict[str, str]:
    if "username" not in opts and "password" not in opts:
        return {}
    return {f"{prefix}.authmethod": "CHAP", f"{prefix}.username": opts.get("username", ""),
            f"{prefix}.password": opts.get("password", "")}


def other_chap_on_a_session(target: str, portal: str) -> Busy:
    return Busy(f"a session to {target} through {portal} is logged in already, with "
                "other CHAP credentials; log out first to change them")


def _records_hold(target: str, portal: str, values: dict[str, str],
                  iscsi_dir: Path) -> bool:
    """Whether every node record of `target` through `portal` has `values`."""
    records = node_records(target, portal, iscsi_dir)
    return bool(records) and all(
        all(read_record(record).get(key) == value for key, value in values.items())
        for record in records)


def _chap_changed(before: dict[Path, dict[str, str | None]], chap: dict[str, str]) -> bool:
    """Whether writing `chap` changed a record's CHAP credentials."""
    return any(previous.get(key) != value
               for previous in before.values() for key, value in chap.items())


def _put_records_back(before: dict[Path, dict[str, str | None]]) -> None:
    """Each record's settings as they were, for the records still there."""
    for record, values in before.items():
        if values and record.is_file():
            set_record(record, values)


def _put_discovery_record_back(config: Path, before: dict[str, str | None] | None) -> None:
    """A discovery record made for one call removed; an existing one's values back."""
    try:
        if before is None:
            config.unlink(missing_ok=True)
            with contextlib.suppress(OSError):      # not empty: not only ours
                config.parent.rmdir()
        elif before and config.is_file():
            set_record(config, before)
    except OSError as error:
        log.warning("cannot put the discovery record %s back: %s", config, error)


class Iscsi:
    """iscsiadm, driven safely. Reads nothing from memory: the engine does that."""

    def __init__(self, runner: Runner, iscsi_dir: Path = ISCSI_DIR,
                 intents: Intents | None = None) -> None:
        self.runner = runner
        self.iscsi_dir = iscsi_dir
        self.intents = intents or Intents()
        self._db = asyncio.Lock()          # iscsiadm's database: one writer at a time
        self._discovery_locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def _secrets(opts: Options) -> tuple[str, ...]:
        """What to blank out of iscsiadm's answers: the secret, never the user name
        (it is no secret, and a short one would blank parts of words)."""
        return (opts.get("password", ""),)

    async def discover(self, portal: str, opts: Options) -> list[tuple[str, str]]:
        """The (target, portal) pairs `portal` offers. Discovery writes no record;
        with CHAP, the credentials live in a discovery record only for the duration
        of the call: a record made for it is removed after, an administrator's
        record gets its own values back."""
        timeout = opts.get("timeout", DISCOVERY_TIMEOUT)
        chap = chap_values(opts, DISCOVERY_AUTH)
        if not chap:
            return await self._discover(portal, ("-m", "discovery", "-t", "st", "-p", portal,
                                                 "-o", "nonpersistent"), timeout, opts)
        # one CHAP discovery per portal at a time: they share the record
        async with self._discovery_locks.setdefault(portal, asyncio.Lock()):
            config, before = await self._discovery_record(portal, chap)
            try:
                return await self._discover(portal, (
                    "-m", "discoverydb", "-t", "st", "-p", portal, "--discover",
                    "-o", "nonpersistent"), timeout, opts)
            finally:
                async with self._db:
                    await asyncio.to_thread(_put_discovery_record_back, config, before)

    async def _discovery_record(self, portal: str, chap: dict[str, str]
                                ) -> tuple[Path, dict[str, str | None] | None]:
        """The portal's discovery record with `chap` in it; returns its path and
        what to put back (None: the record is new, remove it)."""
        address, port = split_portal(portal)
        config = self.iscsi_dir / "send_targets" / f"{address},{port}" / "st_config"
        async with self._db:
            existed = await asyncio.to_thread(config.is_file)
            if not existed:
                result = await self.runner.run(
                    "iscsiadm", "-m", "discoverydb", "-t", "st", "-p", portal, "-o", "new",
                    timeout=30)
                if not result.ok:
                    raise iscsi_parse.error_for(result, f"set up discovery on {portal}")
            try:
                before = await asyncio.to_thread(set_record, config, chap)
            except OSError:
                await asyncio.to_thread(_put_discovery_record_back, config,
                                        None if not existed else {})
                raise Failed(f"cannot write the discovery record for {portal}") from None
        return config, ({key: before.get(key) for key in chap} if existed else None)

    async def _discover(self, portal: str, command: tuple[str, ...], timeout: int,
                        opts: Options) -> list[tuple[str, str]]:
        try:
            result = await self.runner.run("iscsiadm", *command, timeout=timeout,
                                           secrets=self._secrets(opts))
        except Timeout:
            raise Timeout(f"portal {portal} did not answer discovery within "
                          f"{timeout} s") from None
        if not result.ok:
            raise iscsi_parse.error_for(result, f"discover targets on {portal}")
        found = iscsi_parse.parse_nodes(result.stdout)
        return list(dict.fromkeys(found))

    async def chap_matches(self, portal: str, target: str, opts: Options) -> bool:
        """Whether the node records of `target` through `portal` hold the CHAP
        credentials of `opts` already (True when `opts` has none)."""
        chap = chap_values(opts, NODE_AUTH)
        if not chap:
            return True
        async with self._db:
            return await asyncio.to_thread(_records_hold, target, portal, chap,
                                           self.iscsi_dir)

    async def login(self, portal: str, target: str, opts: Options, timeout: int,
                    had_session: bool = False) -> None:
        """Log in to `target` through `portal`; a session that already exists is
        success, unless `opts` bring other CHAP credentials than its record's:
        those were not checked by the target, so `Busy` (log out first). On
        failure, a record this call created is deleted again; a record that was
        there gets back the settings it had (CHAP, startup: kept in memory only,
        never in the intent record) and its login bounds. An intent record
        (`iscsi-login`, no secret in it) lets a restart do the same after a crash.
        `had_session`: the engine saw a session; a failed attempt never logs out."""
        node = ("-m", "node", "-T", target, "-p", portal)
        chap = chap_values(opts, NODE_AUTH)
        settings: dict[str, str] = dict(chap)
        if "node-startup" in opts:
            startup = opts["node-startup"]
            settings.update({"node.startup": startup, "node.conn[0].startup": startup})
        async with self._db:
            records = await asyncio.to_thread(node_records, target, portal, self.iscsi_dir)
            intent = await self.intents.begin(LOGIN_KIND, target=target, portal=portal,
                                              created=not records)
        result, outcome = None, "failed"
        before: dict[Path, dict[str, str | None]] = {}     # secrets: memory only
        try:
            await self._prepare(intent, node, {**settings, **login_bounds(timeout)},
                                before)
            result = await self._attempt(node, timeout, opts)
            code = None if result is None else result.returncode
            if code == iscsi_parse.ERR_SESS_EXISTS and _chap_changed(before, chap):
                outcome = "busy"
            elif code in (0, iscsi_parse.ERR_SESS_EXISTS):
                outcome = "logged-in"
                await self.intents.step(intent, "logged-in")
            elif not had_session:
                # a failed login can leave iscsid's session for the attempt behind
                # (a target gone mid-login): stop it, as recovery does
                await self.runner.run("iscsiadm", *node, "--logout", timeout=LOGOUT_TIMEOUT)
        finally:
            async with self._db:
                if outcome != "logged-in":
                    await asyncio.to_thread(_put_records_back, before)
                await self._settle_records(intent.data, logged_in=outcome == "logged-in")
            await self.intents.end(intent)
        if outcome == "busy":
            raise other_chap_on_a_session(target, portal)
        if result is None:
            raise Timeout(f"login to {target} through {portal} did not finish within "
                          f"{timeout} s")
        if result.returncode == iscsi_parse.ERR_SESS_EXISTS:
            return
        if not result.ok:
            raise iscsi_parse.error_for(result, f"log in to {target} through {portal}")

    async def _attempt(self, node: tuple[str, ...], timeout: int, opts: Options
                       ) -> Result | None:
        """iscsiadm's login; None when it outlived the bound given to iscsid."""
        try:
            return await self.runner.run("iscsiadm", *node, "--login",
                                         timeout=timeout + GRACE, secrets=self._secrets(opts))
        except Timeout:
            return None              # iscsid was bounded to `timeout`; belt and braces

    async def _prepare(self, intent: Intent, node: tuple[str, ...],
                       values: dict[str, str],
                       before: dict[Path, dict[str, str | None]]) -> None:
        """The node record, made if missing, with the login's settings (CHAP, bounds).
        `before` gets each existing record's previous settings other than the
        bounds (None: the line was not there), as each record is written."""
        target, portal = intent.data["target"], intent.data["portal"]
        async with self._db:
            if intent.data["created"]:
                result = await self.runner.run("iscsiadm", *node, "-o", "new", timeout=30)
                if not result.ok:
                    raise iscsi_parse.error_for(result, f"add a record for {target}")
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

    async def _settle_records(self, data: dict, logged_in: bool) -> str:
        """After a login (or a crash in one): a record the login created goes if
        there is no session (its CHAP secret with it); any other keeps its
        settings, with its login bounds as they were. Holds the database lock."""
        node = ("-m", "node", "-T", data["target"], "-p", data["portal"])
        if data.get("created") and not logged_in:
            await self.runner.run("iscsiadm", *node, "-o", "delete", timeout=30)
            return "deleted the node record it had created"
        restored = []
        for path, before in data.get("bounds", {}).items():
            record = Path(path)
            if before and record in await asyncio.to_thread(
                    node_records, data["target"], data["portal"], self.iscsi_dir):
                await asyncio.to_thread(set_record, record, before)
                restored.append(path)
        return ("put the login bounds back in " + ", ".join(restored)) if restored \
            else "no record to put back"

    async def recover(self, intent: Intent, sessions: list[SysSession]) -> str:
        """A login cut short by a crash, from its record and the kernel's `sessions`:
        logged in, it is finished (the record keeps its settings, with its bounds
        put back); not logged in, it is undone (an attempt iscsid may still be
        making is stopped, and a record it created is deleted)."""
        data = {**intent.data, "target": validation.iscsi_target(intent.data["target"]),
                "portal": validation.portal(intent.data["portal"])}
        logged_in = any((s.target, s.portal, s.state) == (data["target"], data["portal"],
                                                          "LOGGED_IN") for s in sessions)
        async with self._db:
            if not logged_in and intent.step != "started":
                # iscsid goes on with a login whose iscsiadm died: stop it
                await self.runner.run("iscsiadm", "-m", "node", "-T", data["target"], "-p",
                                      data["portal"], "--logout", timeout=LOGOUT_TIMEOUT)
            done = await self._settle_records(data, logged_in)
        return f"{'logged in (finished)' if logged_in else 'not logged in (undone)'}; {done}"

    async def flush_maps(self, maps: list[str]) -> None:
        """Remove multipath maps about to lose their last path. `Busy` if one is in
        use; udev's probe may hold a new map for a moment, so that is retried."""
        for name in maps:
            for attempt in range(10):
                result = await self.runner.run("multipath", "-f", "--", name, timeout=30)
                if result.ok:
                    break
                if "in use" not in result.stderr and "in use" not in result.stdout:
                    raise Failed(f"cannot remove multipath map {name}: "
                                 f"{result.error_line()}")
                await asyncio.sleep(0.5)
            else:
                raise Busy(f"multipath map {name} is in use (open, or holding a volume "
                           "group); close it first")

    async def logout(self, session: SysSession, opts: Options) -> None:
        timeout = opts.get("timeout", LOGOUT_TIMEOUT)
        result = await self.runner.run("iscsiadm", "-m", "session", "-r", str(session.sid),
                                       "--logout", timeout=timeout)
        if result.returncode == iscsi_parse.ERR_NO_OBJS_FOUND:
            raise NotFound(f"no session to {session.target} through {session.portal}")
        if not result.ok:
            raise iscsi_parse.error_for(
                result, f"log out of {session.target} through {session.portal}")

    async def rescan_sessions(self) -> None:
        """Ask every session's target for LUNs mapped since login."""
        result = await self.runner.run("iscsiadm", "-m", "session", "--rescan", timeout=60)
        if not result.ok and result.returncode != iscsi_parse.ERR_NO_OBJS_FOUND:
            raise iscsi_parse.error_for(result, "rescan the iSCSI sessions")

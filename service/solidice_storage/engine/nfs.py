"""NFS mounts on the real host: made, watched and kept, never on the event loop.

Nothing here touches a path that NFS could hang. A mount point is looked at and
created by child processes (`find`, `mkdir`, `rmdir`), the mount and the unmount
are `mount`/`umount` processes, each under a timeout that kills it; a server that
does not answer makes the call fail with `Timeout`, and the daemon goes on
answering everyone else meanwhile. `umount` runs with `-c` (no canonicalization:
no stat of the mount point) and `-i` (no umount.nfs helper, which would ask a dead
server's mountd).

The host's mount table is the truth: the `Mount` objects are the NFS mounts in
`/proc/self/mountinfo` (mountinfo.py), whoever made them; a change of the table
gives one re-read, 100 ms later.

Persistence answers the seed's two open questions. A mount made with `persistent`
is recorded in `<state dir>/nfs-mounts.json` (root only, written atomically) before
it is made. At start the daemon rebuilds its objects from the mount table and
never unmounts or remounts what is there; after it has taken its bus name it
re-establishes, in the background, each recorded mount that is missing, retrying
with backoff while the server is down. A recorded mount that disappears behind the
daemon's back is made again the same way. `Unmount` is the only way to end one.
"""

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable

from .. import validation
from ..config import Config
from ..errors import (AlreadyExists, Busy, Cancelled, Failed, InvalidArgument, NotFound,
                      NotSupported, StorageError, Timeout)
from ..models import Mount
from ..validation import Options
from .files import write_atomically
from .intents import STATE_DIR, Intent, Intents
from .mountinfo import MountEntry, MountinfoWatch, nfs_mounts, read_mountinfo, split_source
from .host.runner import Result, Runner
from .rules import nfs_mount_options
from .store import StateStore
from .jobs import Jobs

log = logging.getLogger(__name__)
MOUNT_HELPER = "/sbin/mount.nfs"
CONFIG_NAME = "nfs-mounts.json"
UNMOUNT_TIMEOUT = 30           # seconds an unmount may take (umount has no option)
CHECK_TIMEOUT = 10             # seconds a look at a local mount point may take
RETRY_FIRST, RETRY_MAX = 5, 300  # backoff of a persistent mount's re-establishment
REMOUNT_DELAY = 1              # after a persistent mount vanished, before it is remade
MOUNT_KIND = "nfs-mount"       # a MountNfs call's intent record (intents.py)
NFS_KINDS = frozenset({MOUNT_KIND})


# ---- the persistent mounts' configuration ----

@dataclass(frozen=True)
class Wanted:
    """A mount to keep: what the caller asked for, options included."""
    server: str
    remote_path: str
    local_path: str
    options: dict

    def to_json(self) -> dict:
        return {"server": self.server, "remote-path": self.remote_path,
                "local-path": self.local_path, "options": self.options}

    @classmethod
    def from_json(cls, record: dict, roots: tuple[str, ...]) -> "Wanted":
        """Checked as a caller's arguments are (`roots`: where mounts are allowed):
        the file is root's, but a bad record must not reach a command line."""
        options = validation.stored_options("MountNfs", record["options"])
        return cls(validation.host(record["server"]),
                   validation.remote_path(record["remote-path"]),
                   validation.local_path(record["local-path"], roots), dict(options))


class MountConfig:
    """`<state dir>/nfs-mounts.json`, root's only, whole or absent (files.py)."""

    def __init__(self, state_dir: Path | None = None,
                 roots: tuple[str, ...] = validation.DEFAULT_MOUNT_ROOTS) -> None:
        self.path = (state_dir or STATE_DIR) / CONFIG_NAME
        self.roots = roots

    def load(self) -> dict[str, Wanted]:
        try:
            records = json.loads(self.path.read_text())["mounts"]
            if not isinstance(records, list):
                raise TypeError("'mounts' is not a list")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as error:
            kept = self.path.with_suffix(".unreadable")
            log.error("%s is unreadable (%s); kept as %s, starting without persistent "
                      "mounts", self.path, error, kept)
            os.replace(self.path, kept)
            return {}
        wanted = {}
        for record in records:
            try:
                mount = Wanted.from_json(record, self.roots)
                wanted[mount.local_path] = mount
            except (StorageError, KeyError, TypeError, AttributeError) as error:
                log.error("%s: skipping a bad record %r: %s", self.path, record, error)
        return wanted

    def save(self, wanted: dict[str, Wanted]) -> None:
        write_atomically(self.path, json.dumps(
            {"mounts": [w.to_json() for w in wanted.values()]}, indent=1, sort_keys=True))


# ---- mounting and unmounting ----

class NfsMounts:
    """The NFS part of the host engine (host.HostEngine delegates to it)."""

    def __init__(self, runner: Runner, store: StateStore, jobs: Jobs,
                 state_dir: Path | None = None, intents: Intents | None = None,
                 config: Config | None = None) -> None:
        self.runner = runner
        self.store = store
        self.jobs = jobs
        self.intents = intents or Intents(state_dir)
        settings = config or Config()
        self.roots = settings.mount_roots           # where mounts are allowed
        self.own_root = validation.OWN_MOUNT_ROOT   # the one root we make if missing
        self.nfs_defaults = settings.nfs            # what a MountNfs leaves out
        self.config = MountConfig(state_dir, self.roots)
        self.mount_helper = MOUNT_HELPER
        self.wanted: dict[str, Wanted] = {}
        self._mounts: dict[str, MountEntry] = {}     # the NFS mounts, by local path
        self._watch = MountinfoWatch(self.refresh)
        self._refresh_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}    # one change at a time per path
        self._keepers: dict[str, asyncio.Task] = {}
        self._inflight: dict[str, asyncio.Task] = {}  # MountNfs calls' mounts, by path
        self._save_lock = asyncio.Lock()
        self._serving = False

    async def start(self) -> None:
        """The Mount objects are the host's NFS mounts; nothing is mounted or
        unmounted. Persistent mounts are made again only once `serving`."""
        self.wanted = await asyncio.to_thread(self.config.load)
        self._watch.start()                          # before the read: nothing missed
        await self.refresh()
        log.info("%d NFS mounts; %d persistent mounts recorded", len(self._mounts),
                 len(self.wanted))

    async def recover(self, intent: Intent) -> str:
        """A MountNfs cut short by a crash, from its record and the mount table
        (read by `start`): mounted, it is finished; recorded persistent, it is
        finished by the keeper once serving, as any missing persistent mount is;
        otherwise it is undone: the persistent record as it was before the call,
        and the mount point directories it created removed (`rmdir`: only if empty)."""
        wanted = Wanted.from_json(intent.data["wanted"], self.roots)
        previous = intent.data.get("previous")
        previous = Wanted.from_json(previous, self.roots) if previous is not None else None
        path = wanted.local_path
        entry = self._mounts.get(path)
        if entry is not None and self._is(entry, wanted):
            return f"{wanted.server}:{wanted.remote_path} is mounted on {path} (finished)"
        if wanted.options.get("persistent") and self.wanted.get(path) == wanted:
            return (f"{path} is recorded persistent: it is mounted once the daemon serves "
                    "(finished)")
        if self.wanted.get(path) != previous:
            await self._record(path, previous)
        created = [validation.local_path(d, self.roots)
                   for d in intent.data.get("created", [])
                   if isinstance(d, str) and (d == path or path.startswith(d + "/"))]
        if entry is None and created:
            await self._remove_dirs(created)
        return f"nothing mounted on {path} (undone); removed what it created: " \
            f"{', '.join(created) or 'nothing'}"

    def serving(self) -> None:
        """The bus name is ours: re-establish the missing persistent mounts."""
        self._serving = True
        self._keep_all()

    async def close(self) -> None:
        self._serving = False
        self._watch.close()
        keepers = [task for task in self._keepers.values() if not task.done()]
        for task in keepers:
            task.cancel()
        if keepers:
            await asyncio.wait(keepers)
        self._keepers.clear()

    async def refresh(self) -> None:
        """Read the mount table; publish what changed; keep the persistent mounts."""
        async with self._refresh_lock:
            entries = await asyncio.wait_for(asyncio.to_thread(read_mountinfo),
                                             CHECK_TIMEOUT)
            mounts = nfs_mounts(entries)
            gone = [("Mount", path) for path in self.store.all(Mount) if path not in mounts]
            self._mounts = mounts
            self.store.publish([self._model(entry) for entry in mounts.values()], gone)
        self._keep_all()

    def _model(self, entry: MountEntry) -> Mount:
        server, remote_path = split_source(entry.source)
        wanted = self.wanted.get(entry.local_path)
        persistent = wanted is not None and self._is(entry, wanted)
        return Mount(local_path=entry.local_path, server=server, remote_path=remote_path,
                     options=entry.options, persistent=persistent)

    @staticmethod
    def _is(entry: MountEntry, wanted: Wanted) -> bool:
        return split_source(entry.source) == (wanted.server, wanted.remote_path)

    def _lock(self, local_path: str) -> asyncio.Lock:
        return self._locks.setdefault(local_path, asyncio.Lock())

    # ---- MountNfs ----

    async def mount(self, server: str, remote_path: str, local_path: str,
                    opts: Options, uid: int) -> str:
        """server:remote_path is mounted on local_path (nosuid,nodev always); with
        `persistent`, recorded first so that a crash mid-way still ends mounted.
        `Timeout` when the server does not answer within `timeout` seconds: then
        nothing is mounted and a mount point this call created is gone again."""
        existing = self._mounts.get(local_path)
        if existing is not None:
            if split_source(existing.source) == (server, remote_path):
                raise AlreadyExists(f"{server}:{remote_path} is mounted on {local_path}")
            raise Busy(f"{existing.source} is mounted on {local_path}; unmount it first")
        if self._lock(local_path).locked() and local_path not in self._keepers:
            raise Busy(f"a mount or unmount on {local_path} is in progress")
        await self._stop_keeping(local_path)        # this call's options win
        lock = self._lock(local_path)
        if lock.locked():
            raise Busy(f"a mount or unmount on {local_path} is in progress")
        try:
            async with lock:
                options = {k: v for k, v in opts.items() if k != validation.AUTH_KEY}
                wanted = Wanted(server, remote_path, local_path, options)
                previous = self.wanted.get(local_path)
                intent = await self.intents.begin(
                    MOUNT_KIND, wanted=wanted.to_json(),
                    previous=previous.to_json() if previous is not None else None)
                try:
                    # the record this call asks for replaces (or ends) an earlier one
                    if opts.get("persistent") or previous is not None:
                        await self._record(local_path,
                                           wanted if opts.get("persistent") else None)
                        await self.intents.step(intent, "recorded")
                    job = self.jobs.start("nfs-mount", [], uid, cancelable=False)
                    await self.jobs.run(job, self._stoppable(local_path,
                                                             self._mount(wanted, intent)))
                except BaseException:
                    if self.wanted.get(local_path) != previous:
                        await self._record(local_path, previous)  # as it was before
                    await self.intents.end(intent)
                    raise
                await self.intents.end(intent)
                return local_path
        finally:
            self._keep_all()

    async def _stoppable(self, local_path: str, work: Awaitable[None]) -> None:
        """`work`, which a forced unmount of the same path may stop (`Cancelled`)."""
        task = asyncio.ensure_future(work)
        self._inflight[local_path] = task
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait([task])
            raise
        finally:
            self._inflight.pop(local_path, None)
        if task.cancelled():
            raise Cancelled(f"mounting on {local_path} was stopped by a forced unmount")
        task.result()

    async def _mount(self, wanted: Wanted, intent: Intent | None = None) -> None:
        """Mount it now, within its `timeout`; on completion it is in the store.
        `intent`: the MountNfs call's record, told each step."""
        timeout = wanted.options.get("timeout", self.nfs_defaults.mount_timeout)
        deadline = asyncio.get_running_loop().time() + timeout
        local_path, source = wanted.local_path, f"{wanted.server}:{wanted.remote_path}"
        if not await asyncio.to_thread(os.access, self.mount_helper, os.X_OK):
            raise NotSupported(f"{self.mount_helper} is not installed on this host "
                               "(Debian's nfs-common)")
        other = {e.local_path: e for e in await asyncio.to_thread(read_mountinfo)}.get(
            local_path)
        if other is not None:
            raise Busy(f"{other.source} ({other.fstype}) is mounted on {local_path}")
        created = await self._mount_point(local_path,
                                          wanted.options.get("create-mountpoint", False))
        try:
            if intent is not None:
                await self.intents.step(intent, "mountpoint-ready", created=created)
            options = nfs_mount_options(Options(wanted.options), self.nfs_defaults)
            result = await self.runner.run(
                "mount", "-t", "nfs", "-o", options, "--", source, local_path,
                timeout=max(deadline - _now(), 1))
            if not result.ok:
                raise _mount_error(result, source, local_path)
            if intent is not None:
                await self.intents.step(intent, "mounted")
        except Timeout:
            await self._detach_leftover(local_path)
            await self._remove_dirs(created)
            raise Timeout(f"NFS server {wanted.server} did not answer within {timeout} s; "
                          f"nothing is mounted on {local_path}") from None
        except BaseException:
            await self._remove_dirs(created)
            raise
        await self.refresh()
        if local_path not in self._mounts:
            await self._remove_dirs(created)
            raise Failed(f"mount reported success, but no NFS mount is on {local_path}")
        log.info("mounted %s on %s (%s)", source, local_path,
                 self._mounts[local_path].options)

    def _root_of(self, path: str) -> str:
        """The allowed root `path` lies strictly below (the deepest, if they nest)."""
        roots = [root for root in self.roots if path.startswith(root.rstrip("/") + "/")]
        if not roots:
            raise InvalidArgument(f"{path} is not below a directory mounts are allowed in "
                                  f"({', '.join(self.roots)})")
        return max(roots, key=len)

    async def _mount_point(self, path: str, create: bool) -> list[str]:
        """Checks that `path` is an empty directory below an allowed root, reached
        through no symbolic link, and that it and every directory between it and
        the root are root's and writable by root only; or creates it (and missing
        parents, each 0755) if `create`. Returns the directories created, deepest
        last. Looked at by `find`, a child process: a parent directory may be on
        an NFS mount whose server is dead."""
        root = self._root_of(path)
        ancestors = [path]
        while ancestors[-1] != "/":
            ancestors.append(os.path.dirname(ancestors[-1]))
        ancestors.reverse()
        found = await self._look_at(ancestors, path)
        for ancestor in ancestors:
            if ancestor not in found:
                continue
            _, kind, owner, mode = found[ancestor]
            if kind != "d":
                what = "a symbolic link" if kind == "l" else "not a directory"
                raise InvalidArgument(f"{ancestor} is {what}: mount points must be plain "
                                      "directories, reached through no symbolic link")
            # A user who owns or may write a directory on the way could swap a
            # symbolic link in between this look and the mount (mount follows
            # them), or own the files root then finds there. The root itself is
            # the administrator's choice (vdsm's own tree is vdsm's).
            if len(ancestor) > len(root) and (owner != 0 or mode & 0o022):
                raise InvalidArgument(
                    f"{ancestor} may be changed by users other than root (owner uid "
                    f"{owner}, mode {mode:04o}): a mount point, and every directory on "
                    f"the way to it below {root}, must be root's and writable by root "
                    "only")
        if path in found:
            if not found[path][0]:
                raise Busy(f"{path} is not empty; mounting there would hide its files")
            return []
        if not create:
            raise NotFound(f"{path} does not exist; pass create-mountpoint=true to "
                           "create it")
        if root not in found:
            if root != self.own_root:
                raise NotFound(f"{root}, where mounts are allowed, does not exist; "
                               "the administrator creates it")
            await self._make_dirs([root])             # ours: kept, never removed
        missing = [a for a in ancestors if len(a) > len(root) and a not in found]
        await self._make_dirs(missing)
        return missing

    async def _look_at(self, paths: list[str], path: str) -> dict[str, tuple]:
        """What `find` says of each of `paths` that exists: (empty, type letter,
        owner uid, mode)."""
        # the paths are validated absolute (never an option to find); per path:
        # E or - (empty or not), its type letter, owner, mode, the path
        try:
            result = await self.runner.run(
                "find", *paths, "-maxdepth", "0", "(", "-empty", "-printf", "E", "-o",
                "-printf", "-", ")", "-printf", "%y %U %m %p\\n", timeout=CHECK_TIMEOUT)
        except Timeout:
            raise Timeout(f"looking at {path} took longer than {CHECK_TIMEOUT} s: is it "
                          "below an NFS mount whose server does not answer?") from None
        found = {}
        for line in result.stdout.splitlines():
            flags, _, rest = line.partition(" ")
            owner, _, rest = rest.partition(" ")
            mode, _, found_path = rest.partition(" ")
            if len(flags) == 2 and owner.isdigit() and mode.isdigit():
                found[found_path] = (flags[0] == "E", flags[1], int(owner), int(mode, 8))
        for line in result.stderr.splitlines():
            if line.strip() and "No such file or directory" not in line:
                raise Failed(f"cannot look at {path}: {line.strip()}")
        return found

    async def _make_dirs(self, directories: list[str]) -> None:
        """Each of `directories` (parents first) made, root's, mode 0755 whatever
        the daemon's umask (the unit's is 0077): non-root consumers such as
        libvirt's qemu must reach the mount. On a failure, those made are removed."""
        made: list[str] = []
        for directory in directories:
            # -m for each directory named, without -p: `mkdir -p -m` would give the
            # parents it makes the umask's mode
            result = await self.runner.run("mkdir", "-m", "0755", "--", directory,
                                           timeout=CHECK_TIMEOUT)
            if not result.ok:
                await self._remove_dirs(made)
                raise Failed(f"cannot create {directory}: {result.error_line()}")
            made.append(directory)

    async def _remove_dirs(self, created: list[str]) -> None:
        """Remove the mount point directories a failed mount created (only if
        empty: rmdir never removes anything else)."""
        for directory in reversed(created):
            try:
                result = await self.runner.run("rmdir", "--", directory,
                                               timeout=CHECK_TIMEOUT)
            except Timeout:
                result = None
            if result is None or not result.ok:
                log.warning("could not remove %s, created for a mount that failed",
                            directory)
                return

    async def _detach_leftover(self, local_path: str) -> None:
        """After a killed mount: if the kernel mounted it all the same, detach it."""
        entries = await asyncio.to_thread(read_mountinfo)
        if nfs_mounts(entries).get(local_path) is not None:
            try:
                await self._umount(local_path, force=True)
            except StorageError as error:
                log.warning("could not detach %s after a mount timed out: %s",
                            local_path, error)
        await self.refresh()

    # ---- Unmount ----

    async def unmount(self, local_path: str, force: bool) -> None:
        """Nothing NFS is mounted on local_path and it is not kept persistent.
        `Busy` if in use and not `force`; with `force`, it is detached even when
        in use or its server is dead. `NotFound` if there was nothing to end."""
        await self._stop_keeping(local_path)
        inflight = self._inflight.get(local_path)
        if inflight is not None and force:          # a mount hanging on a dead server
            inflight.cancel()
            await asyncio.wait([inflight])
        lock = self._lock(local_path)
        if lock.locked() and not force:
            raise Busy(f"a mount or unmount on {local_path} is in progress")
        try:
            await self._unmount(local_path, force, stopped=inflight is not None and force)
        finally:
            self._keep_all()

    async def _unmount(self, local_path: str, force: bool, stopped: bool) -> None:
        async with self._lock(local_path):
            wanted = self.wanted.get(local_path)
            if wanted is not None:
                await self._record(local_path, None)
            if local_path not in self._mounts:
                await self.refresh()
            if local_path not in self._mounts:
                if wanted is None and not stopped:
                    raise NotFound(f"no NFS mount on {local_path}")
                log.info("%s is no longer kept mounted", local_path)
                return
            try:
                await self._umount(local_path, force)
            except BaseException:
                await self.refresh()
                if wanted is not None and local_path in self._mounts:
                    await self._record(local_path, wanted)   # nothing lost on a failure
                raise
            await self.refresh()
            log.info("unmounted %s%s", local_path, " (forced)" if force else "")

    async def _umount(self, local_path: str, force: bool) -> None:
        # -f aborts the requests in flight (a dead server), -l detaches at once
        # even if files are open
        args = ["-i", "-c", *(["-f", "-l"] if force else []), "--", local_path]
        try:
            result = await self.runner.run("umount", *args, timeout=UNMOUNT_TIMEOUT)
        except Timeout:
            raise Timeout(f"unmounting {local_path} took longer than {UNMOUNT_TIMEOUT} s "
                          "(its server does not answer?); pass force to detach it") \
                from None
        if result.ok:
            return
        line = result.error_line()
        if "busy" in line:
            raise Busy(f"{local_path} is in use (a process has a file open or its working "
                       "directory there); stop it, or pass force to detach the mount")
        if "not mounted" in line:
            return                                   # gone meanwhile
        raise Failed(f"cannot unmount {local_path}: {line}")

    # ---- keeping the persistent mounts ----

    async def _record(self, local_path: str, wanted: Wanted | None) -> None:
        """Record (or, with None, forget) the mount on local_path: on disk first,
        then in memory, one save at a time."""
        async with self._save_lock:
            records = dict(self.wanted)
            if wanted is None:
                records.pop(local_path, None)
            else:
                records[local_path] = wanted
            await asyncio.to_thread(self.config.save, records)
            self.wanted = records

    def _keep_all(self) -> None:
        if not self._serving:
            return
        for path, wanted in self.wanted.items():
            entry = self._mounts.get(path)
            keeper = self._keepers.get(path)
            if entry is None and (keeper is None or keeper.done()) \
                    and not self._lock(path).locked():
                self._keepers[path] = asyncio.ensure_future(self._keep(wanted))

    async def _stop_keeping(self, local_path: str) -> None:
        """Stop re-establishing the mount on local_path, an attempt in flight
        included (its mount process is killed)."""
        keeper = self._keepers.pop(local_path, None)
        if keeper is not None and not keeper.done():
            keeper.cancel()
            await asyncio.wait([keeper])

    async def _keep(self, wanted: Wanted) -> None:
        """Make a recorded mount again, with backoff while that fails; stops when
        it is mounted, no longer recorded, or something else is on its path."""
        path, delay = wanted.local_path, RETRY_FIRST
        await asyncio.sleep(REMOUNT_DELAY)
        while True:
            async with self._lock(path):
                if self.wanted.get(path) != wanted:
                    return
                entry = self._mounts.get(path)
                if entry is not None:
                    if not self._is(entry, wanted):
                        log.error("persistent mount %s:%s: %s is mounted on %s instead; "
                                  "not mounting over it", wanted.server,
                                  wanted.remote_path, entry.source, path)
                    return
                try:
                    log.info("persistent mount: mounting %s:%s on %s", wanted.server,
                             wanted.remote_path, path)
                    await self._mount(Wanted(wanted.server, wanted.remote_path, path,
                                             {**wanted.options, "create-mountpoint": True}))
                    return
                except Exception as error:      # whatever it was, the keeper goes on
                    log.warning("persistent mount on %s failed (%s); trying again in %g s",
                                path, error or type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)


def _now() -> float:
    return asyncio.get_running_loop().time()


def _mount_error(result: Result, source: str, local_path: str) -> StorageError:
    """mount.nfs's last line, as the contract's error."""
    line = result.error_line()
    text = line.lower()
    if "access denied" in text or "no such file or directory" in text:
        return NotFound(f"the server does not export {source} to this host ({line})")
    if "protocol not supported" in text or "requested nfs version" in text:
        return NotSupported(f"the server does not offer what was asked ({line})")
    if "already mounted" in text or "busy" in text:
        return Busy(f"{local_path} is busy ({line})")
    if "timed out" in text:
        return Timeout(f"mounting {source} timed out ({line})")
    return Failed(f"mounting {source} on {local_path} failed: {line}")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""NFS mounts on the real host: made, watched and kept, never on the event loop.

Nothing here touches a path that NFS could hang: mount points are looked at and
made by child processes (mount_point.py), the mount and the unmount are
`mount`/`umount` processes under a timeout that kills them (commands.py); a server
that does not answer makes the call fail with `Timeout`, and the daemon goes on
answering everyone else meanwhile.

The host's mount table is the truth: the `Mount` objects are the NFS mounts in
`/proc/self/mountinfo` (mountinfo.py), whoever made them; a change of the table
gives one re-read, 100 ms later.

Persistence answers the seed's two open questions. A mount made with `persistent`
is recorded in `<state dir>/nfs-mounts.json` (config.py) before it is made. At
start the daemon rebuilds its objects from the mount table and never unmounts or
remounts what is there; after it has taken its bus name it re-establishes, in the
background, each recorded mount that is missing (keeper.py). A recorded mount that
disappears behind the daemon's back is made again the same way. `Unmount` is the
only way to end one.
"""

import asyncio
import logging
from pathlib import Path
from typing import Awaitable

from ....config import Config
from ....errors import (AlreadyExists, Busy, Cancelled, Failed, NotFound, StorageError,
                        Timeout)
from ....models import Mount
from ....options import MountNfsOptions
from ...intents import Intent, Intents
from ...jobs import Jobs
from ...rules import nfs_mount_options
from ...store import StateStore
from ..runner import Runner
from . import commands
from .commands import MOUNT_HELPER
from .config import MountConfig, Wanted
from .keeper import Keeper
from .mount_point import CHECK_TIMEOUT, MountPoints
from .mountinfo import MOUNTINFO, MountEntry, MountinfoWatch, nfs_mounts, read_mountinfo, \
    split_source
from .recovery import MOUNT_KIND

log = logging.getLogger(__name__)


class NfsMounts:
    """The NFS domain of the host engine. `mountinfo`: the mount table to read (the
    kernel's; a test's stand-in); `mount_helper`: mount.nfs, which must exist."""

    def __init__(self, runner: Runner, store: StateStore, jobs: Jobs,
                 state_dir: Path | None = None, intents: Intents | None = None,
                 config: Config | None = None, mountinfo: str = MOUNTINFO,
                 mount_helper: str = MOUNT_HELPER) -> None:
        self.runner = runner
        self.store = store
        self.jobs = jobs
        self.intents = intents or Intents(state_dir)
        settings = config or Config()
        self.roots = settings.mount_roots           # where mounts are allowed
        self.nfs_defaults = settings.nfs            # what a MountNfs leaves out
        self.config = MountConfig(state_dir, self.roots)
        self.mount_points = MountPoints(runner, self.roots)
        self.mount_helper = mount_helper
        self.mountinfo = mountinfo
        self.wanted: dict[str, Wanted] = {}
        self.current: dict[str, MountEntry] = {}     # the NFS mounts, by local path
        self.keeper = Keeper(self)
        self._watch = MountinfoWatch(self.refresh, path=mountinfo)
        self._refresh_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}    # one change at a time per path
        self._inflight: dict[str, asyncio.Task] = {}  # MountNfs calls' mounts, by path
        self._save_lock = asyncio.Lock()

    async def start(self) -> None:
        """The Mount objects are the host's NFS mounts; nothing is mounted or
        unmounted. Persistent mounts are made again only once `serving`."""
        self.wanted = await asyncio.to_thread(self.config.load)
        self._watch.start()                          # before the read: nothing missed
        await self.refresh()
        log.info("%d NFS mounts; %d persistent mounts recorded", len(self.current),
                 len(self.wanted))

    def serving(self) -> None:
        """The bus name is ours: re-establish the missing persistent mounts."""
        self.keeper.serving = True
        self.keeper.keep_all()

    async def close(self) -> None:
        self._watch.close()
        await self.keeper.close()

    async def refresh(self) -> None:
        """Read the mount table; publish what changed; keep the persistent mounts."""
        async with self._refresh_lock:
            entries = await asyncio.wait_for(asyncio.to_thread(read_mountinfo,
                                                               self.mountinfo),
                                             CHECK_TIMEOUT)
            mounts = nfs_mounts(entries)
            gone = [("Mount", path) for path in self.store.all(Mount) if path not in mounts]
            self.current = mounts
            self.store.publish([self._model(entry) for entry in mounts.values()], gone)
        self.keeper.keep_all()

    def _model(self, entry: MountEntry) -> Mount:
        server, remote_path = split_source(entry.source)
        wanted = self.wanted.get(entry.local_path)
        persistent = wanted is not None and self.is_mount_of(entry, wanted)
        return Mount(local_path=entry.local_path, server=server, remote_path=remote_path,
                     options=entry.options, persistent=persistent)

    @staticmethod
    def is_mount_of(entry: MountEntry, wanted: Wanted) -> bool:
        return split_source(entry.source) == (wanted.server, wanted.remote_path)

    def lock(self, local_path: str) -> asyncio.Lock:
        """The lock of changes on `local_path`: one at a time."""
        return self._locks.setdefault(local_path, asyncio.Lock())

    # ---- MountNfs ----

    async def mount(self, server: str, remote_path: str, local_path: str,
                    opts: MountNfsOptions, uid: int) -> str:
        """server:remote_path is mounted on local_path (nosuid,nodev always); with
        `persistent`, recorded first so that a crash mid-way still ends mounted.
        `Timeout` when the server does not answer within `timeout` seconds: then
        nothing is mounted and a mount point this call created is gone again."""
        existing = self.current.get(local_path)
        if existing is not None:
            if split_source(existing.source) == (server, remote_path):
                raise AlreadyExists(f"{server}:{remote_path} is mounted on {local_path}")
            raise Busy(f"{existing.source} is mounted on {local_path}; unmount it first")
        if self.lock(local_path).locked() and local_path not in self.keeper.tasks:
            raise Busy(f"a mount or unmount on {local_path} is in progress")
        await self.keeper.stop(local_path)          # this call's options win
        lock = self.lock(local_path)
        if lock.locked():
            raise Busy(f"a mount or unmount on {local_path} is in progress")
        try:
            async with lock:
                # the polkit flag is no part of what is kept
                wanted = Wanted(server, remote_path, local_path,
                                opts.replace(no_user_interaction=False))
                await self._mount_recorded(wanted, uid)
                return local_path
        finally:
            self.keeper.keep_all()

    async def _mount_recorded(self, wanted: Wanted, uid: int) -> None:
        """`wanted` mounted as a job, under an intent record; the persistent record
        it asks for (or its end) written first, and put back on a failure."""
        local_path, persistent = wanted.local_path, wanted.options.persistent
        previous = self.wanted.get(local_path)
        intent = await self.intents.begin(
            MOUNT_KIND, wanted=wanted.to_json(),
            previous=previous.to_json() if previous is not None else None)
        try:
            # the record this call asks for replaces (or ends) an earlier one
            if persistent or previous is not None:
                await self.record(local_path, wanted if persistent else None)
                await self.intents.step(intent, "recorded")
            job = self.jobs.start("nfs-mount", [], uid, cancelable=False)
            await self.jobs.run(job, self._stoppable(local_path,
                                                     self.mount_now(wanted, intent)))
        except BaseException:
            if self.wanted.get(local_path) != previous:
                await self.record(local_path, previous)  # as it was before
            await self.intents.end(intent)
            raise
        await self.intents.end(intent)

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

    async def mount_now(self, wanted: Wanted, intent: Intent | None = None) -> None:
        """Mount it now, within its `timeout`; on completion it is in the store.
        `intent`: the MountNfs call's record, told each step."""
        opts = wanted.options
        timeout = opts.timeout if opts.timeout is not None else \
            self.nfs_defaults.mount_timeout
        deadline = asyncio.get_running_loop().time() + timeout
        local_path, source = wanted.local_path, f"{wanted.server}:{wanted.remote_path}"
        await commands.check_helper(self.mount_helper)
        other = {e.local_path: e for e in await asyncio.to_thread(
            read_mountinfo, self.mountinfo)}.get(local_path)
        if other is not None:
            raise Busy(f"{other.source} ({other.fstype}) is mounted on {local_path}")
        created = await self.mount_points.prepare(local_path, opts.create_mountpoint)
        try:
            if intent is not None:
                await self.intents.step(intent, "mountpoint-ready", created=created)
            await commands.mount(self.runner, source, local_path,
                                 nfs_mount_options(opts, self.nfs_defaults),
                                 timeout=max(deadline - _now(), 1))
            if intent is not None:
                await self.intents.step(intent, "mounted")
        except Timeout:
            await self._detach_leftover(local_path)
            await self.mount_points.remove_dirs(created)
            raise Timeout(f"NFS server {wanted.server} did not answer within {timeout} s; "
                          f"nothing is mounted on {local_path}") from None
        except BaseException:
            await self.mount_points.remove_dirs(created)
            raise
        await self._confirm(local_path, source, created)

    async def _confirm(self, local_path: str, source: str, created: list[str]) -> None:
        """The mount reported made is in the table (or `Failed`, its directories gone)."""
        await self.refresh()
        if local_path not in self.current:
            await self.mount_points.remove_dirs(created)
            raise Failed(f"mount reported success, but no NFS mount is on {local_path}")
        log.info("mounted %s on %s (%s)", source, local_path,
                 self.current[local_path].options)

    async def _detach_leftover(self, local_path: str) -> None:
        """After a killed mount: if the kernel mounted it all the same, detach it."""
        entries = await asyncio.to_thread(read_mountinfo, self.mountinfo)
        if nfs_mounts(entries).get(local_path) is not None:
            try:
                await commands.umount(self.runner, local_path, force=True)
            except StorageError as error:
                log.warning("could not detach %s after a mount timed out: %s",
                            local_path, error)
        await self.refresh()

    # ---- Unmount ----

    async def unmount(self, local_path: str, force: bool) -> None:
        """Nothing NFS is mounted on local_path and it is not kept persistent.
        `Busy` if in use and not `force`; with `force`, it is detached even when
        in use or its server is dead. `NotFound` if there was nothing to end."""
        await self.keeper.stop(local_path)
        inflight = self._inflight.get(local_path)
        if inflight is not None and force:          # a mount hanging on a dead server
            inflight.cancel()
            await asyncio.wait([inflight])
        if self.lock(local_path).locked() and not force:
            raise Busy(f"a mount or unmount on {local_path} is in progress")
        try:
            await self._unmount(local_path, force, stopped=inflight is not None and force)
        finally:
            self.keeper.keep_all()

    async def _unmount(self, local_path: str, force: bool, stopped: bool) -> None:
        async with self.lock(local_path):
            wanted = self.wanted.get(local_path)
            if wanted is not None:
                await self.record(local_path, None)
            if local_path not in self.current:
                await self.refresh()
            if local_path not in self.current:
                if wanted is None and not stopped:
                    raise NotFound(f"no NFS mount on {local_path}")
                log.info("%s is no longer kept mounted", local_path)
                return
            try:
                await commands.umount(self.runner, local_path, force)
            except BaseException:
                await self.refresh()
                if wanted is not None and local_path in self.current:
                    await self.record(local_path, wanted)   # nothing lost on a failure
                raise
            await self.refresh()
            log.info("unmounted %s%s", local_path, " (forced)" if force else "")

    async def record(self, local_path: str, wanted: Wanted | None) -> None:
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


def _now() -> float:
    return asyncio.get_running_loop().time()

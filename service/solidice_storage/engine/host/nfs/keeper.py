# SPDX-License-Identifier: LGPL-2.1-or-later
"""Keeping the persistent mounts: each recorded mount that is missing is made again
in the background, with backoff while its server is down, once the daemon serves."""

import asyncio
import logging
from typing import TYPE_CHECKING

from .config import Wanted

if TYPE_CHECKING:
    from .mounts import NfsMounts

log = logging.getLogger(__name__)
RETRY_FIRST, RETRY_MAX = 5, 300  # backoff of a persistent mount's re-establishment
REMOUNT_DELAY = 1              # after a persistent mount vanished, before it is remade


class Keeper:
    """One task per recorded mount that is missing, while `serving`."""

    def __init__(self, mounts: "NfsMounts") -> None:
        self.mounts = mounts
        self.serving = False
        self.tasks: dict[str, asyncio.Task] = {}

    def keep_all(self) -> None:
        """A keeper for each recorded mount that is missing and has none."""
        if not self.serving:
            return
        for path, wanted in self.mounts.wanted.items():
            keeper = self.tasks.get(path)
            if path not in self.mounts.current and (keeper is None or keeper.done()) \
                    and not self.mounts.lock(path).locked():
                self.tasks[path] = asyncio.ensure_future(self._keep(wanted))

    async def stop(self, local_path: str) -> None:
        """Stop re-establishing the mount on local_path, an attempt in flight
        included (its mount process is killed)."""
        keeper = self.tasks.pop(local_path, None)
        if keeper is not None and not keeper.done():
            keeper.cancel()
            await asyncio.wait([keeper])

    async def close(self) -> None:
        self.serving = False
        keepers = [task for task in self.tasks.values() if not task.done()]
        for task in keepers:
            task.cancel()
        if keepers:
            await asyncio.wait(keepers)
        self.tasks.clear()

    async def _keep(self, wanted: Wanted) -> None:
        """Make a recorded mount again, with backoff while that fails; stops when
        it is mounted, no longer recorded, or something else is on its path."""
        path, delay = wanted.local_path, RETRY_FIRST
        await asyncio.sleep(REMOUNT_DELAY)
        while True:
            async with self.mounts.lock(path):
                if self.mounts.wanted.get(path) != wanted or self._mounted(wanted):
                    return
                try:
                    log.info("persistent mount: mounting %s:%s on %s", wanted.server,
                             wanted.remote_path, path)
                    await self.mounts.mount_now(Wanted(
                        wanted.server, wanted.remote_path, path,
                        wanted.options.replace(create_mountpoint=True)))
                    return
                except Exception as error:      # whatever it was, the keeper goes on
                    log.warning("persistent mount on %s failed (%s); trying again in %g s",
                                path, error or type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    def _mounted(self, wanted: Wanted) -> bool:
        """Whether something is on the path (logged when it is not this mount)."""
        entry = self.mounts.current.get(wanted.local_path)
        if entry is not None and not self.mounts.is_mount_of(entry, wanted):
            log.error("persistent mount %s:%s: %s is mounted on %s instead; not "
                      "mounting over it", wanted.server, wanted.remote_path, entry.source,
                      wanted.local_path)
        return entry is not None

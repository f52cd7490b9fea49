# SPDX-License-Identifier: LGPL-2.1-or-later
"""NFS on the simulated host: mounts and the directories they go on.

Every valid NFS server exports every absolute path, except `seed.UNREACHABLE`,
which never answers (so clients can test their timeouts).
"""

import asyncio

from ...config import NfsDefaults
from ...errors import AlreadyExists, Busy, InvalidArgument, NotFound, Timeout
from ...models import Mount
from ...options import MountNfsOptions, Options
from ..jobs import Jobs
from ..rules import nfs_mount_options
from ..store import StateStore
from . import seed


class SimNfs:
    """NFS mounts in `store`, over the directories of the simulated host."""

    def __init__(self, store: StateStore, jobs: Jobs, step: float = seed.STEP) -> None:
        self.store, self.jobs, self.step = store, jobs, step
        self.dirs = set(seed.EXISTING_DIRS) | seed.MORE_DIRS | set(seed.USER_DIRS)
        self.busy_mounts: set[str] = set()
        self._mounting: set[str] = set()

    def add_existing(self, mount: Mount) -> None:
        """A mount made outside the service, and in use, is on the host."""
        self.store.publish([mount])
        self.busy_mounts.add(mount.local_path)

    async def mount_nfs(self, server: str, remote_path: str, local_path: str,
                        opts: MountNfsOptions, uid: int) -> str:
        if local_path in self._mounting:
            raise Busy(f"a mount on {local_path} is in progress")
        if existing := self.store.get(Mount, local_path):
            if (existing.server, existing.remote_path) == (server, remote_path):
                raise AlreadyExists(f"{server}:{remote_path} is mounted on {local_path}")
            raise Busy(f"{existing.server}:{existing.remote_path} is mounted on "
                       f"{local_path}")
        created = self._mountpoint(local_path, opts.create_mountpoint)
        job = self.jobs.start("nfs-mount", [], uid, cancelable=False)
        self._mounting.add(local_path)
        try:
            return await self.jobs.run(job, self._mount(server, remote_path, local_path, opts))
        except BaseException:
            self.dirs -= created
            raise
        finally:
            self._mounting.discard(local_path)

    def _mountpoint(self, path: str, create: bool) -> set[str]:
        """The mount point is there (made with `create`); returns what was made."""
        for directory, uid in seed.USER_DIRS.items():
            if path == directory or path.startswith(directory + "/"):
                raise InvalidArgument(
                    f"{directory} may be changed by users other than root (owner uid "
                    f"{uid}, mode 0755): a mount point, and every directory on the way "
                    "to it below its root, must be root's and writable by root only")
        if path in self.dirs:
            if any(d.startswith(path + "/") for d in self.dirs):
                raise Busy(f"{path} is not empty; mounting there would hide its files")
            return set()
        if not create:
            raise NotFound(f"{path} does not exist; pass create-mountpoint=true")
        created, parent = set(), path
        while parent not in self.dirs and parent != "/":
            created.add(parent)
            parent = parent.rsplit("/", 1)[0] or "/"
        self.dirs |= created
        return created

    async def _mount(self, server: str, remote_path: str, local_path: str,
                     opts: MountNfsOptions) -> str:
        timeout = NfsDefaults().mount_timeout if opts.timeout is None else opts.timeout
        if server == seed.UNREACHABLE:
            await asyncio.sleep(timeout)
            raise Timeout(f"NFS server {server} did not answer within {timeout} s")
        await asyncio.sleep(self.step)
        options = nfs_mount_options(opts)
        if opts.vers is None:
            options += ",vers=4.2"
        self.store.publish([Mount(server=server, remote_path=remote_path,
                                  local_path=local_path, options=options,
                                  persistent=opts.persistent)])
        return local_path

    async def unmount(self, local_path: str, force: bool, opts: Options) -> None:
        if self.store.get(Mount, local_path) is None:
            raise NotFound(f"no NFS mount on {local_path}")
        if local_path in self.busy_mounts and not force:
            raise Busy(f"{local_path} is in use; pass force to detach it anyway")
        self.busy_mounts.discard(local_path)
        self.store.publish(removals=[("Mount", local_path)])

# SPDX-License-Identifier: LGPL-2.1-or-later
"""NFS mount points: checked, created and removed by child processes (`find`,
`mkdir`, `rmdir`), never by the daemon: a parent directory may be on an NFS mount
whose server is dead, and looking at it would hang whoever looks."""

import logging
import os

from .... import validation
from ....errors import Busy, Failed, InvalidArgument, NotFound, Timeout
from ..runner import Runner

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 10             # seconds a look at a local mount point may take


class MountPoints:
    """Mount points below the allowed `roots`; `own_root` is the one root made if
    missing (ours: kept, never removed)."""

    def __init__(self, runner: Runner, roots: tuple[str, ...],
                 own_root: str = validation.OWN_MOUNT_ROOT) -> None:
        self.runner = runner
        self.roots = roots
        self.own_root = own_root

    def root_of(self, path: str) -> str:
        """The allowed root `path` lies strictly below (the deepest, if they nest)."""
        roots = [root for root in self.roots if path.startswith(root.rstrip("/") + "/")]
        if not roots:
            raise InvalidArgument(f"{path} is not below a directory mounts are allowed in "
                                  f"({', '.join(self.roots)})")
        return max(roots, key=len)

    async def prepare(self, path: str, create: bool) -> list[str]:
        """Checks that `path` is an empty directory below an allowed root, reached
        through no symbolic link, and that it and every directory between it and
        the root are root's and writable by root only; or creates it (and missing
        parents, each 0755) if `create`. Returns the directories created, deepest
        last. Looked at by `find`, a child process: a parent directory may be on
        an NFS mount whose server is dead."""
        root = self.root_of(path)
        ancestors = [path]
        while ancestors[-1] != "/":
            ancestors.append(os.path.dirname(ancestors[-1]))
        ancestors.reverse()
        found = await self._look_at(ancestors, path)
        _check_ancestors(ancestors, found, root)
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
            await self.make_dirs([root])             # ours: kept, never removed
        missing = [a for a in ancestors if len(a) > len(root) and a not in found]
        await self.make_dirs(missing)
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

    async def make_dirs(self, directories: list[str]) -> None:
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
                await self.remove_dirs(made)
                raise Failed(f"cannot create {directory}: {result.error_line()}")
            made.append(directory)

    async def remove_dirs(self, created: list[str]) -> None:
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


def _check_ancestors(ancestors: list[str], found: dict[str, tuple], root: str) -> None:
    """`InvalidArgument` unless each of `ancestors` that exists is a plain
    directory, root's and writable by root only below `root`."""
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

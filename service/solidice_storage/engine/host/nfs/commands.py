# SPDX-License-Identifier: LGPL-2.1-or-later
"""`mount` and `umount` for NFS: the one place that builds their argument lists, and
mount.nfs's answers as the contract's errors.

Each runs under a timeout that kills it; `umount` runs with `-c` (no
canonicalization: no stat of the mount point) and `-i` (no umount.nfs helper,
which would ask a dead server's mountd).
"""

import asyncio
import os

from ....errors import Busy, Failed, NotFound, NotSupported, StorageError, Timeout
from ..runner import Result, Runner

MOUNT_HELPER = "/sbin/mount.nfs"
UNMOUNT_TIMEOUT = 30           # seconds an unmount may take (umount has no option)


async def check_helper(helper: str = MOUNT_HELPER) -> None:
    """`NotSupported` unless mount.nfs (`helper`) is installed."""
    if not await asyncio.to_thread(os.access, helper, os.X_OK):
        raise NotSupported(f"{helper} is not installed on this host (Debian's nfs-common)")


async def mount(runner: Runner, source: str, local_path: str, options: str,
                timeout: float) -> None:
    """`source` (server:/path) mounted on `local_path` with `options` (-o)."""
    result = await runner.run("mount", "-t", "nfs", "-o", options, "--", source, local_path,
                              timeout=timeout)
    if not result.ok:
        raise _mount_error(result, source, local_path)


async def umount(runner: Runner, local_path: str, force: bool) -> None:
    """Nothing mounted on `local_path` any more (gone meanwhile is success)."""
    # -f aborts the requests in flight (a dead server), -l detaches at once
    # even if files are open
    args = ["-i", "-c", *(["-f", "-l"] if force else []), "--", local_path]
    try:
        result = await runner.run("umount", *args, timeout=UNMOUNT_TIMEOUT)
    except Timeout:
        raise Timeout(f"unmounting {local_path} took longer than {UNMOUNT_TIMEOUT} s "
                      "(its server does not answer?); pass force to detach it") from None
    if result.ok:
        return
    line = result.error_line()
    if "busy" in line:
        raise Busy(f"{local_path} is in use (a process has a file open or its working "
                   "directory there); stop it, or pass force to detach the mount")
    if "not mounted" in line:
        return                                   # gone meanwhile
    raise Failed(f"cannot unmount {local_path}: {line}")


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

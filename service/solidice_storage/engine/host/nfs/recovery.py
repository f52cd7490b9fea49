# SPDX-License-Identifier: LGPL-2.1-or-later
"""MountNfs calls a daemon that died left half-done (their intent records,
intents.py): finished where the mount is there or kept, undone otherwise."""

from typing import TYPE_CHECKING

from .... import validation
from ...intents import Intent
from .config import Wanted

if TYPE_CHECKING:
    from .mounts import NfsMounts

MOUNT_KIND = "nfs-mount"       # a MountNfs call's intent record
NFS_KINDS = frozenset({MOUNT_KIND})


async def recover(mounts: "NfsMounts", intent: Intent) -> str:
    """A MountNfs cut short by a crash, from its record and the mount table
    (read by `start`): mounted, it is finished; recorded persistent, it is
    finished by the keeper once serving, as any missing persistent mount is;
    otherwise it is undone: the persistent record as it was before the call,
    and the mount point directories it created removed (`rmdir`: only if empty)."""
    wanted = Wanted.from_json(intent.data["wanted"], mounts.roots)
    previous = intent.data.get("previous")
    previous = Wanted.from_json(previous, mounts.roots) if previous is not None else None
    path = wanted.local_path
    entry = mounts.current.get(path)
    if entry is not None and mounts.is_mount_of(entry, wanted):
        return f"{wanted.server}:{wanted.remote_path} is mounted on {path} (finished)"
    if wanted.options.persistent and mounts.wanted.get(path) == wanted:
        return (f"{path} is recorded persistent: it is mounted once the daemon serves "
                "(finished)")
    if mounts.wanted.get(path) != previous:
        await mounts.record(path, previous)
    created = [validation.local_path(d, mounts.roots)
               for d in intent.data.get("created", [])
               if isinstance(d, str) and (d == path or path.startswith(d + "/"))]
    if entry is None and created:
        await mounts.mount_points.remove_dirs(created)
    return f"nothing mounted on {path} (undone); removed what it created: " \
        f"{', '.join(created) or 'nothing'}"


async def recover_mounts(mounts: "NfsMounts", pending: list[Intent]) -> None:
    """Each of `pending` finished or undone (intents.settle), after `mounts.start`."""
    for intent in pending:
        await mounts.intents.settle(intent, recover(mounts, intent))

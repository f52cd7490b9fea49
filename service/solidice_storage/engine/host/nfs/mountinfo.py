# SPDX-License-Identifier: LGPL-2.1-or-later
"""The kernel's mount table (`/proc/self/mountinfo`): parsed, and watched.

The kernel signals a change of the table with EPOLLPRI on an open mountinfo file;
the file is always readable, so waiting for input would spin. An epoll set of our
own waits for exactly that, and its fd is what the event loop watches. Reading the
table asks no NFS server: the kernel writes it from memory.
"""

import asyncio
import logging
import re
import select
from dataclasses import dataclass
from typing import Awaitable, Callable

from ...debounce import Debounced

log = logging.getLogger(__name__)
MOUNTINFO = "/proc/self/mountinfo"
NFS_TYPES = ("nfs", "nfs4")


@dataclass(frozen=True)
class MountEntry:
    """One line of mountinfo."""
    local_path: str
    fstype: str
    source: str
    options: str               # the mount's options, then its superblock's
    device: str = ""           # "major:minor" of the filesystem's device


_ESCAPE = re.compile(rb"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes, any
    other byte as it is: a path need not be UTF-8 (any user can make one and mount
    a FUSE filesystem there). Bytes that are not UTF-8 come back as surrogates
    (os.fsdecode's form), which `representable` tells apart."""
    return _ESCAPE.sub(lambda match: bytes([int(match.group(1), 8) & 0xff]),
                       field).decode("utf-8", "surrogateescape")


def representable(text: str) -> bool:
    """Whether `text` is valid UTF-8 text (what a D-Bus string must be)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_mountinfo(table: bytes | str) -> list[MountEntry]:
    """Every mount, in the table's order (a later mount on a path hides an earlier)."""
    if isinstance(table, str):
        table = table.encode("utf-8", "surrogateescape")
    entries = []
    for line in table.split(b"\n"):
        if not line:
            continue
        fields = line.split(b" ")
        try:
            tail = fields[fields.index(b"-") + 1:]
            mount_options, super_options = fields[5].split(b","), tail[2].split(b",")
            options = b",".join(dict.fromkeys(mount_options + super_options))
            entries.append(MountEntry(_unescape(fields[4]), _unescape(tail[0]),
                                      _unescape(tail[1]), _unescape(options),
                                      fields[2].decode("ascii", "replace")))
        except (ValueError, IndexError):
            log.warning("unreadable mountinfo line: %r", line)
    return entries


def split_source(source: str) -> tuple[str, str] | None:
    """`server:/path` (the server in brackets when IPv6) → (server, path)."""
    if source.startswith("["):
        server, _, rest = source.partition("]")
        server, path = server + "]", rest[1:] if rest.startswith(":") else ""
    else:
        server, _, path = source.partition(":")
    return (server, path) if server and path.startswith("/") else None


def nfs_mounts(entries: list[MountEntry]) -> dict[str, MountEntry]:
    """The NFS mounts one can see, by local path: a path's last mount, if NFS.
    One whose path, source or options are not UTF-8 is left out (it cannot be
    named on D-Bus, nor made by us: our paths are validated text)."""
    visible = {entry.local_path: entry for entry in entries}
    mounts = {}
    for path, entry in visible.items():
        if entry.fstype not in NFS_TYPES or not split_source(entry.source):
            continue
        if all(map(representable, (entry.local_path, entry.source, entry.options))):
            mounts[path] = entry
        elif path not in _left_out:                 # said once, not at every re-read
            _left_out.add(path)
            log.warning("an NFS mount whose path, source or options are not UTF-8 is "
                        "not shown: %r from %r", path, entry.source)
    return mounts


_left_out: set[str] = set()


def read_mountinfo(path: str = MOUNTINFO) -> list[MountEntry]:
    """The mount table at `path` (the kernel's, or a test's stand-in)."""
    # procfs: the kernel writes this from memory, never asking an NFS server.
    # Bytes: a mount point's name is any bytes but NUL and '/'.
    with open(path, "rb") as table:
        return parse_mountinfo(table.read())


class MountinfoWatch:
    """Calls `on_change` once, `delay` seconds after the mount table changed (a
    burst of changes gives one call; a change during the call, one more)."""

    def __init__(self, on_change: Callable[[], Awaitable[None]], delay: float = 0.1,
                 path: str = MOUNTINFO) -> None:
        self._refresh = Debounced(on_change, delay, "re-reading the mount table")
        self._path = path
        self._file = None
        self._epoll: select.epoll | None = None

    def start(self) -> None:
        self._file = open(self._path, "rb", buffering=0)
        self._epoll = select.epoll()
        self._epoll.register(self._file.fileno(), select.EPOLLPRI | select.EPOLLERR)
        asyncio.get_running_loop().add_reader(self._epoll.fileno(), self._drain)

    def _drain(self) -> None:
        # polling the mountinfo file is what acknowledges the change (fs/proc_namespace.c)
        self._epoll.poll(0)
        self._refresh.poke()

    def close(self) -> None:
        if self._epoll is not None:
            asyncio.get_running_loop().remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._file.close()
            self._epoll = self._file = None
        self._refresh.cancel()

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

from .debounce import Debounced

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


_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Every mount, in the table's order (a later mount on a path hides an earlier)."""
    entries = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            tail = fields[fields.index("-") + 1:]
            mount_options, super_options = fields[5].split(","), tail[2].split(",")
            options = ",".join(dict.fromkeys(mount_options + super_options))
            entries.append(MountEntry(_unescape(fields[4]), tail[0], _unescape(tail[1]),
                                      options))
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
    """The NFS mounts one can see, by local path: a path's last mount, if NFS."""
    visible = {entry.local_path: entry for entry in entries}
    return {path: entry for path, entry in visible.items()
            if entry.fstype in NFS_TYPES and split_source(entry.source)}


def read_mountinfo() -> list[MountEntry]:
    # procfs: the kernel writes this from memory, never asking an NFS server
    with open(MOUNTINFO) as table:
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

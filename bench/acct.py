# SPDX-License-Identifier: LGPL-2.1-or-later
"""Counting the processes a daemon starts, with BSD process accounting (acct(2)).

The kernel appends one record per exiting process to the accounting file; a
record is `struct acct_v3` of <linux/acct.h>, 64 bytes, the command name
(`ac_comm`, 16 bytes, NUL-padded) at the end. A process is recorded when it
exits, so a count read right after a call misses what the daemon still runs:
read it again once the machine is idle.
"""

import ctypes
import os
import struct
from dataclasses import dataclass
from pathlib import Path

# ac_flag, ac_version, ac_tty, ac_exitcode, ac_uid, ac_gid, ac_pid, ac_ppid,
# ac_btime, ac_etime (float), 8 comp_t (u16), ac_comm[16]
RECORD = struct.Struct("<BBHIIIIIIf8H16s")
ACCT_V3 = 3
# Debian's LVM commands are all links to `lvm`; the others in case they are not.
LVM_NAMES = frozenset({"lvm", "lvs", "vgs", "pvs", "lvcreate", "lvremove", "lvextend",
                       "lvresize", "vgchange", "lvchange", "pvscan", "vgscan"})


@dataclass(frozen=True)
class Record:
    pid: int
    ppid: int
    comm: str


def parse(data: bytes) -> list[Record]:
    """The v3 records in `data` (a partial record at the end is left out)."""
    if len(data) >= RECORD.size and data[1] & 0x0F != ACCT_V3:
        raise ValueError(f"not acct v3 records (version byte {data[1]:#x})")
    records = []
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        fields = RECORD.unpack_from(data, offset)
        comm = fields[-1].split(b"\0", 1)[0].decode("ascii", "replace")
        records.append(Record(pid=fields[6], ppid=fields[7], comm=comm))
    return records


def count_lvm(records: list[Record], parents: set[int] | None = None) -> int:
    """Records of LVM commands; only children of `parents` when given."""
    return sum(1 for record in records if record.comm in LVM_NAMES
               and (parents is None or record.ppid in parents))


class Accounting:
    """Process accounting switched on into `path` while in use; marks are byte
    offsets into the file, counts are taken between two marks."""

    def __init__(self, path: str = "/tmp/bench-pacct") -> None:
        self.path = Path(path)
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.on = False

    def __enter__(self) -> "Accounting":
        self.path.write_bytes(b"")
        if self.libc.acct(os.fsencode(self.path)) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"acct({self.path}): {os.strerror(error)}")
        self.on = True
        return self

    def __exit__(self, *exc) -> None:
        if self.on:
            self.libc.acct(None)
            self.on = False
        self.path.unlink(missing_ok=True)

    def mark(self) -> int:
        return self.path.stat().st_size

    def between(self, start: int, end: int) -> list[Record]:
        with open(self.path, "rb") as file:
            file.seek(start)
            return parse(file.read(end - start))

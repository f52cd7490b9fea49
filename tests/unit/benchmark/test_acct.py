# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/acct.py's record parsing, on made-up records."""

import struct

from bench import acct


def record(pid: int, ppid: int, comm: bytes) -> bytes:
    """One struct acct_v3 as the kernel writes it (little-endian)."""
    return struct.pack("<BBHIIIIIIf8H16s", 0, 3, 0, 0, 0, 0, pid, ppid, 0, 0.0,
                       *([0] * 8), comm)


def test_acct_v3_record_is_64_bytes():
    assert acct.RECORD.size == 64


def test_parse_reads_pid_ppid_and_command_name():
    data = record(10, 1, b"lvm") + record(11, 10, b"true") + b"\0" * 5
    assert acct.parse(data) == [acct.Record(10, 1, "lvm"), acct.Record(11, 10, "true")]


def test_count_lvm_by_parent():
    records = acct.parse(record(10, 7, b"lvm") + record(11, 8, b"lvm") +
                         record(12, 7, b"python3"))
    assert acct.count_lvm(records) == 2
    assert acct.count_lvm(records, {7}) == 1


def test_parse_refuses_other_versions():
    data = bytearray(record(1, 1, b"lvm"))
    data[1] = 2
    try:
        acct.parse(bytes(data))
    except ValueError:
        return
    raise AssertionError("a v2 record was parsed")

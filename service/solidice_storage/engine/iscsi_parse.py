"""iscsiadm's answers, parsed, and its exit codes turned into the contract's errors.

Sources (open-iscsi 2.1): `iscsiadm -m session`, `iscsiadm -m discovery -t st`, and
the exit codes of include/iscsi_err.h. Test data: tests/unit/data/lab/iscsiadm-*.txt.
"""

import re
from dataclasses import dataclass

from ..errors import AlreadyExists, Failed, NotFound, StorageError, Timeout
from .host.runner import Result

# include/iscsi_err.h
ERR_TRANS_TIMEOUT = 8
ERR_SESS_EXISTS = 15
ERR_NO_OBJS_FOUND = 21
ERR_LOGIN_AUTH_FAILED = 24

_SESSION = re.compile(r"^\S+: \[(\d+)\] (\S+),\d+ (\S+)")       # tcp: [1] a:p,1 iqn (…)
_NODE = re.compile(r"^(\S+),\d+ (\S+)$")                           # a:p,1 iqn


@dataclass(frozen=True)
class Session:
    sid: int
    target: str
    portal: str         # address:port


def parse_sessions(result: Result) -> list[Session]:
    """`iscsiadm -m session`; no session at all is exit 21 and an empty list."""
    if result.returncode == ERR_NO_OBJS_FOUND:
        return []
    if not result.ok:
        raise error_for(result, "list iSCSI sessions")
    sessions = []
    for line in result.stdout.splitlines():
        if match := _SESSION.match(line):
            sessions.append(Session(int(match[1]), match[3], match[2]))
    return sessions


_P3_PORTAL = re.compile(r"^\s*Current Portal: (\S+),\d+")
_P3_TARGET = re.compile(r"^Target: (\S+)")
_P3_DISK = re.compile(r"^\s*Attached scsi disk (\S+)\s")


def parse_session_disks(text: str) -> dict[str, tuple[str, str]]:
    """Path device → (target, portal), from `iscsiadm -m session -P 3`."""
    disks, target, portal = {}, "", ""
    for line in text.splitlines():
        if match := _P3_TARGET.match(line):
            target = match[1]
        elif match := _P3_PORTAL.match(line):
            portal = match[1]
        elif match := _P3_DISK.match(line):
            disks[match[1]] = (target, portal)
    return disks


def parse_nodes(text: str) -> list[tuple[str, str]]:
    """(target, portal) pairs of `iscsiadm -m discovery -t st` or `-m node`."""
    return [(match[2], match[1]) for line in text.splitlines()
            if (match := _NODE.match(line.strip()))]


def error_for(result: Result, doing: str) -> StorageError:
    """The contract's error for a failed iscsiadm run, with its own words."""
    # A refused or unreachable portal's own words come before iscsiadm's summary.
    connect = [line for line in result.stderr.splitlines() if "cannot make connection" in line]
    reason = (connect[-1].strip() if connect else result.error_line()).removeprefix("iscsiadm: ")
    if result.returncode == ERR_LOGIN_AUTH_FAILED:
        return Failed(f"cannot {doing}: authorization failure; check the CHAP username "
                      "and password")
    if result.returncode == ERR_TRANS_TIMEOUT:
        return Timeout(f"cannot {doing}: the portal did not answer ({reason})")
    if result.returncode == ERR_NO_OBJS_FOUND:
        return NotFound(f"cannot {doing}: {reason}")
    if result.returncode == ERR_SESS_EXISTS:
        return AlreadyExists(f"cannot {doing}: {reason}")
    return Failed(f"cannot {doing}: {reason}")

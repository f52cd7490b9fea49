# SPDX-License-Identifier: LGPL-2.1-or-later
"""iscsiadm: the one place that runs it (every argument list), its answers parsed
and its exit codes turned into the contract's errors.

Sources (open-iscsi 2.1): `iscsiadm -m discovery -t st`, and the exit codes of
include/iscsi_err.h. Test data: tests/unit/data/lab/iscsiadm-*.txt. Secrets never
reach a command line: they are in the record files (records.py); `secrets` only
blanks them out of iscsiadm's answers.
"""

import re

from ....errors import AlreadyExists, Failed, NotFound, StorageError, Timeout
from ..runner import Result, Runner

# include/iscsi_err.h
ERR_TRANS_TIMEOUT = 8
ERR_SESS_EXISTS = 15
ERR_NO_OBJS_FOUND = 21
ERR_LOGIN_AUTH_FAILED = 24
RECORD_TIMEOUT = 30             # seconds a change to iscsiadm's database may take
LOGOUT_TIMEOUT = 60
RESCAN_TIMEOUT = 60

_NODE = re.compile(r"^(\S+),\d+ (\S+)$")                           # a:p,1 iqn


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


def _node(target: str, portal: str) -> tuple[str, ...]:
    return ("-m", "node", "-T", target, "-p", portal)


async def discover(runner: Runner, portal: str, timeout: float, secrets: tuple[str, ...],
                   with_record: bool = False) -> Result:
    """SendTargets discovery on `portal`, writing no record; `with_record`: through
    the portal's discovery record (its CHAP credentials)."""
    mode = ("-m", "discoverydb", "-t", "st", "-p", portal, "--discover") if with_record \
        else ("-m", "discovery", "-t", "st", "-p", portal)
    return await runner.run("iscsiadm", *mode, "-o", "nonpersistent", timeout=timeout,
                            secrets=secrets)


async def new_discovery_record(runner: Runner, portal: str) -> Result:
    return await runner.run("iscsiadm", "-m", "discoverydb", "-t", "st", "-p", portal,
                            "-o", "new", timeout=RECORD_TIMEOUT)


async def new_node_record(runner: Runner, target: str, portal: str) -> Result:
    return await runner.run("iscsiadm", *_node(target, portal), "-o", "new",
                            timeout=RECORD_TIMEOUT)


async def delete_node_record(runner: Runner, target: str, portal: str) -> Result:
    return await runner.run("iscsiadm", *_node(target, portal), "-o", "delete",
                            timeout=RECORD_TIMEOUT)


async def login(runner: Runner, target: str, portal: str, timeout: float,
                secrets: tuple[str, ...]) -> Result:
    return await runner.run("iscsiadm", *_node(target, portal), "--login",
                            timeout=timeout, secrets=secrets)


async def logout_node(runner: Runner, target: str, portal: str) -> Result:
    """Stops a login iscsid may still be making (or its session)."""
    return await runner.run("iscsiadm", *_node(target, portal), "--logout",
                            timeout=LOGOUT_TIMEOUT)


async def logout_session(runner: Runner, sid: int, timeout: float) -> Result:
    return await runner.run("iscsiadm", "-m", "session", "-r", str(sid), "--logout",
                            timeout=timeout)


async def rescan_sessions(runner: Runner) -> None:
    """Every session's target asked for LUNs mapped since login."""
    result = await runner.run("iscsiadm", "-m", "session", "--rescan",
                              timeout=RESCAN_TIMEOUT)
    if not result.ok and result.returncode != ERR_NO_OBJS_FOUND:
        raise error_for(result, "rescan the iSCSI sessions")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Waiting for the event a lab test asserts, not for a time: a line in the daemon's
--debug log, or a tool the daemon runs being at work. Each wait has a generous
bound (the lab runs under emulation on a loaded machine) and says what it waited
for when the bound passes."""

import asyncio
import contextlib
import os
from pathlib import Path

from lab.host import LOGS

DAEMON_LOG = LOGS / "solidice-storaged.log"


def log_mark() -> int:
    """Where the daemon's log ends now: what it logs from here on is "since" it."""
    return os.path.getsize(DAEMON_LOG)


def log_since(mark: int) -> str:
    with open(DAEMON_LOG, "rb") as log:
        log.seek(mark)
        return log.read().decode(errors="replace")


def _first(lines: list[str], matches, after: str | None) -> str | None:
    if after is not None:
        start = next((n for n, line in enumerate(lines) if after in line), None)
        if start is None:
            return None
        lines = lines[start + 1:]
    return next((line for line in lines if matches(line)), None)


async def logged(mark: int, matches, what: str, after: str | None = None,
                 timeout: float = 180) -> str:
    """The first line logged since `mark` for which `matches(line)` holds (after
    the first line that contains `after`, if given)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        line = _first(log_since(mark).splitlines(), matches, after)
        if line is not None:
            return line
        if loop.time() > end:
            raise AssertionError(f"no {what} in the daemon's log within {timeout:g} s; "
                                 f"since the mark:\n{log_since(mark)[-4000:]}")
        await asyncio.sleep(0.1)


def lvm_refreshed(vg_name: str):
    """A line the LVM refresh logs once a report of `vg_name` (or of everything) is
    read and published (engine/host/lvm/refresh.py, with --debug)."""
    def matches(line: str) -> bool:
        if "LVM refreshed: " not in line:
            return False
        what = line.split("LVM refreshed: ", 1)[1].rsplit(" read and published", 1)[0]
        return what == "everything" or vg_name in what.split(", ")
    return matches


def _cmdline(pid: str) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    return []


async def iscsi_login_running(target: str, portal: str, timeout: float = 120) -> None:
    """Until an `iscsiadm … --login` of `target` through `portal` runs: the daemon's
    login is under way (iscsiadm waits for iscsid's answer meanwhile)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            argv = _cmdline(pid)
            if argv and argv[0].endswith("iscsiadm") and "--login" in argv \
                    and target in argv and any(a.startswith(portal) for a in argv):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no iscsiadm login of {target} through {portal} within "
                         f"{timeout:g} s")

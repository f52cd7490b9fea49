# SPDX-License-Identifier: LGPL-2.1-or-later
"""The crash harness: the daemon SIGKILLs itself at a named crash point (see
service/solidice_storage/engine/intents.py), then starts again as systemd's
Restart=on-failure would start it. Any lab test can use it:

    with crash_at(lab, "create-vg:pvcreate-done") as crashed:
        reply = await bus.host("CreateVolumeGroup", ...)     # the daemon dies here
    assert crashed.died and reply[1] == NO_REPLY            # and is up again now

Crash points are "<intent kind>:<step>": each multi-step change has "started"
(its record written, nothing done), one per step it records, and "before-end"
(everything done, the record not yet removed).

The daemon is armed through a file (SOLIDICE_CRASH_AT_FILE): the one started after
a crash, which is the one that recovers, is also the one armed for the next crash
point, so each point costs one daemon start. The file is emptied before that
start, so a recovery never meets the point it recovers from.
"""

import signal
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.host import LabError, wait_for

CRASH_FILE_ENV = "SOLIDICE_CRASH_AT_FILE"
ARMED = Path("/run/solidice-storage-crash-point")
NO_REPLY = "org.freedesktop.DBus.Error.NoReply"
_armable: set[int] = set()          # pids of daemons started with the file named


@dataclass
class Crash:
    point: str
    died: bool = False
    status: int | None = None


def _start_armable(lab, signum: int):
    ARMED.write_text("")
    daemon = lab.restart_daemon(signum, env={CRASH_FILE_ENV: str(ARMED)})
    _armable.add(daemon.pid)
    return daemon


@contextmanager
def crash_at(lab, point: str, timeout: float = 60):
    """Run the body against a daemon armed to die at `point`; restart it after.
    `died` says whether it did (and `status` is its exit status: -9)."""
    crash = Crash(point)
    armed = lab.services["solidice-storaged"]
    if armed.pid not in _armable or not armed.alive():
        armed = _start_armable(lab, signal.SIGTERM)
    ARMED.write_text(point)
    try:
        yield crash
        try:
            wait_for(lambda: not armed.alive(), f"the daemon to die at {point}", timeout)
        except LabError:
            pass
        crash.died = not armed.alive()
        crash.status = armed.proc.returncode
    finally:
        ARMED.write_text("")
        _start_armable(lab, signal.SIGKILL)    # a no-op stop if it died, as it should

"""The crash harness: the daemon SIGKILLs itself at a named crash point (see
service/solidice_storage/engine/intents.py), then starts again as systemd's
Restart=on-failure would start it. Any lab test can use it:

    with crash_at(lab, "create-vg:pvcreate-done") as crashed:
        reply = await bus.host("CreateVolumeGroup", ...)     # the daemon dies here
    assert crashed.died and reply[1] == NO_REPLY            # and is up again now

Crash points are "<intent kind>:<step>": each multi-step change has "started"
(its record written, nothing done), one per step it records, and "before-end"
(everything done, the record not yet removed).
"""

import signal
from contextlib import contextmanager
from dataclasses import dataclass

from labhost import LabError, wait_for

CRASH_ENV = "SOLIDICE_CRASH_AT"
NO_REPLY = "org.freedesktop.DBus.Error.NoReply"


@dataclass
class Crash:
    point: str
    died: bool = False
    status: int | None = None


@contextmanager
def crash_at(lab, point: str, timeout: float = 60):
    """Run the body against a daemon armed to die at `point`; restart it after.
    `died` says whether it did (and `status` is its exit status: -9)."""
    crash = Crash(point)
    armed = lab.restart_daemon(env={CRASH_ENV: point})
    try:
        yield crash
        try:
            wait_for(lambda: not armed.alive(), f"the daemon to die at {point}", timeout)
        except LabError:
            pass
        crash.died = not armed.alive()
        crash.status = armed.proc.returncode
    finally:
        lab.restart_daemon(signal.SIGKILL)      # a no-op stop if it died, as it should

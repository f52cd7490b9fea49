# SPDX-License-Identifier: LGPL-2.1-or-later
"""Intent records: what a multi-step change was doing, kept on disk until it is done.

A change made of several commands (pvcreate on some devices, then vgcreate) writes
a record before its first command and updates it after each step; the record is
removed when the change is complete, or has been undone after a failure. If the
daemon dies in between (SIGKILL, a power cut, an OOM kill), the record is still
there at the next start, and the engine that owns its kind finishes or undoes the
change before the daemon answers anyone: `by_owner` hands each domain its records
(its recovery.py: host/lvm/, host/iscsi/, host/nfs/), and a kind no domain owns is
left in place for a human.
A recovery looks at the system, not only at the step: a SIGKILL can fall inside
a command as well as between two.

Records are small JSON files in `<state directory>/intents/`, written to a
temporary name, fsynced and renamed, so a record is either whole or absent. The
state directory is local (systemd's StateDirectory=, /var/lib/solidice-storage),
so these writes cannot hang the way an NFS path could; they still run off the
event loop.

Crash points: for the lab's crash harness, `SOLIDICE_CRASH_AT=<point>` in the
daemon's environment makes it SIGKILL itself when it reaches that point (each
step of each record is one). `SOLIDICE_CRASH_AT_FILE=<path>` instead names a file
holding the point, read at each crash point: the harness arms and disarms one
daemon many times without a restart to arm it. Only the service manager sets the
daemon's environment; unset, `crash_point` is two dictionary lookups and nothing
more.
"""

import asyncio
import itertools
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable

from .files import sync_directory, write_atomically

log = logging.getLogger(__name__)
STATE_DIR = Path("/var/lib/solidice-storage")
CRASH_ENV = "SOLIDICE_CRASH_AT"
CRASH_FILE_ENV = "SOLIDICE_CRASH_AT_FILE"


def crash_point(name: str) -> None:
    """Die here, as a SIGKILL would, when the crash harness asks for this point."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted is None and (armed := os.environ.get(CRASH_FILE_ENV)):
        try:             # the harness's few bytes on a local disk, in tests only
            wanted = Path(armed).read_text().strip()
        except OSError:
            wanted = None
    if wanted == name:
        log.warning("crash point %s: killing myself as asked (%s)", name, CRASH_ENV)
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Intent:
    """One change in progress. `data` says what it needs to be finished or undone."""
    kind: str
    data: dict[str, Any]
    step: str = "started"
    id: str = ""
    path: Path | None = field(default=None, repr=False)


class Intents:
    def __init__(self, state_dir: Path | None = None) -> None:
        self.directory = (state_dir or STATE_DIR) / "intents"
        self._ids = itertools.count(1)

    async def begin(self, kind: str, **data: Any) -> Intent:
        """Write the record of a change about to start."""
        intent = Intent(kind=kind, data=data,
                        id=f"{int(time.time() * 1000)}-{os.getpid()}-{next(self._ids)}")
        intent.path = self.directory / f"{intent.id}.json"
        await asyncio.to_thread(self._write, intent)
        crash_point(f"{kind}:started")
        return intent

    async def step(self, intent: Intent, step: str, **data: Any) -> None:
        """The change got this far (a command finished); record it."""
        intent.step = step
        intent.data.update(data)
        await asyncio.to_thread(self._write, intent)
        crash_point(f"{intent.kind}:{step}")

    async def end(self, intent: Intent) -> None:
        """The change is complete, or undone: forget it."""
        crash_point(f"{intent.kind}:before-end")
        await asyncio.to_thread(self._remove, intent)

    async def settle(self, intent: Intent, recovery: Awaitable[str]) -> bool:
        """Run one record's recovery (which says what it did) and forget the record;
        if the recovery fails, the record stays for the next start."""
        try:
            outcome = await recovery
            await self.end(intent)
        except Exception:
            log.exception("recovering %s (%s) failed; the record stays for the next "
                          "start", intent.path, intent.kind)
            return False
        log.warning("recovered an unfinished %s (it had reached %s): %s", intent.kind,
                    intent.step, outcome)
        return True

    async def pending(self) -> list[Intent]:
        """Records left by a daemon that died mid-change, oldest first."""
        return await asyncio.to_thread(self._read_all)

    def _write(self, intent: Intent) -> None:
        text = json.dumps({"kind": intent.kind, "step": intent.step, "data": intent.data},
                          sort_keys=True)
        write_atomically(intent.path, text)

    def _remove(self, intent: Intent) -> None:
        try:
            intent.path.unlink()
        except FileNotFoundError:
            return
        sync_directory(self.directory)

    def _read_all(self) -> list[Intent]:
        if not self.directory.is_dir():
            return []
        intents = []
        for path in sorted(self.directory.glob("*.json"), key=_age):
            try:
                record = json.loads(path.read_text())
                intents.append(Intent(kind=record["kind"], data=record["data"],
                                      step=record["step"], id=path.stem, path=path))
            except (OSError, ValueError, KeyError, TypeError) as error:
                # a record we cannot read cannot be acted on; keep it for a human
                log.error("intent record %s is unreadable (%s); left in place", path, error)
        for stale in self.directory.glob("*.tmp"):     # a write cut short: never renamed
            stale.unlink(missing_ok=True)
        return intents


def by_owner(pending: list[Intent],
             owners: dict[str, frozenset[str]]) -> dict[str, list[Intent]]:
    """Each owner's records (owner name → the kinds it recovers), oldest first. A
    record of a kind no one owns is logged and left in place: this daemon does
    not know what it would take to finish or undo it."""
    mine: dict[str, list[Intent]] = {owner: [] for owner in owners}
    for intent in pending:
        owner = next((name for name, kinds in owners.items() if intent.kind in kinds), None)
        if owner is None:
            log.error("intent record %s of unknown kind %r left in place", intent.path,
                      intent.kind)
        else:
            mine[owner].append(intent)
    return mine


def _age(path: Path) -> tuple:
    """Records sort by the time in their names (milliseconds-pid-counter)."""
    try:
        return tuple(int(part) for part in path.stem.split("-"))
    except ValueError:
        return (float("inf"), path.stem)

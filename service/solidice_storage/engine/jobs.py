# SPDX-License-Identifier: LGPL-2.1-or-later
"""Jobs: long operations exported like any object, with progress and cancelling."""

import asyncio
import itertools
import secrets
from typing import Iterable

from .. import models
from ..errors import Cancelled
from .store import StateStore


class JobHandle:
    """A running job: the engine reports progress and checks for cancellation."""

    def __init__(self, store: StateStore, job: models.Job) -> None:
        self._store = store
        self.job = job
        self.cancelled = asyncio.Event()

    @property
    def id(self) -> int:
        return self.job.id

    def progress(self, fraction: float) -> None:
        self.job = self.job.model_copy(update={"progress": min(max(fraction, 0.0), 1.0)})
        self._store.publish([self.job])

    def check(self) -> None:
        """Raise `Cancelled` if someone cancelled the job."""
        if self.cancelled.is_set():
            raise Cancelled(f"job {self.id} ({self.job.operation}) was cancelled")

    def cancellable(self, value: bool) -> None:
        self.job = self.job.model_copy(update={"cancelable": value})
        self._store.publish([self.job])


def first_job_id() -> int:
    """Where one start's job numbers begin: a random 9-digit number. Jobs are not
    kept across restarts, but their paths must not come again after one: a client
    that saw Job/1 complete would take the next start's Job/1 for it."""
    return 10**8 + secrets.randbelow(9 * 10**8)


class Jobs:
    """Jobs live in the store like any object, so they are exported the same way.
    Numbered in order from a random start (`first_job_id`)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._ids = itertools.count(first_job_id())
        self._running: dict[int, JobHandle] = {}

    def start(self, operation: str, objects: Iterable[tuple[str, str]],
              uid: int, cancelable: bool = True) -> JobHandle:
        job = models.Job(id=next(self._ids), operation=operation,
                         objects=tuple(objects), started_by_uid=uid,
                         cancelable=cancelable)
        handle = JobHandle(self._store, job)
        self._running[job.id] = handle
        self._store.publish([job])
        return handle

    def finish(self, handle: JobHandle, error: BaseException | None) -> None:
        self._running.pop(handle.id, None)
        message = "" if error is None else str(error) or type(error).__name__
        self._store.publish(removals=[("Job", handle.job.key)],
                            completed=[(handle.id, error is None, message)])

    def cancel(self, job_id: int) -> None:
        handle = self._running.get(job_id)
        if handle is not None:
            handle.cancelled.set()

    async def run(self, handle: JobHandle, work):
        """Await `work`, then complete the job with its outcome (re-raised)."""
        try:
            result = await work
        except BaseException as error:
            self.finish(handle, error)
            raise
        self.finish(handle, None)
        return result

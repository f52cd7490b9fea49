# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a command shows (`Output`: data for --json, text for people), built the same
way for every level, and the object tree read once for names across objects."""

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any, Callable

from ..client import OperationCancelledError, StorageClient, events
from ..client.objects import StorageObject
from .format import Progress, fields, table


class Output:
    """What a command shows: `data` for --json, `text` for people."""

    def __init__(self, data: Any, text: str) -> None:
        self.data, self.text = data, text


def show(output: Output, as_json: bool) -> None:
    """Print `output`. A reader that stopped early (`| head`) is no error: the rest
    goes nowhere."""
    try:
        print(json.dumps(output.data, indent=2) if as_json else output.text, flush=True)
    except BrokenPipeError:
        # Python's own advice: point stdout at /dev/null so that the flush at
        # exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def dump(handle: StorageObject) -> dict[str, Any]:
    return {"object_path": handle.object_path, **handle.state.model_dump(mode="json")}


class Tree:
    """The object tree read once (GetManagedObjects), for names across objects."""

    def __init__(self, handles: list[StorageObject]) -> None:
        self.handles = handles
        self.vg_names = {h.uuid: h.name for h in handles if h.KIND == "VolumeGroup"}
        self.pvs = {h.uuid: h for h in handles if h.KIND == "PhysicalVolume"}

    @classmethod
    async def read(cls, storage: StorageClient) -> "Tree":
        return cls(await storage.objects())

    def of(self, kind: str) -> list[StorageObject]:
        return [h for h in self.handles if h.KIND == kind]

    async def in_vg(self, storage: StorageClient, kind: str,
                    vg_ref: str | None) -> list[StorageObject]:
        """The objects of `kind`; only volume group `vg_ref`'s if given."""
        found = self.of(kind)
        if vg_ref:
            vg = await storage.volume_group(vg_ref)
            found = [h for h in found if h.volume_group == vg.uuid]
        return found

    def lv_name(self, lv: StorageObject) -> str:
        return f"{self.vg_names.get(lv.volume_group, '?')}/{lv.name}"

    def pv_named(self, uuid: str | None) -> str | None:
        """A PV as a person names it: its device, and its VG's name when in one."""
        pv = self.pvs.get(uuid)
        if pv is None:
            return uuid
        vg = self.vg_names.get(pv.volume_group)
        return f"{pv.device} (in {vg})" if vg else pv.device

    def lv_named(self, uuid: str | None) -> str | None:
        """`vg/lv` of the LV with UUID `uuid`; the UUID if it is not in the tree."""
        found = [h for h in self.of("LogicalVolume") if h.uuid == uuid]
        return self.lv_name(found[0]) if found else uuid


def _order(row: list) -> tuple:
    # Numbers as numbers (job ids), anything else as text; column by column.
    return tuple((0, c, "") if isinstance(c, int) else (1, 0, str(c)) for c in row)


def listing(handles: list[StorageObject], header: list[str],
            row: Callable[[Any], list]) -> Output:
    """A table and its JSON, both sorted by the table's columns, left first."""
    rows = sorted(((row(h), h) for h in handles), key=lambda pair: _order(pair[0]))
    return Output([dump(h) for _, h in rows], table([r for r, _ in rows], header))


def info(handle: StorageObject, *, names: dict[str, Any] | None = None,
         **extra: Any) -> Output:
    """The object's fields; `names` replaces a field's value in the text only (a VG's
    name for its UUID: people read names, scripts the keys)."""
    values = {**handle.state.model_dump(), **extra, **(names or {})}
    return Output({**dump(handle), **extra}, fields(values))


def done(handle: StorageObject | None, text: str) -> Output:
    return Output(dump(handle) if handle is not None else {}, text)


async def confirm(question: str, args: argparse.Namespace) -> None:
    """Return when the user answers yes to `question` on the terminal. Without a
    terminal (a script, a pipe) or with --non-interactive nobody is asked:
    ValueError (exit 2) saying to pass --yes. A no: OperationCancelledError
    (exit 1), nothing done."""
    if args.non_interactive or not sys.stdin.isatty():
        raise ValueError(f"{question[0].upper()}{question[1:].rstrip('?')}: not without "
                         "--yes when nobody can be asked")
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = await asyncio.to_thread(sys.stdin.readline)
    if answer.strip().lower() not in ("y", "yes"):
        raise OperationCancelledError("nothing done: the answer was not yes")


def call_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"no_user_interaction": True} if args.non_interactive else {}


async def with_progress(storage: StorageClient, operation: str, call) -> Any:
    """Run `call` (a coroutine) showing the progress of the job it starts."""
    bar = Progress(operation)
    watching, finished = asyncio.Event(), asyncio.Event()

    async def follow() -> None:
        async for event in storage.watch(watching):
            if (isinstance(event, (events.ObjectAdded, events.ObjectChanged))
                    and event.kind == "Job" and event.object.operation == operation):
                bar.update(event.object.progress)
            elif isinstance(event, events.JobCompleted):
                finished.set()

    follower = asyncio.create_task(follow())
    await watching.wait()
    try:
        result = await call
        # The job's signals came before the reply; let the follower show them.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(finished.wait(), 0.5)
        if bar.shown:
            bar.update(1.0)
        return result
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)   # the service may be gone
        bar.done()


async def follow_job(job, operation: str) -> None:
    bar = Progress(operation)
    try:
        async for fraction in job.follow():
            bar.update(fraction)
    finally:
        bar.done()

"""The host as a whole: `status` and `monitor` (the tree's changes as they happen)."""

import asyncio
import json
import signal
import sys

from ..client import events
from .format import fields
from .output import Output, dump

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def status(storage, args) -> Output:
    host = await storage.host()
    data = host.model_dump(mode="json")
    counts = {k: len(getattr(host, k)) for k in ("luns", "volume_groups", "mounts",
                                                 "iscsi_sessions")}
    return Output(data, fields({"version": host.version, "multipath": host.multipath,
                                "iscsi_initiator_name": host.iscsi_initiator_name,
                                **counts}))


def describe(event: events.Event) -> tuple[dict, str]:
    if isinstance(event, events.ObjectAdded):
        return ({"event": "added", "kind": event.kind, **dump(event.object)},
                f"added    {event.kind} {event.object.key}")
    if isinstance(event, events.ObjectRemoved):
        return ({"event": "removed", "kind": event.kind, "path": event.path,
                 "key": event.key}, f"removed  {event.kind} {event.key}")
    if isinstance(event, events.ObjectChanged):
        model = event.object.state
        changes = " ".join(f"{name}={getattr(model, name)}" for name in sorted(event.changed))
        return ({"event": "changed", "kind": event.kind, "changed": sorted(event.changed),
                 **dump(event.object)}, f"changed  {event.kind} {model.key} {changes}")
    if isinstance(event, events.JobCompleted):
        outcome = "succeeded" if event.success else f"failed: {event.message}"
        return ({"event": "completed", "kind": "Job", "path": event.path,
                 "job": event.job_id, "success": event.success, "message": event.message},
                f"job {event.job_id} {outcome}")
    return ({"event": "host-changed", "changed": sorted(event.changed)},
            f"changed  Host {' '.join(sorted(event.changed))}")


async def monitor(storage, args) -> None:
    """Print each change until SIGINT or SIGTERM, then return (exit 0). The
    handlers are the monitor's own: a script's background job starts with SIGINT
    ignored, and a monitor must still stop when told."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    printing = asyncio.ensure_future(_print_changes(storage, args))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({printing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (printing, stopping):
            task.cancel()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    if not stop.is_set():
        printing.result()                   # the watch's end: the service went away


async def _print_changes(storage, args) -> None:
    ready = asyncio.Event()
    announce = asyncio.ensure_future(_announce(ready))
    try:
        async for event in storage.watch(ready):
            data, text = describe(event)
            print(json.dumps(data) if args.json else text, flush=True)
    finally:
        announce.cancel()


async def _announce(ready: asyncio.Event) -> None:
    """Once every later change will be printed: a caller may start changing."""
    await ready.wait()
    print("watching org.solidice.Storage; Ctrl-C to stop", file=sys.stderr, flush=True)

"""The host as a whole: `status` and `monitor` (the tree's changes as they happen)."""

import json
import sys

from ..client import events
from .format import fields
from .output import Output, dump


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
    print("watching org.solidice.Storage; Ctrl-C to stop", file=sys.stderr, flush=True)
    async for event in storage.watch():
        data, text = describe(event)
        print(json.dumps(data) if args.json else text, flush=True)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""How `monitor` tells each change: one line for people, one JSON object of one
schema for scripts (MONITOR_HELP says it; `monitor --help` shows it)."""

from typing import Any

from .. import models, objpath
from ..client import events
from .format import human_size

MONITOR_HELP = """\
One line per change. With --json, one JSON object per line, all of one shape:
  event        added, changed, removed, completed (a job ended), host-changed,
               service-lost (the service stopped), service-back (it is serving again)
  kind         the object's kind (VolumeGroup, LogicalVolume, PhysicalVolume, Lun,
               Mount, IscsiSession, Job, Host); null for service-lost/-back
  object_path  the object's D-Bus path; null for service-lost/-back
  key          its stable key (UUID, WWID, local path, target@portal, job number);
               null for the Host and for service-lost/-back
and, as the event has them:
  changed      (changed, host-changed) the names of the properties that changed
  success, message   (completed) how the job ended
  the object's properties, named as in `--json <noun> info`: the new ones for
  added and changed, the last ones known for removed (when known), the Host's
  changed lists for host-changed, id for completed.
After service-back, the changes made while the service was away follow as added,
changed and removed events."""

# The client's events for the service going and coming back (`watch(resume=True)`),
# looked up so that this module works with a client that does not have them yet.
SERVICE_LOST = getattr(events, "ServiceLost", None)
SERVICE_BACK = getattr(events, "ServiceBack", None)


def label(model: models.Model) -> str:
    """An object as a person names it: a VG by name, an LV by its /dev path, a PV by
    its device, a job by number and operation; otherwise its key."""
    if isinstance(model, models.LogicalVolume):
        return model.path
    if isinstance(model, models.PhysicalVolume):
        return model.device
    if isinstance(model, models.Job):
        return f"{model.id} ({model.operation})" if model.operation else str(model.id)
    return getattr(model, "name", None) or model.key


def _base(event: str, kind: str | None, path: str | None, key: str | None) -> dict:
    return {"event": event, "kind": kind, "object_path": path, "key": key}


def _shown(name: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and (
            name == "size" or name.endswith("_size")):
        return human_size(value)
    return str(value)


def _object_event(event: Any) -> tuple[dict, str]:
    if isinstance(event, events.ObjectAdded):
        model = event.object.state
        return ({**_base("added", event.kind, event.path, model.key),
                 **model.model_dump(mode="json")}, f"added    {event.kind} {label(model)}")
    if isinstance(event, events.ObjectRemoved):
        last = event.object.state if event.object is not None else None
        return ({**_base("removed", event.kind, event.path, event.key),
                 **(last.model_dump(mode="json") if last else {})},
                f"removed  {event.kind} {label(last) if last else event.key}")
    model, changed = event.object.state, sorted(event.changed)
    values = " ".join(f"{name}={_shown(name, getattr(model, name))}" for name in changed)
    return ({**_base("changed", event.kind, event.path, model.key), "changed": changed,
             **model.model_dump(mode="json")},
            f"changed  {event.kind} {label(model)} {values}")


def describe(event: Any) -> tuple[dict, str]:
    """The event as (JSON object, line of text); see MONITOR_HELP for the schema."""
    if isinstance(event, (events.ObjectAdded, events.ObjectRemoved, events.ObjectChanged)):
        return _object_event(event)
    if isinstance(event, events.JobCompleted):
        outcome = "succeeded" if event.success else f"failed: {event.message}"
        return ({**_base("completed", "Job", event.path, str(event.job_id)),
                 "id": event.job_id, "success": event.success, "message": event.message},
                f"job {event.job_id} {outcome}")
    if isinstance(event, events.HostChanged):
        changed = sorted(event.changed)
        return ({**_base("host-changed", "Host", objpath.HOST, None), "changed": changed,
                 **{name: list(value) if isinstance(value, tuple) else value
                    for name, value in event.changed.items()}},
                f"changed  Host {' '.join(changed)}")
    if SERVICE_LOST is not None and isinstance(event, SERVICE_LOST):
        return _base("service-lost", None, None, None), "service stopped"
    if SERVICE_BACK is not None and isinstance(event, SERVICE_BACK):
        return _base("service-back", None, None, None), "service back"
    # An event a newer client has and this CLI does not know: said, not fatal.
    name = type(event).__name__
    return _base(name, None, None, None), name

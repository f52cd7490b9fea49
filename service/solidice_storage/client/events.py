# SPDX-License-Identifier: LGPL-2.1-or-later
"""What `StorageClient.watch()` yields: typed changes of the object tree."""

from dataclasses import dataclass
from typing import Any

from .. import models
from .objects import StorageObject


@dataclass(frozen=True)
class ObjectAdded:
    """An object appeared on the bus (InterfacesAdded)."""

    path: str
    object: StorageObject

    @property
    def kind(self) -> str:
        return self.object.KIND


@dataclass(frozen=True)
class ObjectRemoved:
    """An object left the bus (InterfacesRemoved); `object` is its last state."""

    path: str
    kind: str
    key: str
    object: StorageObject | None


@dataclass(frozen=True)
class ObjectChanged:
    """Properties of an object changed (PropertiesChanged): `object` holds the new
    model, `previous` the one before, `changed` the model fields that differ."""

    path: str
    object: StorageObject
    previous: models.Model
    changed: frozenset[str]

    @property
    def kind(self) -> str:
        return self.object.KIND


@dataclass(frozen=True)
class HostChanged:
    """Properties of the Host object changed (its lists of LUNs, VGs, mounts and
    sessions, by key)."""

    changed: dict[str, Any]


@dataclass(frozen=True)
class JobCompleted:
    """A job ended (Job.Completed): `success`, and the service's `message` if not."""

    path: str
    job_id: int
    success: bool
    message: str


@dataclass(frozen=True)
class ServiceLost:
    """The service's owner went (stopped, killed, replaced) or the connection to the
    bus was lost: no change is heard until ServiceBack (`watch(resume=True)`).
    `reason` says which, for people."""

    reason: str = ""


@dataclass(frozen=True)
class ServiceBack:
    """The service is back (`owner`: its unique name on the bus). The events that
    follow first are what changed while it was away: the caller's view, updated
    by them, is the service's tree now."""

    owner: str = ""


Event = (ObjectAdded | ObjectRemoved | ObjectChanged | HostChanged | JobCompleted
         | ServiceLost | ServiceBack)

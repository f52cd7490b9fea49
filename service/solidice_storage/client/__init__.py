# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python bindings for org.solidice.Storage.

    from solidice_storage.client import StorageClient

    async with StorageClient.connect() as storage:
        vg = await storage.create_volume_group("vg0", ["36001405…", "36001405…"])
        lv = await vg.create_logical_volume("disk0", 10 * GiB)

`StorageClient` is the asyncio client; `SyncStorageClient` the same, blocking.
Objects come back as handles (`VolumeGroup`, `LogicalVolume`, ...) that read
through to the pydantic models of `solidice_storage.models`, kept current from
the service's signals, and carry the object's methods. Errors are `StorageClientError`s, one class per named error.
"""

from ..models import BlockInfo
from .api import DiscoveredTarget, HostInfo, StorageClient
from .errors import (AlreadyExistsError, BusyError, FailedError,
                     InvalidArgumentError, JobFailedError, NoReplyError, NoSpaceError,
                     NotAuthorizedCanObtainError, NotAuthorizedError, NotFoundError,
                     NotSupportedError, OperationCancelledError,
                     ServiceUnavailableError, StorageClientError, TimedOutError)
from .events import (Event, HostChanged, JobCompleted, ObjectAdded, ObjectChanged,
                     ObjectRemoved, ServiceBack, ServiceLost)
from .objects import (IscsiSession, Job, LogicalVolume, Lun, Mount, PhysicalVolume,
                      StorageObject, VolumeGroup)
from .sync import SyncObject, SyncStorageClient
from .transport import CHANGE_TIMEOUT, READ_TIMEOUT

KiB, MiB, GiB, TiB = 1024, 1024**2, 1024**3, 1024**4

__all__ = [
    "StorageClient", "SyncStorageClient", "SyncObject", "HostInfo", "DiscoveredTarget",
    "BlockInfo", "READ_TIMEOUT", "CHANGE_TIMEOUT", "KiB", "MiB", "GiB", "TiB",
    "StorageObject", "Lun", "PhysicalVolume", "VolumeGroup", "LogicalVolume", "Mount",
    "IscsiSession", "Job",
    "Event", "ObjectAdded", "ObjectRemoved", "ObjectChanged", "HostChanged",
    "JobCompleted", "ServiceLost", "ServiceBack",
    "StorageClientError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError",
    "BusyError", "NoSpaceError", "TimedOutError", "OperationCancelledError",
    "NotSupportedError", "FailedError", "NotAuthorizedError",
    "NotAuthorizedCanObtainError", "ServiceUnavailableError", "NoReplyError",
    "JobFailedError",
]

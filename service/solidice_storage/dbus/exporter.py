# SPDX-License-Identifier: LGPL-2.1-or-later
"""Engine changes → exported objects. State flows one way: scan → diff → export.

Runs synchronously inside the engine's publish, so an object is on the bus before
the engine method that made it returns. InterfacesAdded/Removed go out from the
ObjectManager's root path, one per object with all its interfaces.
GetManagedObjects is answered from entries marshalled once (managed_objects.py).
"""

import logging
from functools import partial

from dbus_fast import Message

from .. import objpath
from ..engine.store import Changes
from ..models import Model
from .base import Context, ObjectInterface
from .bus import StorageBus
from .host import HostInterface
from .iscsi_session import IscsiSessionInterface
from .job import JobInterface
from .logical_volume import LogicalVolumeInterface
from .managed_objects import ManagedObjects
from .lun import LunInterface
from .mount import MountInterface
from .physical_volume import PhysicalVolumeInterface
from .storage_pool import StoragePoolInterface
from .volume_group import VolumeGroupInterface

log = logging.getLogger(__name__)
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"

INTERFACES = {
    "Lun": LunInterface, "VolumeGroup": VolumeGroupInterface,
    "PhysicalVolume": PhysicalVolumeInterface, "LogicalVolume": LogicalVolumeInterface,
    "Mount": MountInterface, "IscsiSession": IscsiSessionInterface, "Job": JobInterface,
}
HOST_LISTS = {"Lun", "VolumeGroup", "Mount", "IscsiSession"}


class Exporter:
    def __init__(self, bus: StorageBus, ctx: Context) -> None:
        self._bus = bus
        self._ctx = ctx
        self._objects: dict[str, ObjectInterface] = {}
        self._signals = False
        self.host = HostInterface(ctx)
        self.pool = StoragePoolInterface(ctx)
        self.managed = ManagedObjects(objpath.ROOT, self._interfaces_of)

    def export_all(self) -> None:
        """Export the engine's first scan (no signals: nobody knows us yet) and
        follow its changes from then on."""
        bus = self._bus
        bus.export(objpath.HOST, self.host)
        bus.export(objpath.HOST, self.pool)
        self.managed.added(objpath.HOST)
        for table in self._ctx.engine.store.objects.values():
            for model in table.values():
                self._add(model)
        self.host.update(None)
        self._signals = True
        self._ctx.engine.store.subscribe(self.apply)
        bus.add_message_handler(partial(self.managed.handle, bus.send))

    def apply(self, changes: Changes) -> None:
        for model in changes.upserts:
            current = self._objects.get(objpath.path(model.KIND, model.key))
            if current is None:
                self._add(model)
            elif current.update(model):
                self.managed.changed(objpath.path(model.KIND, model.key))
        for job_id, success, message in changes.completed:
            job = self._objects.get(objpath.path("Job", str(job_id)))
            if job is not None:
                job.Completed(success, message)
        for kind, key in changes.removals:
            self._remove(objpath.path(kind, key))
        kinds = {m.KIND for m in changes.upserts} | {k for k, _ in changes.removals}
        if (kinds & HOST_LISTS or changes.host) and self.host.update(None):
            self.managed.changed(objpath.HOST)

    def _interfaces_of(self, path: str) -> dict:
        """What GetManagedObjects shows of one path: as announced in signals."""
        if path == objpath.HOST:
            return {self.host.name: self.host.properties(),
                    self.pool.name: self.pool.properties()}
        interface = self._objects[path]
        return {interface.name: interface.properties()}

    def _add(self, model: Model) -> None:
        path = objpath.path(model.KIND, model.key)
        interface = INTERFACES[model.KIND](self._ctx, model)
        self._bus.export(path, interface)
        self._objects[path] = interface
        self.managed.added(path)
        if self._signals:
            self._bus.send(Message.new_signal(
                objpath.ROOT, OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}",
                [path, {interface.name: interface.properties()}]))

    def _remove(self, path: str) -> None:
        interface = self._objects.pop(path, None)
        if interface is None:
            return
        self._bus.unexport(path)
        self.managed.removed(path)
        self._bus.send(Message.new_signal(
            objpath.ROOT, OBJECT_MANAGER, "InterfacesRemoved", "oas",
            [path, [interface.name]]))

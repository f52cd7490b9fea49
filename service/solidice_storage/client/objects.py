# SPDX-License-Identifier: LGPL-2.1-or-later
"""Handles on the service's objects: the object's path, its properties as a model
(`state`), and the calls it takes.

A handle reads through to its model (`vg.name`, `lv.size`, `lun.model`), and the
model is the service's now: the client keeps the service's tree current from its
signals (`mirror.py`), so `vg.free_size` after an LV create is the VG's new free
size, without a read. While the service is away (stopped, restarting, the bus
lost) a handle keeps the state last known, as it does once its object has left
the bus; `refresh()` reads the object anew (NotFoundError once it is gone). The
objects of `watch()`'s events are pinned: they hold the object as the event left
it. Methods that change the host return when the service has finished (and the
object it made is on the bus, its changes in the handles), or raise a
`StorageClientError`.
"""

from collections.abc import AsyncIterator
from typing import Any, Literal, overload

from dbus_fast import Variant

from .. import models
from . import arguments as check
from . import convert
from .convert import INTERFACE
from .errors import NotFoundError, StorageClientError
from .tags import Tagged
from .transport import Transport


class StorageObject:
    """One object of the service: `object_path`, `state` (its model), and the
    model's fields as attributes (`lv.path` is the LV's device node, as in the
    model; `job.progress` a number, `job.follow()` the iterator)."""

    KIND = ""

    def __init__(self, transport: Transport, path: str, state: models.Model,
                 live: bool = True) -> None:
        self.transport = transport
        self.object_path = path
        self.live = live
        self._state = state

    @property
    def state(self) -> models.Model:
        """The object's model: the service's now if the handle is live and the
        client follows the service (else as last known: a removed object's last
        state, or the object as an event left it)."""
        if self.live:
            current = self.transport.mirror.model(self.object_path, self.KIND)
            if current is not None:
                self._state = current
        return self._state

    @state.setter
    def state(self, value: models.Model) -> None:
        self._state = value

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the handle lacks: the model's fields.
        if name in ("state", "_state", "live", "transport", "object_path"):
            raise AttributeError(name)
        return getattr(self.state, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.state.key!r} at {self.object_path}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorageObject) and (self.object_path, self.state) == (
            other.object_path, other.state)

    def __hash__(self) -> int:
        return hash(self.object_path)

    async def refresh(self) -> "StorageObject":
        """Read the object's properties again; returns the handle, updated.
        NotFoundError if it has left the bus."""
        try:
            self.state = await read_model(self.transport, self.KIND, self.object_path)
        except NotFoundError:
            raise NotFoundError(f"{self.KIND} {self.state.key} is no longer there "
                                f"({self.object_path} has left the bus)") from None
        return self

    async def _call(self, member: str, signature: str, *args: Any,
                    call_timeout: float | None = None, change: bool = True) -> Any:
        return await self.transport.call(self.object_path, self.KIND, member, signature,
                                         *args, call_timeout=call_timeout, change=change)


class Lun(StorageObject):
    """A LUN (model: `models.Lun`): a multipath map, or a disk used directly."""

    KIND = "Lun"


class PhysicalVolume(Tagged, StorageObject):
    """A physical volume (model: `models.PhysicalVolume`); infoPV is its model."""

    KIND = "PhysicalVolume"


class VolumeGroup(Tagged, StorageObject):
    """A volume group (model: `models.VolumeGroup`)."""

    KIND = "VolumeGroup"

    async def rename(self, name: str, *, no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Call the VG `name` (its object stays; its LVs' paths follow)."""
        opts = convert.options("VolumeGroup.Rename", no_user_interaction=no_user_interaction)
        await self._call("Rename", "sa{sv}", check.text(name, "name"), opts,
                         call_timeout=call_timeout)

    async def list_physical_volumes(self, **call: Any) -> list[PhysicalVolume]:
        """The VG's physical volumes (the seed's listPV)."""
        paths = await self._call("ListPhysicalVolumes", "a{sv}", {}, change=False, **call)
        return await objects_at(self.transport, paths)

    async def list_logical_volumes(self, **call: Any) -> list["LogicalVolume"]:
        """The VG's logical volumes, snapshots included (the seed's listLVs)."""
        paths = await self._call("ListLogicalVolumes", "a{sv}", {}, change=False, **call)
        return await objects_at(self.transport, paths)

    async def create_logical_volume(self, name: str, size: int, *,
                                    activate: bool | None = None,
                                    no_user_interaction: bool | None = None,
                                    call_timeout: float | None = None) -> "LogicalVolume":
        """Create LV `name` of `size` bytes (rounded up to whole extents); active
        unless `activate=False`. Returns it, on the bus."""
        opts = convert.options("CreateLogicalVolume", activate=activate,
                               no_user_interaction=no_user_interaction)
        path = await self._call("CreateLogicalVolume", "sta{sv}", check.text(name, "name"),
                                check.size(size, "size"), opts, call_timeout=call_timeout)
        return await object_at(self.transport, path)

    async def extend(self, devices: list[str], *, wipe: bool | None = None,
                     no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Add `devices` (WWIDs, /dev paths or object paths) to the VG, running
        pvcreate where needed; `wipe=True` allows a device holding a signature."""
        opts = convert.options("VolumeGroup.Extend", wipe=wipe,
                                    no_user_interaction=no_user_interaction)
        await self._call("Extend", "asa{sv}", check.texts(devices, "devices"), opts,
                         call_timeout=call_timeout)

    @overload
    async def remove_physical_volume(self, pv: str, *, move_data: Literal[True],
                                     no_user_interaction: bool | None = None,
                                     call_timeout: float | None = None) -> "Job": ...

    @overload
    async def remove_physical_volume(self, pv: str, *,
                                     move_data: Literal[False] | None = None,
                                     no_user_interaction: bool | None = None,
                                     call_timeout: float | None = None) -> None: ...

    async def remove_physical_volume(self, pv: str, *, move_data: bool | None = None,
                                     no_user_interaction: bool | None = None,
                                     call_timeout: float | None = None) -> "Job | None":
        """Take PV `pv` out of the VG (vgreduce, then pvremove); returns None.
        With `move_data=True` its data is moved first and the call returns a Job
        at once, always: the running data move (follow it with `job.wait()` or
        `job.follow()`), or, when the PV held no data, a finished one
        (`job.done`, its `object_path` "/", `follow()` yields 1.0)."""
        opts = convert.options("RemovePhysicalVolume", move_data=move_data,
                               no_user_interaction=no_user_interaction)
        path = await self._call("RemovePhysicalVolume", "sa{sv}", check.text(pv, "pv"),
                                opts, call_timeout=call_timeout)
        if not move_data:
            return None
        return finished_job(self.transport, "pv-move") if path == "/" else job_at(self.transport, path)

    async def remove(self, *, force: bool | None = None,
                     no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Remove the VG, its LVs and its PV labels; a VG this service did not
        create needs `force=True`."""
        opts = convert.options("VolumeGroup.Remove", force=force,
                                    no_user_interaction=no_user_interaction)
        await self._call("Remove", "a{sv}", opts, call_timeout=call_timeout)


class LogicalVolume(Tagged, StorageObject):
    """A logical volume or snapshot (model: `models.LogicalVolume`)."""

    KIND = "LogicalVolume"

    async def resize(self, *, to: int, shrink: bool = False,
                     expected_size: int | None = None,
                     no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Make the LV `to` bytes (rounded up to whole extents); a smaller size
        needs `shrink=True` (it destroys what lies past the new end). With
        `expected_size`, only if it is that size now."""
        opts = convert.options("LogicalVolume.Resize", shrink=check.flag(shrink, "shrink")
                               or None, expected_size=expected_size,
                               no_user_interaction=no_user_interaction)
        await self._call("Resize", "ta{sv}", check.size(to, "to"), opts,
                         call_timeout=call_timeout)

    async def rename(self, name: str, *, no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Call the LV `name` within its VG (its object stays; its path follows)."""
        opts = convert.options("LogicalVolume.Rename",
                               no_user_interaction=no_user_interaction)
        await self._call("Rename", "sa{sv}", check.text(name, "name"), opts,
                         call_timeout=call_timeout)

    async def extend(self, *, by: int, expected_size: int | None = None,
                     no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Grow the LV by `by` bytes (rounded up to whole extents): its size on
        return is the old one plus `by`, as the seed's extendLV adds. With
        `expected_size`, only if it is that size now, so a retry can't grow it
        twice."""
        opts = convert.options("LogicalVolume.Extend", expected_size=expected_size,
                               no_user_interaction=no_user_interaction)
        await self._call("Extend", "ta{sv}", check.size(by, "by"), opts,
                         call_timeout=call_timeout)
        await self.refresh()

    async def remove(self, *, force: bool | None = None,
                     no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Remove the LV; one in a VG this service did not create needs `force`."""
        opts = convert.options("LogicalVolume.Remove", force=force,
                                    no_user_interaction=no_user_interaction)
        await self._call("Remove", "a{sv}", opts, call_timeout=call_timeout)

    async def snapshot(self, name: str, size: int, *,
                       no_user_interaction: bool | None = None,
                       call_timeout: float | None = None) -> "LogicalVolume":
        """Snapshot the LV as `name` with `size` bytes of copy-on-write space."""
        opts = convert.options("Snapshot", no_user_interaction=no_user_interaction)
        path = await self._call("Snapshot", "sta{sv}", check.text(name, "name"),
                                check.size(size, "size"), opts, call_timeout=call_timeout)
        return await object_at(self.transport, path)

    async def activate(self, *, no_user_interaction: bool | None = None,
                       call_timeout: float | None = None) -> None:
        """Activate the LV (its device node appears); the model is refreshed."""
        opts = convert.options("Activate", no_user_interaction=no_user_interaction)
        await self._call("Activate", "a{sv}", opts, call_timeout=call_timeout)
        await self.refresh()

    async def deactivate(self, *, no_user_interaction: bool | None = None,
                         call_timeout: float | None = None) -> None:
        """Deactivate the LV (BusyError while it is open); the model is refreshed."""
        opts = convert.options("Deactivate", no_user_interaction=no_user_interaction)
        await self._call("Deactivate", "a{sv}", opts, call_timeout=call_timeout)
        await self.refresh()


class Mount(StorageObject):
    """An NFS mount (model: `models.Mount`)."""

    KIND = "Mount"

    async def unmount(self, force: bool = False, *,
                      no_user_interaction: bool | None = None,
                      call_timeout: float | None = None) -> None:
        """Unmount it; `force=True` detaches it even while in use or its server
        is dead."""
        opts = convert.options("Unmount", no_user_interaction=no_user_interaction)
        await self._call("Unmount", "ba{sv}", check.flag(force, "force"), opts,
                         call_timeout=call_timeout)


class IscsiSession(StorageObject):
    """A logged-in iSCSI session, one per target and portal
    (model: `models.IscsiSession`)."""

    KIND = "IscsiSession"

    async def logout(self, *, no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Log out of this target through this portal."""
        opts = convert.options("Logout", no_user_interaction=no_user_interaction)
        await self._call("Logout", "a{sv}", opts, call_timeout=call_timeout)


class Job(StorageObject):
    """A long operation while it runs (model: `models.Job`). A job leaves the bus
    when it completes; `wait()` and `follow()` follow it until then."""

    KIND = "Job"
    outcome: tuple[bool, str] | None = None
    """(success, message) of a job known to have completed without the service
    (`finished_job`); None for a job of the service."""

    @property
    def done(self) -> bool:
        """The job had completed when the handle was made (nothing to do)."""
        return self.outcome is not None

    async def cancel(self, *, no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Ask the job to stop (NotSupportedError if it cannot be cancelled); a
        finished job has nothing to stop."""
        if self.outcome is not None:
            return
        opts = convert.options("Cancel", no_user_interaction=no_user_interaction)
        await self._call("Cancel", "a{sv}", opts, call_timeout=call_timeout)

    async def follow(self) -> AsyncIterator[float]:
        """Yield the job's progress (0.0 to 1.0) now and at every change, until it
        completes; then raise JobFailedError if it failed."""
        if self.outcome is not None:
            yield 1.0
            return
        async with self.transport.follow_job(self.object_path) as follower:
            async for fraction in follower:
                yield fraction

    async def wait(self) -> None:
        """Return when the job has completed successfully; JobFailedError (with
        the service's message) if it failed or was cancelled."""
        async for _ in self.follow():
            pass


HANDLES: dict[str, type[StorageObject]] = {
    cls.KIND: cls for cls in (Lun, PhysicalVolume, VolumeGroup, LogicalVolume, Mount,
                              IscsiSession, Job)}


def handle(transport: Transport, path: str, ifaces: dict[str, dict[str, Variant]],
           live: bool = True) -> StorageObject | None:
    """The handle on object `path` from its interfaces' properties (pinned to them
    unless `live`); None if it is not one of the service's objects."""
    kind = convert.kind_of(path)
    if kind is None or INTERFACE + kind not in ifaces:
        return None
    return HANDLES[kind](transport, path,
                         convert.model(kind, path, ifaces[INTERFACE + kind]), live)


async def read_model(transport: Transport, kind: str, path: str) -> models.Model:
    """The model of object `path`, read now."""
    return convert.model(kind, path, await transport.get_all(path, kind))


async def object_at(transport: Transport, path: str) -> StorageObject:
    """A handle on object `path`, its properties read now."""
    kind = convert.kind_of(path)
    if kind is None:
        raise StorageClientError(f"the service answered with {path!r}, which is "
                                 "not one of its objects")
    return HANDLES[kind](transport, path, await read_model(transport, kind, path))


def job_at(transport: Transport, path: str) -> Job:
    """A handle on a job that may already have completed: no read needed to
    follow it (its model holds only its number until refreshed)."""
    return Job(transport, path, models.Job(id=int(convert.key_of(path)), operation=""))


def finished_job(transport: Transport, operation: str) -> Job:
    """A Job that completed successfully before it started: the service had
    nothing to do (its answer was "/", no object)."""
    job = Job(transport, "/", models.Job(id=0, operation=operation, progress=1.0,
                                         cancelable=False))
    job.outcome = (True, "")
    return job


async def managed_objects(transport: Transport, call_timeout: float | None = None
                          ) -> dict[str, StorageObject]:
    """Every object of the service, read in one call, by path in path order."""
    tree = await transport.managed_objects(call_timeout)
    return {path: found for path, ifaces in sorted(tree.items())
            if (found := handle(transport, path, ifaces)) is not None}


async def objects_at(transport: Transport, paths: list[str]) -> list:
    """Handles on the objects at `paths` that are still there, in that order."""
    tree = await managed_objects(transport)
    return [tree[path] for path in paths if path in tree]

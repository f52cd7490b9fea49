# SPDX-License-Identifier: LGPL-2.1-or-later
"""LVM on the simulated host: VGs, PVs and LVs with extent allocation in memory."""

import asyncio
import contextlib
from collections import defaultdict
from typing import AsyncIterator

from ... import validation
from ...errors import AlreadyExists, Busy, InvalidArgument, NoSpace, NotFound, NotSupported
from ...models import Lun, LogicalVolume, PhysicalVolume, VolumeGroup
from ...options import (CreateLogicalVolumeOptions, CreateVolumeGroupOptions,
                        ExtendLogicalVolumeOptions, ExtendVolumeGroupOptions, Options,
                        RemoveOptions, RemovePhysicalVolumeOptions)
from .. import resolve
from ..protocol import MANAGED_TAG
from ..rules import extents
from ..store import StateStore
from ..jobs import JobHandle, Jobs
from .faults import Faults
from .lvm_changes import SimLvmChanges
from .seed import STEP, MiB, UuidSource

DEFAULT_EXTENT = 4 * MiB
PE_START = 1 * MiB


def _attr(lv: LogicalVolume, index: int, char: str) -> str:
    return lv.attributes[:index] + char + lv.attributes[index + 1:]


class SimLvm(SimLvmChanges):
    """VGs, PVs and LVs over the LUNs in `store`; `system_disk` is never taken."""

    def __init__(self, store: StateStore, jobs: Jobs, faults: Faults, new_uuid: UuidSource,
                 system_disk: str, step: float = STEP) -> None:
        self.store, self.jobs, self.faults = store, jobs, faults
        self.new_uuid, self.system_disk, self.step = new_uuid, system_disk, step
        # extents each LV holds on each PV; the only state not in the models
        self.alloc: dict[str, dict[str, int]] = defaultdict(dict)
        self._vg_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task] = set()

    async def close(self) -> None:
        """No data move is running any more (each was cancelled)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- helpers ----

    @contextlib.asynccontextmanager
    async def _locked(self, vg_uuid: str) -> AsyncIterator[VolumeGroup]:
        """Serialize work on one VG; yields the VG as it is once the lock is held."""
        async with self._vg_locks[vg_uuid]:
            vg = self.store.get(VolumeGroup, vg_uuid)
            if vg is None:
                raise NotFound("the volume group was removed meanwhile")
            yield vg

    def _current(self, lv: LogicalVolume) -> LogicalVolume:
        """The LV as it is now, under its VG's lock."""
        current = self.store.get(LogicalVolume, lv.uuid)
        if current is None:
            raise NotFound(f"{lv.path} was removed meanwhile")
        return current

    def _lvs_of(self, vg: VolumeGroup) -> list[LogicalVolume]:
        return [lv for lv in self.store.all(LogicalVolume).values()
                if lv.volume_group == vg.uuid]

    def _used_extents(self, pv_uuid: str) -> int:
        return sum(per_pv.get(pv_uuid, 0) for per_pv in self.alloc.values())

    def _publish_vg(self, vg: VolumeGroup, pvs: tuple[str, ...] | None = None) -> VolumeGroup:
        """Recompute the sizes of a VG and its PVs from the allocation; publish."""
        pvs = vg.physical_volumes if pvs is None else pvs
        updated_pvs = []
        for uuid in pvs:
            pv = self.store.get(PhysicalVolume, uuid)
            free = pv.size - self._used_extents(uuid) * vg.extent_size
            updated_pvs.append(pv.model_copy(update={"free_size": free}))
        vg = vg.model_copy(update={
            "physical_volumes": pvs, "size": sum(p.size for p in updated_pvs),
            "free_size": sum(p.free_size for p in updated_pvs)})
        self.store.publish([vg, *updated_pvs])
        return vg

    def _take_luns(self, devices: list[str], wipe: bool) -> list[Lun]:
        luns = [resolve.lun(self.store, device) for device in devices]
        if len({lun.wwid for lun in luns}) != len(luns):
            raise InvalidArgument("devices names the same LUN twice")
        for lun in luns:
            if lun.wwid == self.system_disk:
                raise Busy(f"{lun.device} holds the running system")
            if lun.status == "pv":
                raise Busy(f"{lun.device} is already a physical volume")
            if lun.status != "free" and not wipe:
                raise Busy(f"{lun.device} holds a {lun.status} signature; "
                           "pass wipe=true to erase it")
        return luns

    def _make_pvs(self, luns: list[Lun], vg_uuid: str, extent: int) -> list[str]:
        uuids = []
        for lun in luns:
            uuid = self.new_uuid()
            size = (lun.size - PE_START) // extent * extent
            self.store.publish([
                PhysicalVolume(uuid=uuid, device=lun.device, size=size, free_size=size,
                               volume_group=vg_uuid, lun=lun.wwid),
                lun.model_copy(update={"status": "pv", "physical_volume": uuid})])
            uuids.append(uuid)
        return uuids

    def _drop_pv(self, uuid: str) -> None:
        pv = self.store.get(PhysicalVolume, uuid)
        updates = []
        lun = self.store.get(Lun, pv.lun)
        if lun is not None:
            updates.append(lun.model_copy(update={"status": "free", "physical_volume": None}))
        self.store.publish(updates, removals=[("PhysicalVolume", uuid)])

    def _allocate(self, vg: VolumeGroup, lv_uuid: str, extents: int) -> None:
        free_total = vg.free_size // vg.extent_size
        if extents > free_total:
            raise NoSpace(f"volume group {vg.name} has {free_total * vg.extent_size} "
                          f"bytes free; {extents * vg.extent_size} are needed")
        for pv_uuid in vg.physical_volumes:
            pv = self.store.get(PhysicalVolume, pv_uuid)
            take = min(extents, pv.free_size // vg.extent_size)
            if take:
                self.alloc[lv_uuid][pv_uuid] = self.alloc[lv_uuid].get(pv_uuid, 0) + take
                extents -= take
            if not extents:
                return

    def _extents(self, vg: VolumeGroup, size: int) -> int:
        return extents(size, vg.extent_size)        # as the host engine asks LVM

    def _check_managed(self, vg: VolumeGroup, force: bool) -> None:
        if not vg.managed and not force:
            raise InvalidArgument(f"volume group {vg.name} was not created by this "
                                  "service; pass force=true to change it anyway")

    # ---- volume groups ----

    async def create_volume_group(self, name: str, devices: list[str],
                                  opts: CreateVolumeGroupOptions) -> str:
        self.faults.check("create_volume_group")
        if any(vg.name == name for vg in self.store.all(VolumeGroup).values()):
            raise AlreadyExists(f"a volume group named {name} exists")
        luns = self._take_luns(devices, opts.wipe)
        extent = DEFAULT_EXTENT if opts.extent_size is None else opts.extent_size
        if any(lun.size - PE_START < extent for lun in luns):
            raise NoSpace("a device is smaller than one extent")
        uuid = self.new_uuid()
        pvs = self._make_pvs(luns, uuid, extent)
        vg = VolumeGroup(uuid=uuid, name=name, size=0, free_size=0, extent_size=extent,
                         tags=(MANAGED_TAG,), managed=True)
        self._publish_vg(vg, tuple(pvs))
        return uuid

    async def remove_volume_group(self, vg: str, opts: RemoveOptions) -> None:
        found = resolve.volume_group(self.store, vg)
        self._check_managed(found, opts.force)
        async with self._locked(found.uuid) as found:
            lvs = self._lvs_of(found)
            if busy := [lv.name for lv in lvs if lv.is_open]:
                raise Busy(f"volume group {found.name} has open logical volumes: "
                           f"{', '.join(busy)}")
            for lv in lvs:
                self.alloc.pop(lv.uuid, None)
            self.store.publish(removals=[("LogicalVolume", lv.uuid) for lv in lvs])
            self.store.publish(removals=[("VolumeGroup", found.uuid)])
            for pv in found.physical_volumes:
                self._drop_pv(pv)

    async def extend_volume_group(self, vg: str, devices: list[str],
                                  opts: ExtendVolumeGroupOptions) -> None:
        found = resolve.volume_group(self.store, vg)
        async with self._locked(found.uuid) as found:
            luns = self._take_luns(devices, opts.wipe)
            pvs = self._make_pvs(luns, found.uuid, found.extent_size)
            self._publish_vg(found, found.physical_volumes + tuple(pvs))

    async def remove_physical_volume(self, vg: str, pv: str,
                                     opts: RemovePhysicalVolumeOptions,
                                     uid: int) -> int | None:
        found = resolve.volume_group(self.store, vg)
        target = resolve.physical_volume(self.store, pv, found)
        if len(found.physical_volumes) == 1:
            raise Busy(f"{target.device} is the last physical volume of {found.name}; "
                       "remove the volume group instead")
        used = self._used_extents(target.uuid)
        if used and not opts.move_data:
            raise Busy(f"{target.device} holds {used * found.extent_size} bytes of data; "
                       "pass move-data=true to move them to the other PVs first")
        if used * found.extent_size > found.free_size - target.free_size:
            raise NoSpace(f"the other physical volumes of {found.name} lack the space "
                          f"for the data on {target.device}")
        if not used:
            self._reduce(found, target.uuid)
            return None
        job = self.jobs.start("pv-move", [("PhysicalVolume", target.uuid),
                                          ("VolumeGroup", found.uuid)], uid)
        task = asyncio.create_task(self.jobs.run(job, self._move(found.uuid, target.uuid, job)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return job.id

    async def _move(self, vg_uuid: str, pv_uuid: str, job: JobHandle) -> None:
        async with self._locked(vg_uuid) as vg:
            for step in range(1, 31):
                await asyncio.sleep(self.step)
                job.check()   # an aborted pvmove leaves the extents where they were
                job.progress(step / 30)
            vg = self.store.get(VolumeGroup, vg_uuid)
            others = tuple(p for p in vg.physical_volumes if p != pv_uuid)
            for per_pv in self.alloc.values():
                moved = per_pv.pop(pv_uuid, 0)
                for other in others:
                    room = (self.store.get(PhysicalVolume, other).size // vg.extent_size
                            - self._used_extents(other))
                    take = min(moved, room)
                    if take > 0:
                        per_pv[other] = per_pv.get(other, 0) + take
                        moved -= take
            self._reduce(vg, pv_uuid)

    def _reduce(self, vg: VolumeGroup, pv_uuid: str) -> None:
        self._publish_vg(vg, tuple(p for p in vg.physical_volumes if p != pv_uuid))
        self._drop_pv(pv_uuid)

    # ---- logical volumes ----

    async def create_logical_volume(self, vg: str, name: str, size: int,
                                    opts: CreateLogicalVolumeOptions) -> str:
        self.faults.check("create_logical_volume")
        found = resolve.volume_group(self.store, vg)
        async with self._locked(found.uuid) as found:
            if any(lv.name == name for lv in self._lvs_of(found)):
                raise AlreadyExists(f"{found.name}/{name} exists")
            extents = self._extents(found, size)
            uuid = self.new_uuid()
            self._allocate(found, uuid, extents)
            active = opts.activate
            self.store.publish([LogicalVolume(
                uuid=uuid, name=name, volume_group=found.uuid,
                size=extents * found.extent_size, path=f"/dev/{found.name}/{name}",
                active=active, attributes="-wi-a-----" if active else "-wi-------")])
            self._publish_vg(found)
            return uuid

    async def extend_logical_volume(self, lv: str, size: int,
                                    opts: ExtendLogicalVolumeOptions) -> None:
        found = resolve.logical_volume(self.store, lv)
        async with self._locked(found.volume_group) as vg:
            found = self._current(found)
            expected = opts.expected_size
            if expected is not None and expected != found.size:
                raise InvalidArgument(f"{found.name} is {found.size} bytes, not the "
                                      f"expected {expected}; it was not extended")
            extents = self._extents(vg, size)
            if found.size + extents * vg.extent_size > validation.MAX_SIZE:
                raise InvalidArgument("the new size is beyond LVM's limit of 8 EiB")
            self._allocate(vg, found.uuid, extents)
            self.store.publish([found.model_copy(
                update={"size": found.size + extents * vg.extent_size})])
            self._publish_vg(vg)

    async def remove_logical_volume(self, lv: str, opts: RemoveOptions) -> None:
        found = resolve.logical_volume(self.store, lv)
        vg = self.store.get(VolumeGroup, found.volume_group)
        self._check_managed(vg, opts.force)
        async with self._locked(vg.uuid) as vg:
            found = self._current(found)
            if found.is_open:
                raise Busy(f"{found.path} is open")
            if snaps := [s.name for s in self._lvs_of(vg) if s.origin == found.uuid]:
                raise Busy(f"{found.name} has snapshots ({', '.join(snaps)}); "
                           "remove them first")
            self.alloc.pop(found.uuid, None)
            self.store.publish(removals=[("LogicalVolume", found.uuid)])
            if origin := self.store.get(LogicalVolume, found.origin):
                if not any(s.origin == origin.uuid for s in self._lvs_of(vg)):
                    self.store.publish([origin.model_copy(
                        update={"attributes": _attr(origin, 0, "-")})])
            self._publish_vg(self.store.get(VolumeGroup, vg.uuid))

    async def snapshot_logical_volume(self, lv: str, name: str, size: int,
                                      opts: Options, uid: int) -> str:
        origin = resolve.logical_volume(self.store, lv)
        if origin.origin is not None:
            raise NotSupported(f"{origin.name} is a snapshot; LVM cannot snapshot it")
        job = self.jobs.start("lv-snapshot", [("LogicalVolume", origin.uuid)], uid,
                              cancelable=False)
        return await self.jobs.run(job, self.make_snapshot(origin, name, size, job))

    async def make_snapshot(self, origin: LogicalVolume, name: str, size: int,
                            job: JobHandle) -> str:
        """A snapshot `name` of `origin` with `size` bytes exists; returns its UUID."""
        async with self._locked(origin.volume_group) as vg:
            if any(other.name == name for other in self._lvs_of(vg)):
                raise AlreadyExists(f"{vg.name}/{name} exists")
            extents = self._extents(vg, size)
            uuid = self.new_uuid()
            self._allocate(vg, uuid, extents)
            await asyncio.sleep(self.step)
            job.progress(0.5)
            origin = self.store.get(LogicalVolume, origin.uuid)
            state = "a" if origin.active else "-"
            self.store.publish([
                origin.model_copy(update={"attributes": _attr(origin, 0, "o")}),
                LogicalVolume(uuid=uuid, name=name, volume_group=vg.uuid,
                              size=extents * vg.extent_size, path=f"/dev/{vg.name}/{name}",
                              active=origin.active, origin=origin.uuid,
                              attributes=f"swi-{state}-s---")])
            self._publish_vg(vg)
            return uuid

    async def activate_logical_volume(self, lv: str, opts: Options) -> None:
        await self._set_active(resolve.logical_volume(self.store, lv), True)

    async def deactivate_logical_volume(self, lv: str, opts: Options) -> None:
        found = resolve.logical_volume(self.store, lv)
        if found.is_open:
            raise Busy(f"{found.path} is open")
        await self._set_active(found, False)

    async def _set_active(self, lv: LogicalVolume, active: bool) -> None:
        async with self._locked(lv.volume_group):
            lv = self._current(lv)
            self.store.publish([lv.model_copy(update={
                "active": active, "attributes": _attr(lv, 4, "a" if active else "-")})])

    async def resize_pv(self, wwid: str) -> None:
        """pvresize: a PV on LUN `wwid` takes up the LUN's new size."""
        lun = self.store.get(Lun, wwid)
        pv = self.store.get(PhysicalVolume, lun.physical_volume if lun else None)
        if pv is None:
            return
        with contextlib.suppress(NotFound):        # the VG went away meanwhile
            async with self._locked(pv.volume_group) as vg:
                pv, lun = self.store.get(PhysicalVolume, pv.uuid), self.store.get(Lun, wwid)
                if pv is None or lun is None or pv.uuid not in vg.physical_volumes:
                    return                         # gone from the VG meanwhile
                size = (lun.size - PE_START) // vg.extent_size * vg.extent_size
                self.store.publish([pv.model_copy(update={"size": size})])
                self._publish_vg(vg)

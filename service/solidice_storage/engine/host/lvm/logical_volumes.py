# SPDX-License-Identifier: LGPL-2.1-or-later
"""Logical volumes changed (udisks2's udiskslinuxlogicalvolume.c): create, extend,
remove, snapshot, activate, deactivate, each under its VG's lock. Creating,
extending and removing a plain LV reply after their one LVM command, with the state
derived from the kernel's map (derive.py); the report follows the reply."""

from __future__ import annotations

import asyncio
from ....errors import AlreadyExists, Busy, InvalidArgument, NoSpace, NotFound, NotSupported
from ....models import LogicalVolume, PhysicalVolume, VolumeGroup
from .... import options
from ... import resolve
from ...intents import Intents
from ...jobs import Jobs
from ...rules import extents
from ...store import StateStore
from ..runner import Runner
from . import derive
from .commands import LvmCommands
from .devices import pv_devices
from .locks import VgLocks, held
from .refresh import Refresher



class LogicalVolumes:
    def __init__(self, runner: Runner, commands: LvmCommands, store: StateStore,
                 jobs: Jobs, intents: Intents, locks: VgLocks,
                 refresher: Refresher) -> None:
        self._runner = runner
        self._commands = commands
        self._store = store
        self._jobs = jobs
        self._intents = intents
        self._locks = locks
        self._refresher = refresher

    def _lv_and_vg(self, lv: str) -> tuple[LogicalVolume, VolumeGroup]:
        found = resolve.logical_volume(self._store, lv)
        vg = self._store.get(VolumeGroup, found.volume_group)
        if vg is None:
            raise NotFound(f"the volume group of {found.path} is gone")
        return found, vg

    def _taken(self, vg: VolumeGroup, name: str) -> None:
        if any(lv.name == name and lv.volume_group == vg.uuid
               for lv in self._store.all(LogicalVolume).values()):
            raise AlreadyExists(f"{vg.name}/{name} exists")

    async def create(self, vg: str, name: str, size: int,
                     opts: options.CreateLogicalVolumeOptions) -> str:
        """LV `name` in `vg`, of `size` bytes rounded up to whole extents; its UUID."""
        found = resolve.volume_group(self._store, vg)
        async with self._locks(found.name):
            found = resolve.volume_group(self._store, found.uuid)
            self._taken(found, name)
            count = extents(size, found.extent_size)
            rounded = count * found.extent_size
            if rounded > found.free_size:
                raise NoSpace(f"volume group {found.name} has {found.free_size} bytes free; "
                              f"{name} needs {rounded}")
            pvs = self._pvs(found)
            await self._commands.lvcreate(found.name, name, count, opts.activate,
                                          pv_devices(self._store, found))
            made = pv_key = None
            if opts.activate:
                mapped, pv_key = await asyncio.to_thread(self._map_and_pv, found, name)
                made = derive.lv_of_map(found, name, mapped, rounded)
            if made is None or pv_key is None:
                await self._refresher.refresh([found.name])
                return resolve.logical_volume(self._store, f"{found.name}/{name}").uuid
            await self._refresher.publish(
                [made, *derive.spent(found, pvs.get(pv_key), made.size)])
            return made.uuid

    async def extend(self, lv: str, size: int,
                     opts: options.ExtendLogicalVolumeOptions) -> None:
        """LV `lv` grown by `size` bytes, rounded up to whole extents."""
        found, vg = self._lv_and_vg(lv)
        async with self._locks(vg.name):
            found, vg = self._lv_and_vg(found.uuid)
            if opts.expected_size is not None and found.size != opts.expected_size:
                raise InvalidArgument(f"{found.name} is {found.size} bytes, not the "
                                      f"expected {opts.expected_size}")
            count = extents(size, vg.extent_size)
            pvs = self._pvs(vg)
            await self._commands.lvextend(vg.name, found.name, count,
                                          pv_devices(self._store, vg))
            grown = found.size + count * vg.extent_size
            mapped, pv_key = await asyncio.to_thread(self._map_and_pv, vg, found.name) \
                if found.active and derive.plain(found) else (None, None)
            if mapped is None or mapped.size != grown or pv_key is None:
                await self._refresher.refresh([vg.name])
                return
            await self._refresher.publish([found.model_copy(update={"size": grown}),
                                           *derive.spent(vg, pvs.get(pv_key),
                                                         grown - found.size)])

    def _pvs(self, vg: VolumeGroup) -> dict[str, PhysicalVolume]:
        """The VG's PVs as the model has them before a command (derive.spent)."""
        return {key: pv for key in vg.physical_volumes
                if (pv := self._store.get(PhysicalVolume, key)) is not None}

    def _map_and_pv(self, vg: VolumeGroup, lv_name: str) -> tuple:
        """The LV's map and the one PV it lies on (derive.py); in a thread."""
        mapped = derive.read_map(vg.name, lv_name)
        return mapped, derive.one_pv(self._store, vg, mapped)

    async def remove(self, lv: str, opts: options.RemoveOptions) -> None:
        """No LV `lv`; refused while it has snapshots or is open."""
        found, vg = self._lv_and_vg(lv)
        if not vg.managed and not opts.force:
            raise InvalidArgument(f"{found.path} is in volume group {vg.name}, which this "
                                  "service did not create; pass force=true to remove it")
        async with self._locks(vg.name):
            found, vg = self._lv_and_vg(found.uuid)
            snaps = [s.name for s in self._store.all(LogicalVolume).values()
                     if s.origin == found.uuid]
            if snaps:
                raise Busy(f"{found.name} has snapshots ({', '.join(snaps)}); "
                           "remove them first")
            # the PV it gives its space back to, read before its map goes
            pv_key = None
            if derive.plain(found):
                pv_key = (await asyncio.to_thread(self._map_and_pv, vg, found.name))[1] \
                    if found.active else derive.one_pv(self._store, vg, None)
            # LVM refuses an open LV itself; udev's probe holds a new or changed
            # device for a moment, so a refusal is looked at again after udev is done
            devices = pv_devices(self._store, vg)
            pvs = self._pvs(vg)
            try:
                await self._commands.lvremove(vg.name, found.name, devices)
            except Busy:
                if await held(self._runner, self._store, vg, found):
                    raise Busy(f"{found.path} is open") from None
                await self._commands.lvremove(vg.name, found.name, devices)
            if pv_key is None:
                await self._refresher.refresh([vg.name])
                return
            await self._refresher.publish(derive.spent(vg, pvs.get(pv_key), -found.size),
                                          [("LogicalVolume", found.uuid)])

    async def snapshot(self, lv: str, name: str, size: int, uid: int) -> str:
        """Snapshot `name` of LV `lv`, `size` bytes of copy-on-write space, made
        as a job that cannot be cancelled; its UUID."""
        origin, vg = self._lv_and_vg(lv)
        if origin.origin is not None:
            raise NotSupported(f"{origin.name} is a snapshot; LVM cannot snapshot it")
        job = self._jobs.start("lv-snapshot", [("LogicalVolume", origin.uuid)], uid,
                               cancelable=False)
        return await self._jobs.run(job, self._snapshot(origin, vg, name, size))

    async def _snapshot(self, origin: LogicalVolume, vg: VolumeGroup, name: str,
                        size: int) -> str:
        async with self._locks(vg.name):
            self._taken(vg, name)
            # one lvcreate, which LVM commits whole or not at all: the record only
            # lets a restart say which (its crash points prove nothing is half-made)
            intent = await self._intents.begin("snapshot-lv", name=vg.name,
                                               origin=origin.name, snapshot=name)
            count = extents(size, vg.extent_size)
            try:
                await self._commands.lvcreate_snapshot(vg.name, origin.name, name, count,
                                                       pv_devices(self._store, vg))
            finally:
                await self._intents.end(intent)
            await self._refresher.refresh([vg.name])
            return resolve.logical_volume(self._store, f"{vg.name}/{name}").uuid

    async def set_active(self, lv: str, active: bool) -> None:
        """LV `lv` active or not; deactivating an open LV is refused."""
        found, vg = self._lv_and_vg(lv)
        async with self._locks(vg.name):
            found, vg = self._lv_and_vg(found.uuid)
            if not active and await held(self._runner, self._store, vg, found):
                raise Busy(f"{found.path} is open")
            await self._commands.lvchange(vg.name, found.name, active,
                                          pv_devices(self._store, vg))
            await self._refresher.refresh([vg.name])

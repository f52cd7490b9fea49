# SPDX-License-Identifier: LGPL-2.1-or-later
"""Volume groups and their physical volumes changed (udisks2's
udiskslinuxvolumegroup.c): create, extend, remove, a PV taken out (its data moved
first, as a job), a grown PV resized. Each change holds its VG's lock, records an
intent where it takes more than one command, and ends with the VG read again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from ....errors import AlreadyExists, Busy, InvalidArgument, NoSpace, StorageError
from ....models import PhysicalVolume, VolumeGroup
from .... import options
from ... import resolve
from ..luns import blockdev
from ...intents import Intent, Intents
from ...jobs import JobHandle, Jobs
from ...store import StateStore
from .. import udev
from ..runner import Runner
from .commands import LvmCommands, error_for
from .devices import Devices, pv_devices
from .locks import VgLocks, held
from .recovery import Recovery
from .refresh import Refresher


log = logging.getLogger(__name__)
_MOVED = re.compile(r"Moved:\s*([0-9.]+)%")


class VolumeGroups:
    """`luns`: the host's LUN index (engine.LunIndex), scanned again after a change
    for the LUNs' status (pv, free) and their PV links."""

    def __init__(self, runner: Runner, commands: LvmCommands, store: StateStore,
                 jobs: Jobs, intents: Intents, luns, locks: VgLocks, devices: Devices,
                 refresher: Refresher, recovery: Recovery) -> None:
        self._runner = runner
        self._commands = commands
        self._store = store
        self._jobs = jobs
        self._intents = intents
        self._luns = luns
        self._locks = locks
        self._devices = devices
        self._refresher = refresher
        self._recovery = recovery
        self._moves: set[asyncio.Task] = set()

    def close(self) -> None:
        for task in self._moves:
            task.cancel()

    async def wait_for_moves(self, timeout: float) -> None:
        """The data moves under way have ended, or `timeout` seconds passed."""
        if self._moves:
            await asyncio.wait(self._moves, timeout=timeout)

    async def _after_change(self, vg_name: str, labelled: list[str] = (),
                            removed: bool = False) -> None:
        """Read the VG again; for devices whose PV label was written or wiped, have
        udev probe them again first: nothing else tells it (a multipath map is not
        watched for writes), and LUN status comes from udev's probe."""
        await udev.probe_again(self._runner, list(labelled))
        # a removal loses objects a report of the VG cannot show gone (orphan PVs):
        # straight to the one full report
        await self._refresher.refresh(None if removed else [vg_name])
        await self._luns.scan()            # LUN status (pv, free) and the PV links

    async def create(self, name: str, devices: list[str],
                     opts: options.CreateVolumeGroupOptions) -> str:
        """On completion exactly one VG on the host has `name`: this one, made of
        `devices`. Creations run one at a time, each asking LVM (over every device,
        not only the new ones `vgcreate` is limited to) whether the name is taken."""
        if any(vg.name == name for vg in self._store.all(VolumeGroup).values()):
            raise AlreadyExists(f"a volume group named {name} exists")
        async with self._locks.creation, self._locks(name):
            await self._name_free(name)
            taken = await asyncio.to_thread(self._devices.take, devices, opts.wipe)
            nodes = [device for device, _ in taken]
            async with self._devices.labelling("create-vg", name, taken) as intent:
                await self._devices.make_pvs(taken, opts.wipe)
                await self._intents.step(intent, "pvcreate-done")
                await self._commands.vgcreate(name, nodes, opts.extent_size)
                await self._intents.step(intent, "vgcreate-done")
            uuid = await self._commands.vg_uuid_on(name, nodes)
            await self._after_change(name, nodes)
            return uuid

    async def _name_free(self, name: str) -> None:
        """AlreadyExists when LVM sees a VG of that name on any device (our model
        may not know it yet: made outside a moment ago, or by a creation that has
        just finished)."""
        if name in await self._commands.vg_names():
            raise AlreadyExists(f"a volume group named {name} exists")

    async def remove(self, vg: str, opts: options.RemoveOptions) -> None:
        """No VG `vg`, and no PV label on the devices it was made of."""
        found = resolve.volume_group(self._store, vg)
        if found.uuid.replace("-", "") in await asyncio.to_thread(blockdev.vgs_under, "/"):
            raise Busy(f"volume group {found.name} holds the root filesystem; this "
                       "service never removes it")
        if not found.managed and not opts.force:
            raise InvalidArgument(f"volume group {found.name} was not created by this "
                                  "service; pass force=true to remove it anyway")
        async with self._locks(found.name):
            found = resolve.volume_group(self._store, found.uuid)
            if open_lvs := await held(self._runner, self._store, found):
                raise Busy(f"volume group {found.name} has open logical volumes: "
                           f"{', '.join(open_lvs)}")
            devices = pv_devices(self._store, found)
            intent = await self._intents.begin("remove-vg", name=found.name, devices=devices,
                                               ids=self._devices.identities(devices, found))
            await self._commands.vgremove(found.name, devices)
            await self._intents.step(intent, "vgremove-done")
            await self._commands.pvremove(devices, "remove the physical volume labels")
            await self._commands.remove_devices(devices)
            await self._intents.end(intent)
            await self._after_change(found.name, devices, removed=True)

    async def extend(self, vg: str, devices: list[str],
                     opts: options.ExtendVolumeGroupOptions) -> None:
        """VG `vg` has `devices` as PVs too."""
        found = resolve.volume_group(self._store, vg)
        async with self._locks(found.name):
            taken = await asyncio.to_thread(self._devices.take, devices, opts.wipe)
            nodes = [device for device, _ in taken]
            async with self._devices.labelling("extend-vg", found.name, taken) as intent:
                await self._devices.make_pvs(taken, opts.wipe)
                await self._intents.step(intent, "pvcreate-done")
                await self._commands.vgextend(found.name, nodes,
                                              [*pv_devices(self._store, found), *nodes])
                await self._intents.step(intent, "vgextend-done")
            await self._after_change(found.name, nodes)

    async def remove_physical_volume(self, vg: str, pv: str,
                                     opts: options.RemovePhysicalVolumeOptions,
                                     uid: int) -> int | None:
        """PV `pv` out of `vg`, its label wiped. With data on it and move-data, the
        data is moved first, as a job: its id is returned, and the job ends when
        the PV is out; else None, once it is out."""
        found = resolve.volume_group(self._store, vg)
        target = resolve.physical_volume(self._store, pv, found)
        if len(found.physical_volumes) == 1:
            raise Busy(f"{target.device} is the last physical volume of {found.name}; "
                       "remove the volume group instead")
        used = target.size - target.free_size
        if used and opts.move_data:
            if used > found.free_size - target.free_size:
                raise NoSpace(f"the other physical volumes of {found.name} lack the "
                              f"{used} bytes of space for the data on {target.device}")
            job = self._jobs.start("pv-move", [("PhysicalVolume", target.uuid),
                                               ("VolumeGroup", found.uuid)], uid)
            task = asyncio.ensure_future(self._jobs.run(job, self._move(found, target, job)))
            self._moves.add(task)
            task.add_done_callback(self._moves.discard)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            return job.id
        async with self._locks(found.name):
            if target.size != target.free_size:
                raise Busy(f"{target.device} holds {target.size - target.free_size} bytes "
                           "of data; pass move-data=true to move it first")
            await self._reduce(found, target)
        return None

    async def _move(self, found: VolumeGroup, target: PhysicalVolume, job: JobHandle) -> None:
        """pvmove with its progress in the Job; a cancel aborts it (`--atomic`: an
        aborted move leaves every extent where it was), then the PV leaves the VG."""
        async with self._locks(found.name):
            intent = await self._intents.begin(
                "remove-pv", name=found.name, devices=[target.device], move=True,
                ids=self._devices.identities([target.device], found))
            try:
                await self._move_off(found, target, job, intent)
            except BaseException:
                # a cancelled or failed move: whatever it left, as a restart would
                await asyncio.shield(self._intents.settle(
                    intent, self._recovery.recover_one(intent)))
                raise
            await self._intents.step(intent, "pvmove-done")
            await self._reduce(self._store.get(VolumeGroup, found.uuid) or found, target,
                               intent)

    async def _move_off(self, found: VolumeGroup, target: PhysicalVolume, job: JobHandle,
                        intent: Intent) -> None:
        devices = pv_devices(self._store, found)
        moving = asyncio.Event()          # pvmove's first progress line: it is under way

        def progress(line: str) -> None:
            if match := _MOVED.search(line):
                moving.set()
                job.progress(float(match[1]) / 100)
        noted = asyncio.ensure_future(self._note_moving(intent, moving))
        move = asyncio.ensure_future(self._commands.pvmove(target.device, devices, progress))
        cancelled = asyncio.ensure_future(job.cancelled.wait())
        try:
            await asyncio.wait({move, cancelled}, return_when=asyncio.FIRST_COMPLETED)
            if not move.done():
                await self._abort(found, move, devices)
                job.check()
        finally:
            cancelled.cancel()
            if moving.is_set():
                await noted                # its record write done before the next one
            else:
                noted.cancel()
        result = move.result()
        if not result.ok:
            await self._refresher.refresh([found.name])
            raise error_for(result, f"move the data off {target.device}")
        job.progress(1.0)

    async def _abort(self, found: VolumeGroup, move: asyncio.Future,
                     devices: list[str]) -> None:
        """A cancelled move stopped; the VG as the abort left it."""
        await self._commands.abort_moves(devices)
        await asyncio.wait({move}, timeout=60)
        if not move.done():
            move.cancel()
        await self._refresher.refresh([found.name])

    async def _note_moving(self, intent: Intent, moving: asyncio.Event) -> None:
        await moving.wait()
        await self._intents.step(intent, "moving")

    async def _reduce(self, found: VolumeGroup, target: PhysicalVolume,
                      intent: Intent | None = None) -> None:
        """An empty PV out of its VG, and its label wiped. Holds the VG's lock.
        `intent`: the record of the removal this ends (a move's), or a new one."""
        devices = pv_devices(self._store, found)
        if intent is None:
            intent = await self._intents.begin(
                "remove-pv", name=found.name, devices=[target.device],
                ids=self._devices.identities([target.device], found))
        await self._commands.vgreduce(found.name, target.device, devices)
        await self._intents.step(intent, "vgreduce-done")
        await self._commands.pvremove([target.device], f"remove the label of {target.device}")
        await self._commands.remove_devices([target.device])
        await self._intents.end(intent)
        await self._after_change(found.name, [target.device], removed=True)

    async def resize_pv(self, device: str) -> None:
        """The PV on `device` takes its LUN's new size (after a rescan found the LUN
        grown), under its VG's lock and with the VG's devices; a failure is logged:
        the LUN is bigger, the PV still works at its old size."""
        pv = next((pv for pv in self._store.all(PhysicalVolume).values()
                   if pv.device == device), None)
        vg = self._store.get(VolumeGroup, pv.volume_group) \
            if pv is not None and pv.volume_group else None
        async with self._locks(vg.name) if vg else contextlib.nullcontext():
            devices = list(dict.fromkeys([*(pv_devices(self._store, vg) if vg else []),
                                          device]))
            try:
                await self._commands.pvresize(device, devices)
            except StorageError as error:
                log.warning("%s", error)
                return
            await self._refresher.refresh([vg.name] if vg else None)

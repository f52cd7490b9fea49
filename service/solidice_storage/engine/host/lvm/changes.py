# SPDX-License-Identifier: LGPL-2.1-or-later
"""What an LV's size is, what LVs and VGs are called, what VGs, LVs and PVs carry
(udisks2's Resize, Rename and the tags of its lvm2 module): each change under its
VG's lock, in one LVM command, its state published without a report where LVM's
result is known (Refresher.publish, as derive.py does for creations). The metadata
backup's watch reads the VG again after, and finds nothing to correct.

A VG renamed with active LVs: vgrename renames their device-mapper maps itself
(`vg_refresh_visible`), but only when /dev/<old name> exists; a map left with its
old name is renamed with `vgchange --refresh`. Renames of active LVs return once
udev has made their new /dev links, so `Path` works when the caller hears of it.
"""

from __future__ import annotations

import asyncio
import contextlib

from ....errors import AlreadyExists, Busy, NotFound
from ....models import LogicalVolume, Model, PhysicalVolume, VolumeGroup
from .... import options
from ... import resolve, rules
from ...intents import Intents
from ...protocol import MANAGED_TAG
from ...store import StateStore
from .. import udev
from ..luns import blockdev
from ..runner import Runner
from . import derive
from .commands import LvmCommands
from .devices import pv_devices
from .locks import VgLocks, held
from .refresh import Refresher


def lv_and_vg(store: StateStore, lv: str) -> tuple[LogicalVolume, VolumeGroup]:
    found = resolve.logical_volume(store, lv)
    vg = store.get(VolumeGroup, found.volume_group)
    if vg is None:
        raise NotFound(f"the volume group of {found.path} is gone")
    return found, vg


class LvmChanges:
    def __init__(self, runner: Runner, commands: LvmCommands, store: StateStore,
                 locks: VgLocks, refresher: Refresher, intents: Intents) -> None:
        self._runner = runner
        self._intents = intents
        self._commands = commands
        self._store = store
        self._locks = locks
        self._refresher = refresher

    # ---- Resize ----

    async def resize(self, lv: str, size: int,
                     opts: options.ResizeLogicalVolumeOptions) -> None:
        """LV `lv` is `size` bytes, rounded up to whole extents (rules.resize_extents
        says what is refused); a shrink is refused while the LV is open."""
        found, vg = lv_and_vg(self._store, lv)
        async with self._locks(vg.name):
            found, vg = lv_and_vg(self._store, found.uuid)
            count = rules.resize_extents(found, size, vg.extent_size, opts)
            if count is None:
                return
            new = count * vg.extent_size
            if new < found.size and await held(self._runner, self._store, vg, found):
                raise Busy(f"{found.path} is open; a shrink would cut what uses it")
            pvs = {key: pv for key in vg.physical_volumes
                   if (pv := self._store.get(PhysicalVolume, key)) is not None}
            await self._commands.lvresize(vg.name, found.name, count, new < found.size,
                                          pv_devices(self._store, vg))
            await self._publish_size(found, vg, pvs, new)

    async def _publish_size(self, found: LogicalVolume, vg: VolumeGroup,
                            pvs: dict[str, PhysicalVolume], new: int) -> None:
        """The LV's new size and the space it took or gave back, derived from its
        map when that is sure (derive.py): a plain active LV, and the one PV the
        space came from or went to known (a shrink may free extents on a PV the
        rest does not lie on: only with one PV in the VG); else a report."""
        sure = found.active and derive.plain(found) and (
            new > found.size or len(vg.physical_volumes) == 1)
        mapped, pv_key = await asyncio.to_thread(self._map_and_pv, vg, found.name) \
            if sure else (None, None)
        if mapped is None or mapped.size != new or pv_key is None:
            await self._refresher.refresh([vg.name])
            return
        await self._refresher.publish([
            found.model_copy(update={"size": new}),
            *derive.spent(vg, pvs.get(pv_key), new - found.size)])

    def _map_and_pv(self, vg: VolumeGroup, lv_name: str) -> tuple:
        mapped = derive.read_map(vg.name, lv_name)
        return mapped, derive.one_pv(self._store, vg, mapped)

    # ---- Rename ----

    async def rename_logical_volume(self, lv: str, name: str) -> None:
        """LV `lv` is called `name` (its UUID, so its object, stays); a no-op when
        it is already. AlreadyExists when another LV of its VG has the name."""
        found, vg = lv_and_vg(self._store, lv)
        async with self._locks(vg.name):
            found, vg = lv_and_vg(self._store, found.uuid)
            if found.name == name:
                return
            if any(self._store.get(LogicalVolume, key).name == name
                   for key in self._store.logical_volumes_of(vg.uuid)):
                raise AlreadyExists(f"{vg.name}/{name} exists")
            await self._commands.lvrename(vg.name, found.name, name,
                                          pv_devices(self._store, vg))
            if found.active:
                await udev.settle(self._runner)
            await self._refresher.publish([found.model_copy(
                update={"name": name, "path": f"/dev/{vg.name}/{name}"})])

    async def rename_volume_group(self, vg: str, name: str) -> None:
        """VG `vg` is called `name`, and its LVs' paths follow; the maps of its
        active LVs are renamed and their new /dev links made. A no-op when it is
        called so already; AlreadyExists when any VG LVM sees has the name; Busy
        for the VG of the root filesystem. Runs as a creation does (one at a time,
        the name asked of LVM on every device)."""
        found = resolve.volume_group(self._store, vg)
        if found.name == name:
            return
        if found.uuid.replace("-", "") in await asyncio.to_thread(blockdev.vgs_under, "/"):
            raise Busy(f"volume group {found.name} holds the root filesystem, which the "
                       "boot finds by its name; this service never renames it")
        if any(other.name == name for other in self._store.all(VolumeGroup).values()):
            raise AlreadyExists(f"a volume group named {name} exists")
        async with self._locks.creation, self._locks(found.name), self._locks(name):
            found = resolve.volume_group(self._store, found.uuid)
            if name in await self._commands.vg_names():
                raise AlreadyExists(f"a volume group named {name} exists")
            devices = pv_devices(self._store, found)
            # two commands where vgrename leaves the maps: recovery.py refreshes
            # them after a crash between the two
            intent = await self._intents.begin("rename-vg", name=found.name, new=name,
                                               devices=devices)
            await self._commands.vgrename(found.name, name, devices)
            await self._intents.step(intent, "vgrename-done")
            lvs = [lv for key in self._store.logical_volumes_of(found.uuid)
                   if (lv := self._store.get(LogicalVolume, key)) is not None]
            if active := [lv.name for lv in lvs if lv.active]:
                await self._maps_renamed(name, active, devices)
            await self._intents.end(intent)
            await self._refresher.publish([
                found.model_copy(update={"name": name}),
                *(lv.model_copy(update={"path": f"/dev/{name}/{lv.name}"}) for lv in lvs)])

    async def _maps_renamed(self, name: str, active: list[str], devices: list[str]) -> None:
        """The maps of VG `name`'s active LVs bear its new name, and udev has made
        their links."""
        def stale() -> bool:
            return any(derive.read_map(name, lv) is None for lv in active)
        if await asyncio.to_thread(stale):
            await self._commands.vgrefresh(name, devices)
        await udev.settle(self._runner)

    # ---- tags ----

    def _tagged(self, kind: str, key: str) -> tuple[Model, VolumeGroup | None]:
        """The VG, LV or PV (`kind`, its key) as it is now, and its VG (None for a
        PV of no VG)."""
        cls = {"VolumeGroup": VolumeGroup, "LogicalVolume": LogicalVolume,
               "PhysicalVolume": PhysicalVolume}[kind]
        found = self._store.get(cls, key)
        if found is None:
            raise NotFound(f"no {kind} {key}")
        vg_key = found.uuid if cls is VolumeGroup else found.volume_group
        vg = self._store.get(VolumeGroup, vg_key)
        if vg is None and cls is not PhysicalVolume:
            raise NotFound(f"the volume group of {kind} {key} is gone")
        return found, vg

    def _command_target(self, found: Model, vg: VolumeGroup | None
                        ) -> tuple[str, str, list[str]]:
        """What `vgchange`, `lvchange` or `pvchange` names, and its `--devices`."""
        devices = pv_devices(self._store, vg) if vg else []
        if isinstance(found, PhysicalVolume):
            return "pv", found.device, list(dict.fromkeys([*devices, found.device]))
        if isinstance(found, LogicalVolume):
            return "lv", f"{vg.name}/{found.name}", devices
        return "vg", vg.name, devices

    async def change_tags(self, kind: str, key: str, add: list[str],
                          remove: list[str]) -> None:
        """The VG, LV or PV (`kind`, its key) carries the tags `add` and none of
        `remove`; tags already so are left alone (nothing to do: no command)."""
        found, vg = self._tagged(kind, key)
        async with self._locks(vg.name) if vg else contextlib.nullcontext():
            found, vg = self._tagged(kind, key)
            adding = [tag for tag in add if tag not in found.tags]
            removing = [tag for tag in remove if tag in found.tags]
            if not adding and not removing:
                return
            short, target, devices = self._command_target(found, vg)
            await self._commands.change_tags(short, target, adding, removing, devices)
            tags = tuple(sorted((set(found.tags) | set(adding)) - set(removing)))
            update: dict = {"tags": tags}
            if kind == "VolumeGroup":
                update["managed"] = MANAGED_TAG in tags
            await self._refresher.publish([found.model_copy(update=update)])

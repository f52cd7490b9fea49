# SPDX-License-Identifier: LGPL-2.1-or-later
"""What holds a VG: one of our own changes (a lock per VG name), or something that
has one of its LVs open (device-mapper's open counts)."""

import asyncio

from ....models import LogicalVolume, VolumeGroup
from ...store import StateStore
from .. import dm, udev
from ..runner import Runner


class VgLocks:
    """Operations on one VG are serialized; reads and other VGs never wait."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        #: one VG creation at a time on the host: from the name's check to vgcreate
        self.creation = asyncio.Lock()

    def __call__(self, name: str) -> asyncio.Lock:
        """The lock of VG `name`, made the first time it is asked for."""
        return self._locks.setdefault(name, asyncio.Lock())

    def held(self, name: str) -> asyncio.Lock | None:
        """VG `name`'s lock while one of our changes holds it, else None."""
        lock = self._locks.get(name)
        return lock if lock is not None and lock.locked() else None


async def open_lvs(runner: Runner, store: StateStore, vg: VolumeGroup) -> list[str]:
    """Names of the VG's LVs something holds open, from device-mapper's open
    counts (`dmsetup info`): fresher than LVM's report, and no LVM process."""
    opened = await dm.open_lvm_uuids(runner)
    prefix = vg.uuid.replace("-", "")
    return sorted(lv.name for lv in store.all(LogicalVolume).values()
                  if lv.volume_group == vg.uuid
                  and prefix + lv.uuid.replace("-", "") in opened)


async def held(runner: Runner, store: StateStore, vg: VolumeGroup,
               lv: LogicalVolume | None = None) -> list[str]:
    """The VG's open LVs (or only `lv`, if open). udev's probe after a write
    or a change event holds a device for a moment: when something is open,
    let udev's queue drain and look once more before calling it busy."""
    def relevant(names: list[str]) -> list[str]:
        return [n for n in names if lv is None or n == lv.name]
    found = relevant(await open_lvs(runner, store, vg))
    if found:
        await udev.settle(runner)
        found = relevant(await open_lvs(runner, store, vg))
    return found

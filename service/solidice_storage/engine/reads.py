# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reads both engines answer from their store alone: enumerating, listing, and
resolving what a caller named (engine/resolve.py) before polkit is asked.

The D-Bus layer resolves what a caller named, asks polkit about the object found,
then hands the engine that object's UUID (WWID for a LUN). It turns our object
paths into those keys itself; every reference here is a key, a name or a /dev path.
Errors are resolve.py's: `NotFound`, `InvalidArgument` (ambiguous, a path device).
"""

from functools import partial
from typing import Callable

from ..errors import InvalidArgument
from ..models import Lun, LogicalVolume, PhysicalVolume, VolumeGroup
from . import resolve
from .store import StateStore


class Reads:
    """Reads over `store`; a device reference is resolved by `device_resolver`
    (the real engine's knows /dev names from udev's data), else from the store."""

    def __init__(self, store: StateStore,
                 device_resolver: Callable[[str], Lun] | None = None) -> None:
        self.store = store
        self._device = device_resolver or partial(resolve.lun, store)

    def enumerate_luns(self) -> list[str]:
        """WWIDs of every LUN: multipath maps, never their paths."""
        return list(self.store.all(Lun))

    def enumerate_volume_groups(self) -> list[str]:
        """UUIDs of every VG."""
        return list(self.store.all(VolumeGroup))

    def list_physical_volumes(self, vg: str) -> list[str]:
        """UUIDs of the PVs of VG `vg` (a reference). `NotFound` if none."""
        return list(resolve.volume_group(self.store, vg).physical_volumes)

    def list_logical_volumes(self, vg: str) -> list[str]:
        """UUIDs of the LVs of VG `vg`, snapshots included."""
        return self.store.logical_volumes_of(resolve.volume_group(self.store, vg).uuid)

    def resolve_volume_group(self, ref: str) -> VolumeGroup:
        """The VG `ref` names."""
        return resolve.volume_group(self.store, ref)

    def resolve_logical_volume(self, ref: str) -> LogicalVolume:
        """The LV `ref` names."""
        return resolve.logical_volume(self.store, ref)

    def resolve_physical_volume(self, vg: str, ref: str) -> PhysicalVolume:
        """The PV of VG `vg` that `ref` names (UUID, device node, LUN's WWID)."""
        return resolve.physical_volume(self.store, ref, resolve.volume_group(self.store, vg))

    def resolve_any_physical_volume(self, ref: str) -> PhysicalVolume:
        """The PV `ref` names (UUID, device node, LUN's WWID), in a VG or not."""
        return resolve.physical_volume(self.store, ref)

    def resolve_device(self, ref: str) -> Lun:
        """The LUN `ref` names: a map, never one of its paths."""
        return self._device(ref)

    def resolve_devices(self, refs: list[str]) -> list[Lun]:
        """The LUNs `refs` name, in order: maps, never their paths; `/dev` names
        from udev's data alone. `InvalidArgument` if two name the same LUN."""
        luns = [self._device(ref) for ref in refs]
        if len({found.wwid for found in luns}) != len(luns):
            raise InvalidArgument("devices names the same LUN twice")
        return luns

# SPDX-License-Identifier: LGPL-2.1-or-later
"""One resolver for every reference a caller passes: UUID first, then name.

A VG, PV, LV or device may be named by its UUID (WWID for a LUN), its name (`vg/lv`
for an LV), or a /dev path for devices (the D-Bus layer has turned an object path
into its object's key already). A reference shaped like an
LVM UUID (with or without dashes) is only ever a UUID. More than one match is
`InvalidArgument`; none is `NotFound`. A path device of a multipath map is refused:
a multipathed LUN is only ever used through its map.

The D-Bus layer resolves every reference through the engine's `reads` (reads.py)
before it asks polkit, tells polkit the object found, and hands the engine that
object's UUID (or WWID): what is authorized is what is acted on.
"""

from typing import Callable, TypeVar

from .. import validation
from ..errors import InvalidArgument, NotFound
from ..models import Lun, LogicalVolume, Model, PhysicalVolume, VolumeGroup
from .rules import wwid_candidates
from .store import StateStore

M = TypeVar("M", bound=Model)


def _one(matches: list[M], ref: str, what: str) -> M | None:
    if len(matches) > 1:
        raise InvalidArgument(f"{ref!r} names {len(matches)} {what}s; use a UUID")
    return matches[0] if matches else None


def _find(store: StateStore, cls: type[M], ref: str, what: str,
          by_name: Callable[[M], bool], within: Callable[[M], bool] = lambda m: True) -> M:
    table = store.all(cls)
    key = validation.lvm_uuid(ref) if validation.is_lvm_uuid(ref) else ref
    found = table.get(key) if key in table and within(table[key]) else None
    if found is None and not validation.is_lvm_uuid(ref):
        # a UUID-shaped reference is a UUID, never a name (validation refuses such
        # names): a VG named after a victim's UUID cannot stand in for the victim
        found = _one([m for m in store.all(cls).values() if within(m) and by_name(m)],
                     ref, what)
    if found is None or not within(found):
        raise NotFound(f"no {what} {ref!r}")
    return found


def volume_group(store: StateStore, ref: str) -> VolumeGroup:
    return _find(store, VolumeGroup, ref, "volume group", lambda vg: vg.name == ref)


def logical_volume(store: StateStore, ref: str, vg: VolumeGroup | None = None) -> LogicalVolume:
    """An LV by UUID, `vg/lv`, or (given `vg`) its plain name."""
    def by_name(lv: LogicalVolume) -> bool:
        if vg is not None and lv.name == ref:
            return True
        owner = store.get(VolumeGroup, lv.volume_group)
        return owner is not None and f"{owner.name}/{lv.name}" == ref

    within = (lambda lv: lv.volume_group == vg.uuid) if vg else (lambda lv: True)
    return _find(store, LogicalVolume, ref, "logical volume", by_name, within)


def lun(store: StateStore, ref: str) -> Lun:
    """A LUN by WWID (any common spelling) or device node."""
    luns = store.all(Lun)
    for candidate in wwid_candidates(ref):
        if candidate in luns:
            return luns[candidate]
    if ref.startswith("/dev/"):
        name = ref.rsplit("/", 1)[-1]
        for item in luns.values():
            if item.device == ref:
                return item
            if any(path == name or f"/dev/{path}" == ref for path, _ in item.paths):
                raise InvalidArgument(
                    f"{ref} is a path of multipath map {item.device}; use the map")
    raise NotFound(f"no LUN {ref!r}")


def physical_volume(store: StateStore, ref: str, vg: VolumeGroup | None = None) -> PhysicalVolume:
    """A PV by UUID, device node or its LUN's WWID."""
    def by_device(pv: PhysicalVolume) -> bool:
        return pv.device == ref or pv.lun is not None and pv.lun in wwid_candidates(ref)

    within = (lambda pv: pv.volume_group == vg.uuid) if vg else (lambda pv: True)
    return _find(store, PhysicalVolume, ref, "physical volume", by_device, within)

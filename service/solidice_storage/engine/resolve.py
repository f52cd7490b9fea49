"""One resolver for every reference a caller passes: UUID first, then name.

A VG, PV, LV or device may be named by its UUID (WWID for a LUN), its name (`vg/lv`
for an LV), its object path, or a /dev path for devices. More than one match is
`InvalidArgument`; none is `NotFound`. A path device of a multipath map is refused:
a multipathed LUN is only ever used through its map.
"""

from typing import Callable, TypeVar

from .. import objpath
from ..errors import InvalidArgument, NotFound
from ..models import Lun, LogicalVolume, Model, PhysicalVolume, VolumeGroup
from .shared import wwid_candidates
from .state import StateStore

M = TypeVar("M", bound=Model)


def _by_path(store: StateStore, cls: type[M], ref: str, what: str) -> M | None:
    if not ref.startswith("/org/"):
        return None
    parsed = objpath.parse(ref)
    if parsed is None or parsed[0] != cls.KIND:
        raise InvalidArgument(f"{ref!r} is not the object path of a {what}")
    found = store.get(cls, parsed[1])
    if found is None:
        raise NotFound(f"no {what} at {ref}")
    return found


def _one(matches: list[M], ref: str, what: str) -> M | None:
    if len(matches) > 1:
        raise InvalidArgument(f"{ref!r} names {len(matches)} {what}s; use a UUID")
    return matches[0] if matches else None


def _find(store: StateStore, cls: type[M], ref: str, what: str,
          by_name: Callable[[M], bool], within: Callable[[M], bool] = lambda m: True) -> M:
    found = _by_path(store, cls, ref, what)
    if found is None:
        table = store.all(cls)
        found = table.get(ref) if ref in table and within(table[ref]) else None
    if found is None:
        found = _one([m for m in store.all(cls).values() if within(m) and by_name(m)],
                     ref, what)
    if found is None or not within(found):
        raise NotFound(f"no {what} {ref!r}")
    return found


def volume_group(store: StateStore, ref: str) -> VolumeGroup:
    return _find(store, VolumeGroup, ref, "volume group", lambda vg: vg.name == ref)


def logical_volume(store: StateStore, ref: str, vg: VolumeGroup | None = None) -> LogicalVolume:
    """An LV by UUID, path, `vg/lv`, or (given `vg`) its plain name."""
    def by_name(lv: LogicalVolume) -> bool:
        if vg is not None and lv.name == ref:
            return True
        owner = store.get(VolumeGroup, lv.volume_group)
        return owner is not None and f"{owner.name}/{lv.name}" == ref

    within = (lambda lv: lv.volume_group == vg.uuid) if vg else (lambda lv: True)
    return _find(store, LogicalVolume, ref, "logical volume", by_name, within)


def lun(store: StateStore, ref: str) -> Lun:
    """A LUN by WWID (any common spelling), object path or device node."""
    found = _by_path(store, Lun, ref, "LUN")
    if found is not None:
        return found
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
    """A PV by UUID, object path, device node or its LUN's WWID."""
    def by_device(pv: PhysicalVolume) -> bool:
        return pv.device == ref or pv.lun is not None and pv.lun in wwid_candidates(ref)

    within = (lambda pv: pv.volume_group == vg.uuid) if vg else (lambda pv: True)
    return _find(store, PhysicalVolume, ref, "physical volume", by_device, within)

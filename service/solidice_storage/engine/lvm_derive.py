"""The state an LV change leaves, known without a report.

A report after every change would double the cost of each one: a second LVM
process, which reads the whole VG's metadata again (lvmdbusd runs a full report
after each change, and is 3 times the raw command at 1,000 LVs). After creating,
extending or removing a plain LV we know what LVM did from what it was asked and
from the kernel: the map device-mapper now has for the LV gives its UUID and its
size. The models are updated from that, and the reply goes out after one LVM
process. The report still comes, after the reply: LVM rewrites the VG's metadata
backup on every change, and its watch (host_lvm.py) reads the VG again, so anything
not derived here (how a VG of several PVs spread the extents) is corrected a moment
later, with a PropertiesChanged.

Only what is sure is derived: an LV whose map was read back with the size LVM was
asked for, of a plain (linear or striped) kind. Anything else (an inactive LV,
which has no map; a snapshot, thin or RAID volume) is read with a report, as before.
"""

import os
from dataclasses import dataclass

from ..models import LogicalVolume, Model, PhysicalVolume, VolumeGroup
from .blockdev import lvm_uuid
from .state import StateStore

NEW_ACTIVE_ATTRIBUTES = "-wi-a-----"     # lv_attr of a new linear LV, active, closed


@dataclass(frozen=True)
class Map:
    uuid: str          # device-mapper's UUID: LVM-<VG UUID><LV UUID>, no dashes
    size: int          # bytes


def dm_name(vg_name: str, lv_name: str) -> str:
    """The device-mapper name LVM gives an LV: each `-` doubled, then joined by `-`."""
    return f"{vg_name.replace('-', '--')}-{lv_name.replace('-', '--')}"


def read_map(vg_name: str, lv_name: str, dev: str = "/dev/mapper",
             sysfs: str = "/sys") -> Map | None:
    """The LV's map as the kernel has it, or None. Reads /dev and sysfs only, which
    cannot hang; call it off the loop all the same."""
    name = dm_name(vg_name, lv_name)
    try:
        rdev = os.stat(os.path.join(dev, name)).st_rdev
        base = os.path.join(sysfs, "dev/block", f"{os.major(rdev)}:{os.minor(rdev)}")
        with open(os.path.join(base, "dm/name")) as handle:
            if handle.read().strip() != name:
                return None
        with open(os.path.join(base, "dm/uuid")) as handle:
            uuid = handle.read().strip()
        with open(os.path.join(base, "size")) as handle:
            size = int(handle.read()) * 512
    except (OSError, ValueError):
        return None
    return Map(uuid, size)


def plain(lv: LogicalVolume) -> bool:
    """A linear or striped LV (lv_attr: no special volume type, no special target):
    its extents in the VG are its size, and nothing else changes with it."""
    return len(lv.attributes) >= 7 and lv.attributes[0] == "-" and lv.attributes[6] == "-"


def lv_of_map(vg: VolumeGroup, name: str, mapped: Map | None,
              size: int) -> LogicalVolume | None:
    """The LV a create made, from its map; None unless the map is the VG's and has
    the size asked for."""
    prefix = "LVM-" + vg.uuid.replace("-", "")
    if mapped is None or len(mapped.uuid) != 68 or not mapped.uuid.startswith(prefix) \
            or mapped.size != size:
        return None
    return LogicalVolume(uuid=lvm_uuid(mapped.uuid[36:]), name=name, volume_group=vg.uuid,
                         size=size, path=f"/dev/{vg.name}/{name}", active=True,
                         origin=None, attributes=NEW_ACTIVE_ATTRIBUTES)


def spent(store: StateStore, vg: VolumeGroup, used: int) -> list[Model]:
    """The VG (and its PV, if it has only one) after `used` more bytes were taken
    (less than zero: given back). With several PVs, which one gave the extents is
    left to the report that follows."""
    models: list[Model] = [vg.model_copy(update={"free_size": vg.free_size - used})]
    if len(vg.physical_volumes) == 1:
        pv = store.get(PhysicalVolume, vg.physical_volumes[0])
        if pv is not None:
            models.append(pv.model_copy(update={"free_size": pv.free_size - used}))
    return models

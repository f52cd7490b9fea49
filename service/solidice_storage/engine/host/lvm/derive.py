# SPDX-License-Identifier: LGPL-2.1-or-later
"""The state an LV change leaves, known without a report.

A report after every change would double the cost of each one: a second LVM
process, which reads the whole VG's metadata again (lvmdbusd runs a full report
after each change, and is 3 times the raw command at 1,000 LVs). After creating,
extending or removing a plain LV we know what LVM did from what it was asked and
from the kernel: the map device-mapper now has for the LV gives its UUID and its
size. The models are updated from that, and the reply goes out after one LVM
process. The report still comes, after the reply: LVM rewrites the VG's metadata
backup on every change, and its watch (refresh.py) reads the VG again, and finds
nothing to correct.

Only what is sure is derived: an LV whose map was read back with the size LVM was
asked for, of a plain (linear or striped) kind, on one PV (the map's one underlying
device, or the VG's only PV), so the space it took or gave back is that PV's.
Anything else (an inactive LV, which has no map; an LV spread over several PVs; a
snapshot, thin or RAID volume) is read with a report before the reply, as before.
"""

import os
from dataclasses import dataclass

from ....models import LogicalVolume, Model, PhysicalVolume, VolumeGroup
from ..luns.blockdev import lvm_uuid
from ...store import StateStore

NEW_ACTIVE_ATTRIBUTES = "-wi-a-----"     # lv_attr of a new linear LV, active, closed


@dataclass(frozen=True)
class Map:
    uuid: str          # device-mapper's UUID: LVM-<VG UUID><LV UUID>, no dashes
    size: int          # bytes
    under: tuple[str, ...] = ()    # the devices it maps onto, as "major:minor"


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
        under = []
        for slave in sorted(os.listdir(os.path.join(base, "slaves"))):
            with open(os.path.join(base, "slaves", slave, "dev")) as handle:
                under.append(handle.read().strip())
    except (OSError, ValueError):
        return None
    return Map(uuid, size, tuple(under))


def device_number(path: str) -> str | None:
    """A block device's "major:minor", or None."""
    try:
        rdev = os.stat(path).st_rdev
    except OSError:
        return None
    return f"{os.major(rdev)}:{os.minor(rdev)}"


def one_pv(store: StateStore, vg: VolumeGroup, mapped: Map | None) -> str | None:
    """The PV (its UUID) an LV lies on, when that is one PV: the VG's only one, or
    the one device the LV's map is on. None when not sure. Stats the VG's PV device
    nodes: call it off the loop."""
    if len(vg.physical_volumes) == 1:
        return vg.physical_volumes[0]
    if mapped is None or len(mapped.under) != 1:
        return None
    for key in vg.physical_volumes:
        pv = store.get(PhysicalVolume, key)
        if pv is not None and device_number(pv.device) == mapped.under[0]:
            return key
    return None


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


def spent(vg: VolumeGroup, pv: PhysicalVolume | None, used: int) -> list[Model]:
    """The VG and its PV `pv` after `used` more bytes of it were taken (less than
    zero: given back). Both as they were read before the command, under the VG's
    lock: a report of another VG's change may have published this one's state
    after the command meanwhile, and the space must not be taken twice."""
    models: list[Model] = [vg.model_copy(update={"free_size": vg.free_size - used})]
    if pv is not None:
        models.append(pv.model_copy(update={"free_size": pv.free_size - used}))
    return models

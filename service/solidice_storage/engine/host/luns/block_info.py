# SPDX-License-Identifier: LGPL-2.1-or-later
"""GetBlockInfo on the real host: a block device found by WWID (any spelling), kernel
name, /dev name (node, kernel node or udev link), PV, LV, filesystem or partition
UUID, from the last scan's disks and udev's data. Plain functions, run off the loop.

A /dev name is looked up in udev's data only: nothing a caller sends reaches the
filesystem (a path into a dead NFS or FUSE mount would hang a thread).
"""

from .... import validation
from ....errors import NotFound
from ...protocol import BlockInfo
from ...rules import wwid_candidates
from . import blockdev
from .blockdev import Disk, Volume
from .luns import dev_names


def block_info(disks: list[Disk], ref: str) -> BlockInfo:
    """The block device `ref` names; `NotFound` if none."""
    validation.reference(ref, "name or UUID")     # whoever calls: nothing out of /dev
    luns = [d for d in disks if d.path_of is None]
    for candidate in wwid_candidates(ref):
        for disk in luns:
            if disk.wwid == candidate:
                return _disk_info(disks, disk)
    if ref.startswith("/dev/"):
        return _dev_info(disks, ref)
    for disk in disks:
        if disk.name == ref:
            return _disk_info(disks, disk)
    for disk in disks:
        if ref and disk.fs_uuid == ref:          # a PV's or a filesystem's UUID
            return _disk_info(disks, disk, uuid=ref)
    for volume in blockdev.volumes():            # partitions and LVs: read now
        if ref in (volume.name, volume.uuid, volume.label):
            return _volume_info(volume, volume.uuid)
        if volume.fs_uuid == ref:
            return _volume_info(volume, ref)
    raise NotFound(f"no device, LUN or volume {ref!r}")


def _dev_info(disks: list[Disk], ref: str) -> BlockInfo:
    """A /dev name: a disk's, else a partition's or an LV's (read now)."""
    disk = next((disk for disk in disks if ref in dev_names(disk)), None)
    if disk is not None:
        return _disk_info(disks, disk)
    for volume in blockdev.volumes():
        # /dev/<vg>/<lv> by udev's DM_VG_NAME/DM_LV_NAME too: LVM makes that
        # link itself where its udev rules are off, and then udev has no link
        if ref in dev_names(volume) or volume.label and ref == f"/dev/{volume.label}":
            return _volume_info(volume, volume.uuid)
    raise NotFound(f"no device, LUN or volume {ref!r}")


def _disk_info(disks: list[Disk], disk: Disk, uuid: str = "") -> BlockInfo:
    if disk.path_of is not None:
        owner = next(d for d in disks if d.wwid == disk.path_of and d.path_of is None)
        used_by = f"multipath:{owner.node}"
    else:
        used_by = _used_by(disk.status, disk.holders)
    return BlockInfo(uuid=uuid or disk.wwid, size=disk.size, path=disk.node,
                     type="multipath" if disk.multipath else "disk", used_by=used_by,
                     name=disk.name)


def _volume_info(volume: Volume, uuid: str) -> BlockInfo:
    status = blockdev.status({"ID_FS_TYPE": volume.fs_type}, volume.holders)
    return BlockInfo(uuid=uuid or volume.fs_uuid, size=volume.size, path=volume.node,
                     type=volume.kind, used_by=_used_by(status, volume.holders),
                     name=volume.label or volume.name)


def _used_by(status: str, holders: list[str]) -> str:
    if status == "other" and holders:
        return "holders:" + ",".join(holders)
    return {"free": "", "partitioned": "partition-table"}.get(status, status)

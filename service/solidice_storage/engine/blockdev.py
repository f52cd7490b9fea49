"""The host's disks, read from udev's database and sysfs: never by opening a device.

Opening a disk read-write to probe it makes udev reprobe it (change → probe →
change storms), and even a read-only open can hang on a map with no path. So
everything here comes from what udev already recorded (/run/udev/data, through
pyudev) and from sysfs attributes. Plain functions, run off the event loop.

Keys (DESIGN.md): a LUN is keyed by its WWID as scsi_id and multipathd print it
(`ID_SERIAL` of a SCSI disk, `36001405…`); a disk without one by its `ID_PATH`.
"""

import os
from dataclasses import dataclass, field

import pyudev

SKIPPED_NAMES = ("loop", "ram", "zram", "sr", "nbd", "md")


@dataclass
class Disk:
    """One disk as udev and sysfs describe it."""

    name: str                          # kernel name: sda, dm-3, nvme0n1
    node: str                          # /dev/sda, /dev/mapper/<map name>
    size: int                          # bytes
    wwid: str                          # the key
    vendor: str = ""
    model: str = ""
    serial: str = ""
    transport: str = "unknown"
    status: str = "free"
    multipath: bool = False            # a dm-multipath map
    path_of: str | None = None         # set on a path device: its map's WWID
    slaves: list[str] = field(default_factory=list)
    dev_t: str = ""                    # major:minor


def _sysfs(device: pyudev.Device, attribute: str) -> str:
    try:
        with open(os.path.join(device.sys_path, attribute)) as handle:
            return handle.read().strip()
    except OSError:
        return ""


def transport(properties: dict[str, str], name: str) -> str:
    id_path = properties.get("ID_PATH", "")
    for marker, kind in (("-iscsi-", "iscsi"), ("-fc-", "fc"), ("-sas-", "sas"),
                         ("-ata-", "ata"), ("-nvme-", "nvme")):
        if marker in id_path:
            return kind
    if name.startswith("nvme"):
        return "nvme"
    if name.startswith("vd") or "virtio" in id_path:
        return "virtio"
    if properties.get("ID_BUS") == "ata":
        return "ata"
    return "scsi" if properties.get("ID_BUS") == "scsi" else "unknown"


def status(properties: dict[str, str], holders: list[str]) -> str:
    fs_type = properties.get("ID_FS_TYPE", "")
    if fs_type == "LVM2_member":
        return "pv"
    if fs_type == "mpath_member":           # a path of a multipath map
        return "other"
    if properties.get("ID_PART_TABLE_TYPE"):
        return "partitioned"
    if fs_type:
        return "filesystem"
    return "other" if holders else "free"


def wwid(properties: dict[str, str], sysfs_wwid: str) -> str:
    """scsi_id's form for SCSI disks, the kernel's for others, else the udev path."""
    serial = properties.get("ID_SERIAL", "")
    if properties.get("ID_BUS") == "scsi" and serial[:1].isdigit():
        return serial
    return sysfs_wwid or properties.get("ID_WWN", "") or properties.get("ID_PATH", "")


def describe(device: pyudev.Device) -> Disk | None:
    """A Disk for one udev block device, or None for what is not a disk of ours."""
    name = device.sys_name
    if device.device_type != "disk" or name.startswith(SKIPPED_NAMES):
        return None
    properties = dict(device.properties)
    size = int(_sysfs(device, "size") or 0) * 512
    holders = sorted(os.listdir(os.path.join(device.sys_path, "holders")))
    dm_uuid = properties.get("DM_UUID", "")
    if name.startswith("dm-"):
        if not dm_uuid.startswith("mpath-"):
            return None                                  # LVs and others: not LUNs
        map_name = _sysfs(device, "dm/name")
        slaves = sorted(os.listdir(os.path.join(device.sys_path, "slaves")))
        return Disk(name=name, node=f"/dev/mapper/{map_name}", size=size,
                    wwid=dm_uuid[len("mpath-"):], multipath=True, slaves=slaves,
                    dev_t=_sysfs(device, "dev"),
                    status=status(properties, holders))
    key = wwid(properties, _sysfs(device, "device/wwid") or _sysfs(device, "wwid"))
    if not key:
        return None
    return Disk(name=name, node=f"/dev/{name}", size=size, wwid=key, dev_t=_sysfs(device, "dev"),
                vendor=_sysfs(device, "device/vendor") or properties.get("ID_VENDOR", ""),
                model=_sysfs(device, "device/model") or properties.get("ID_MODEL", ""),
                serial=properties.get("ID_SCSI_SERIAL") or properties.get("ID_SERIAL_SHORT", ""),
                transport=transport(properties, name),
                status=status(properties, holders))


def scan(context: pyudev.Context | None = None) -> list[Disk]:
    """Every disk udev knows, maps and their paths linked (`path_of`)."""
    context = context or pyudev.Context()
    disks = [disk for device in context.list_devices(subsystem="block")
             if (disk := describe(device)) is not None]
    maps = {disk.wwid: disk for disk in disks if disk.multipath}
    by_name = {disk.name: disk for disk in disks}
    for item in maps.values():
        for slave in item.slaves:
            if slave in by_name:
                by_name[slave].path_of = item.wwid
        first = next((by_name[s] for s in item.slaves if s in by_name), None)
        if first is not None:       # what the map is made of describes it
            item.vendor, item.model, item.serial = first.vendor, first.model, first.serial
            item.transport = first.transport
    return disks

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The host's disks, read from udev's database and sysfs: never by opening a device.

Opening a disk read-write to probe it makes udev reprobe it (change → probe →
change storms), and even a read-only open can hang on a map with no path. So
everything here comes from what udev already recorded (/run/udev/data, through
pyudev) and from sysfs attributes. Plain functions, run off the event loop.

Keys (docs/api.md, "Object paths are stable"): a LUN is keyed by its WWID as scsi_id and multipathd print it
(`ID_SERIAL` of a SCSI disk, `36001405…`); a disk without one by its `ID_PATH`. On a
host without udevd there is no udev data: a disk is then keyed by the kernel's WWID,
else by the `ID_PATH` udev would give it, read from its sysfs path (`sysfs_path_id`),
so that a plain disk is still a LUN there.
"""

import os
import re
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
    holders: list[str] = field(default_factory=list)
    fs_type: str = ""                  # udev's ID_FS_TYPE: ext4, LVM2_member, ...
    fs_uuid: str = ""                  # ID_FS_UUID: a filesystem's or a PV's UUID
    iscsi_session: int | None = None   # the iSCSI session a path device is behind
    multipath_candidate: bool = False  # multipath will claim it (DM_MULTIPATH_DEVICE_PATH)
    links: list[str] = field(default_factory=list)   # udev's DEVLINKS: /dev/disk/by-id/...


@dataclass
class Volume:
    """A partition or an LVM logical volume: a block device that is not a LUN."""

    name: str
    node: str
    size: int
    kind: str                          # partition, lvm
    uuid: str                          # an LV's UUID; a partition's entry UUID
    parent: str = ""                   # a partition's disk (kernel name)
    fs_type: str = ""
    fs_uuid: str = ""
    holders: list[str] = field(default_factory=list)
    label: str = ""                    # an LV's vg/lv name
    links: list[str] = field(default_factory=list)   # udev's DEVLINKS: /dev/<vg>/<lv>, ...


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


_PCI_FUNCTION = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")
_SCSI_ADDRESS = re.compile(r"\d+:\d+:\d+:\d+")
_NVME_NAMESPACE = re.compile(r"nvme\d+n(\d+)")


def sysfs_path_id(sys_path: str, name: str) -> str:
    """udev's ID_PATH (path_id) of a PCI-attached disk, from its sysfs path alone:
    `pci-<function>` for a virtio disk, with `-scsi-<h:c:t:l>` for a SCSI disk and
    `-nvme-<namespace>` for an NVMe one; "" for a disk on no PCI function."""
    parts = sys_path.split("/")
    functions = [part for part in parts if _PCI_FUNCTION.fullmatch(part)]
    if not functions:
        return ""
    key = f"pci-{functions[-1]}"
    scsi = [part for part in parts if _SCSI_ADDRESS.fullmatch(part)]
    if scsi:
        return f"{key}-scsi-{scsi[-1]}"
    if nvme := _NVME_NAMESPACE.fullmatch(name):
        return f"{key}-nvme-{nvme[1]}"
    return key


_SESSION_IN_PATH = re.compile(r"/session(\d+)/")
_DM_PARTITION = re.compile(r"part\d+-mpath-(\S+)")


def lvm_uuid(raw: str) -> str:
    """LVM's 32-character UUID in the dashed form its tools print (6-4-4-4-4-4-6)."""
    parts, at = [], 0
    for width in (6, 4, 4, 4, 4, 4, 6):
        parts.append(raw[at:at + width])
        at += width
    return "-".join(parts)


def _listdir(device: pyudev.Device, name: str) -> list[str]:
    """A sysfs directory's entries; none when the device went away meanwhile."""
    try:
        return sorted(os.listdir(os.path.join(device.sys_path, name)))
    except OSError:
        return []


def _dm_uuid(device: pyudev.Device, properties: dict[str, str]) -> str:
    """A device-mapper device's UUID: udev's copy, else the kernel's. A map
    multipathd has just made is in sysfs before udev has processed its event, and
    its paths are already held by it: unknown as a map, they would look in use."""
    if not device.sys_name.startswith("dm-"):
        return ""
    return properties.get("DM_UUID", "") or _sysfs(device, "dm/uuid")


def _common(device: pyudev.Device, properties: dict[str, str]) -> dict:
    return {"size": int(_sysfs(device, "size") or 0) * 512,
            "holders": _listdir(device, "holders"),
            "fs_type": properties.get("ID_FS_TYPE", ""),
            "fs_uuid": properties.get("ID_FS_UUID", ""),
            # the names GetBlockInfo and device references resolve: never looked up
            "links": properties.get("DEVLINKS", "").split()}


def describe_volume(device: pyudev.Device) -> Volume | None:
    """A Volume for a partition or an LV, or None."""
    properties = dict(device.properties)
    name = device.sys_name
    if device.device_type == "partition":
        parent = device.find_parent("block")
        return Volume(name=name, node=f"/dev/{name}", kind="partition",
                      uuid=properties.get("ID_PART_ENTRY_UUID", ""),
                      parent=parent.sys_name if parent is not None else "",
                      **_common(device, properties))
    dm_uuid = _dm_uuid(device, properties)
    if name.startswith("dm-") and (part := _DM_PARTITION.fullmatch(dm_uuid)):
        # a partition of a multipath map, made by kpartx: part1-mpath-<wwid>
        slaves = _listdir(device, "slaves")
        return Volume(name=name, node=f"/dev/mapper/{_sysfs(device, 'dm/name')}",
                      kind="partition", uuid=properties.get("ID_PART_ENTRY_UUID", ""),
                      parent=slaves[0] if slaves else part[1],
                      **_common(device, properties))
    if name.startswith("dm-") and dm_uuid.startswith("LVM-") and len(dm_uuid) == 68:
        vg, lv = properties.get("DM_VG_NAME", ""), properties.get("DM_LV_NAME", "")
        return Volume(name=name, node=f"/dev/mapper/{_sysfs(device, 'dm/name')}",
                      kind="lvm", uuid=lvm_uuid(dm_uuid[36:]), label=f"{vg}/{lv}",
                      **_common(device, properties))
    return None           # LVM's internal devices (-real, -cow), crypt, ...


def volumes(context: pyudev.Context | None = None) -> list[Volume]:
    context = context or pyudev.Context()
    return [volume for device in context.list_devices(subsystem="block")
            if (volume := _gone_is_none(describe_volume, device)) is not None]


def _gone_is_none(describe_one, device: pyudev.Device):
    """`describe_one(device)`, or None when the device vanished while we looked
    (a logout, a path removed): a scan never fails for that."""
    try:
        return describe_one(device)
    except (OSError, LookupError):
        return None


def describe(device: pyudev.Device) -> Disk | None:
    """A Disk for one udev block device, or None for what is not a disk of ours."""
    name = device.sys_name
    if device.device_type != "disk" or name.startswith(SKIPPED_NAMES):
        return None
    properties = dict(device.properties)
    common = _common(device, properties)
    dm_uuid = _dm_uuid(device, properties)
    if name.startswith("dm-"):
        if not dm_uuid.startswith("mpath-"):
            return None                                  # LVs and others: not LUNs
        map_name = _sysfs(device, "dm/name")
        slaves = _listdir(device, "slaves")
        return Disk(name=name, node=f"/dev/mapper/{map_name}",
                    wwid=dm_uuid[len("mpath-"):], multipath=True, slaves=slaves,
                    dev_t=_sysfs(device, "dev"),
                    status=status(properties, common["holders"]), **common)
    key = (wwid(properties, _sysfs(device, "device/wwid") or _sysfs(device, "wwid"))
           or sysfs_path_id(device.sys_path, name))      # no udev data: no udevd
    if not key:
        return None
    session = _SESSION_IN_PATH.search(device.sys_path)
    return Disk(name=name, node=f"/dev/{name}", wwid=key, dev_t=_sysfs(device, "dev"),
                vendor=_sysfs(device, "device/vendor") or properties.get("ID_VENDOR", ""),
                model=_sysfs(device, "device/model") or properties.get("ID_MODEL", ""),
                serial=(properties.get("ID_SCSI_SERIAL") or properties.get("ID_SERIAL_SHORT")
                        or _sysfs(device, "serial")),          # a virtio disk's
                transport=transport(properties, name),
                status=status(properties, common["holders"]),
                iscsi_session=int(session[1]) if session else None,
                multipath_candidate=properties.get("DM_MULTIPATH_DEVICE_PATH") == "1",
                **common)


def scan(context: pyudev.Context | None = None) -> list[Disk]:
    """Every disk udev knows, maps and their paths linked (`path_of`)."""
    context = context or pyudev.Context()
    devices = list(context.list_devices(subsystem="block"))
    disks = [disk for device in devices
             if (disk := _gone_is_none(describe, device)) is not None]
    without_udev_data(disks, devices)
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


def without_udev_data(disks: list[Disk], devices: list[pyudev.Device],
                      mountinfo: str = "/proc/self/mountinfo") -> None:
    """Where udev recorded nothing (no udevd), what sysfs and the mount table still
    say: a disk with partitions is "partitioned", a mounted one "filesystem", never
    "free" (the root disk of a host without udevd, say)."""
    if any(device.properties.get("USEC_INITIALIZED") for device in devices):
        return                                   # udev's data is there: it says
    mounted = set()
    try:
        with open(mountinfo, encoding="utf-8",
                  errors="surrogateescape") as table:
            mounted = {line.split()[2] for line in table if len(line.split()) > 2}
    except OSError:
        pass
    parents = {device.sys_path.rsplit("/", 2)[-2] for device in devices
               if device.device_type == "partition"}
    for disk in disks:
        if disk.status == "free" and disk.name in parents:
            disk.status = "partitioned"
        elif disk.status == "free" and disk.dev_t in mounted:
            disk.status = "filesystem"


def vgs_under(mount_point: str = "/", mountinfo: str = "/proc/self/mountinfo",
              sysfs: str = "/sys") -> set[str]:
    """The UUIDs (without dashes) of the volume groups the filesystem mounted at
    `mount_point` sits on, through any stack (a LUKS or RAID device on an LV), from
    the mount table and sysfs alone."""
    dev_t = ""
    # a mount point's name need not be UTF-8 (engine/mountinfo.py)
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as table:
        for line in table:
            fields = line.split()
            if len(fields) > 4 and fields[4] == mount_point:
                dev_t = fields[2]                # the last mount there is the one seen
    found: set[str] = set()
    seen: set[str] = set()
    pending = [os.path.join(sysfs, "dev/block", dev_t)] if dev_t else []
    while pending:
        device = os.path.realpath(pending.pop())
        if device in seen or not os.path.isdir(device):
            continue
        seen.add(device)
        try:
            with open(os.path.join(device, "dm/uuid")) as handle:
                uuid = handle.read().strip()
        except OSError:
            uuid = ""
        if uuid.startswith("LVM-") and len(uuid) >= 68:
            found.add(uuid[4:36])
        try:
            pending += [os.path.join(device, "slaves", s)
                        for s in os.listdir(os.path.join(device, "slaves"))]
        except OSError:
            pass
    return found

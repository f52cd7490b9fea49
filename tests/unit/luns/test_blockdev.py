# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/blockdev.py's rules, on udev properties captured in the lab."""

from pathlib import Path

import pytest

from solidice_storage.engine.host.luns import blockdev
from solidice_storage.engine.host.luns.blockdev import describe, status, transport, wwid

DATA = Path(__file__).parent.parent / "data/lab"


def properties(name: str) -> dict[str, str]:
    text = (DATA / name).read_text().split("# stdout:\n", 1)[1].split("# stderr:", 1)[0]
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_an_iscsi_path_device():
    path = properties("udevadm-info-path.txt")
    assert transport(path, "sdb") == "iscsi"
    assert wwid(path, "naa.60014050b2ad49498d048429d4213f47") == \
        "360014050b2ad49498d048429d4213f47"          # scsi_id's form, as multipathd's
    assert path["ID_FS_TYPE"] == "mpath_member"       # not a filesystem: a map's path
    assert status(path, holders=["dm-1"]) == "other"


def test_a_multipath_map():
    mapped = properties("udevadm-info-map.txt")
    assert mapped["DM_UUID"] == "mpath-360014050b2ad49498d048429d4213f47"
    assert status(mapped, holders=[]) == "free"


def test_transports_by_udev_path():
    cases = {"pci-0000:00:1f.2-ata-1.0": "ata", "pci-0000:3b:00.0-fc-0x50060e80-lun-0": "fc",
             "pci-0000:00:04.0-sas-phy0-lun-0": "sas",
             "ip-127.0.0.1:3260-iscsi-iqn.x:y-lun-0": "iscsi"}
    for id_path, kind in cases.items():
        assert transport({"ID_PATH": id_path}, "sdx") == kind
    assert transport({}, "nvme0n1") == "nvme"
    assert transport({"ID_PATH": "pci-0000:00:05.0"}, "vda") == "virtio"
    assert transport({"ID_BUS": "scsi"}, "sdz") == "scsi"
    assert transport({}, "xyz") == "unknown"


def test_status_from_signatures():
    assert status({"ID_FS_TYPE": "LVM2_member"}, []) == "pv"
    assert status({"ID_PART_TABLE_TYPE": "gpt"}, []) == "partitioned"
    assert status({"ID_FS_TYPE": "xfs"}, []) == "filesystem"
    assert status({}, []) == "free"


def test_keys_for_disks_without_a_scsi_wwid():
    assert wwid({"ID_BUS": "nvme"}, "eui.0025388b91c2d3e4") == "eui.0025388b91c2d3e4"
    assert wwid({"ID_PATH": "pci-0000:00:04.0"}, "") == "pci-0000:00:04.0"
    assert wwid({}, "") == ""



class UnprocessedMap:
    """A multipath map multipathd has just made, before udev has processed its
    event: udev's database knows only its name, sysfs already has its identity."""

    sys_name, device_type = "dm-4", "disk"
    properties = {"DEVNAME": "/dev/dm-4", "MAJOR": "254", "MINOR": "4"}

    def __init__(self, sys_path) -> None:
        self.sys_path = str(sys_path)


def test_a_map_udev_has_not_processed_yet_is_known_from_sysfs(tmp_path):
    # Logging out right after a login met this: the path held by dm-4, dm-4 not
    # yet a map to the scan, so the path looked "in use (held by dm-4)"
    wwid = "36001405f08394662b1b486e80b94c17f"
    (tmp_path / "dm").mkdir()
    (tmp_path / "dm/uuid").write_text(f"mpath-{wwid}\n")
    (tmp_path / "dm/name").write_text(f"{wwid}\n")
    (tmp_path / "slaves/sdi").mkdir(parents=True)
    disk = describe(UnprocessedMap(tmp_path))
    assert disk is not None and disk.multipath and disk.wwid == wwid, disk
    assert disk.slaves == ["sdi"] and disk.node == f"/dev/mapper/{wwid}"
@pytest.mark.parametrize("sys_path,name,expected", [
    ("/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda", "vda", "pci-0000:00:02.0"),
    ("/sys/devices/pci0000:00/0000:00:03.0/virtio2/host0/target0:0:1/0:0:1:3/block/sdb",
     "sdb", "pci-0000:00:03.0-scsi-0:0:1:3"),
    ("/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n2", "nvme0n2",
     "pci-0000:3d:00.0-nvme-2"),
    ("/sys/devices/platform/host3/session1/target3:0:0/3:0:0:1/block/sdc", "sdc", ""),
])
def test_a_disk_without_udev_data_is_keyed_as_udev_would_by_its_path(sys_path, name,
                                                                      expected):
    """A host without udevd has no ID_PATH: the key is read from the sysfs path, in
    the form udev's path_id builtin gives for these buses, so a plain disk is still
    a LUN; an iSCSI disk has the kernel's WWID instead."""
    assert blockdev.sysfs_path_id(sys_path, name) == expected


class _Device:
    """What without_udev_data asks of a pyudev device."""

    def __init__(self, sys_path: str, device_type: str, udev: bool = False) -> None:
        self.sys_path, self.device_type = sys_path, device_type
        self.properties = {"USEC_INITIALIZED": "1"} if udev else {}


def _disks():
    return [blockdev.Disk(name=n, node=f"/dev/{n}", size=1, wwid=n, dev_t=d)
            for n, d in (("vda", "254:0"), ("vdb", "254:16"), ("vdc", "254:32"))]


def test_without_udev_data_a_mounted_or_partitioned_disk_is_not_free(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
                         "28 27 254:17 / /boot rw - ext4 /dev/vdb1 rw\n")
    devices = [_Device("/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda", "disk"),
               _Device("/sys/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb", "disk"),
               _Device("/sys/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb/vdb1",
                       "partition"),
               _Device("/sys/devices/pci0000:00/0000:00:04.0/virtio3/block/vdc", "disk")]
    disks = _disks()
    blockdev.without_udev_data(disks, devices, str(mountinfo))
    assert [d.status for d in disks] == ["filesystem", "partitioned", "free"]
    disks = _disks()                    # with udev's data, udev's word stands
    blockdev.without_udev_data(disks, [*devices, _Device("/sys/x", "disk", udev=True)],
                               str(mountinfo))
    assert [d.status for d in disks] == ["free", "free", "free"]

"""engine/blockdev.py's rules, on udev properties captured in the lab."""

from pathlib import Path

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

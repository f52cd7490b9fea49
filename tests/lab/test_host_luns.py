"""The real engine's LUN discovery and block info, on the lab's multipath over iSCSI.
Checked against multipathd, sysfs and the device nodes themselves."""

import json
import os

import pytest

from labhost import BUS_NAME, DATA_LUNS, LUN_SIZE, multipath_maps, run

HOST = "/org/solidice/Storage/Host"
IFACE = "org.solidice.Storage."


@pytest.fixture(scope="module")
def fresh_daemon(lab):
    """A daemon started now, so its scan sees the lab as it is."""
    return lab.restart_daemon()


def busctl_json(*args):
    return json.loads(run("busctl", "--json=short", "--", *args).stdout)


def objects():
    reply = busctl_json("call", BUS_NAME, "/org/solidice/Storage",
                        "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    return {path: {iface: {k: v["data"] for k, v in props.items()}
                   for iface, props in ifaces.items()}
            for path, ifaces in reply["data"][0].items()}


def block_info(name):
    result = run("busctl", "--json=short", "--", "call", BUS_NAME, HOST, IFACE + "Host",
                 "GetBlockInfo", "sa{sv}", name, "0", check=False)
    if result.returncode != 0:
        return result.stderr.strip()
    return {k: v["data"] for k, v in json.loads(result.stdout)["data"][0].items()}


def test_each_lab_lun_once_as_its_map_with_two_active_paths(fresh_daemon):
    maps = multipath_maps()
    luns = {p["Uuid"]: p for p in (i.get(IFACE + "Lun") for i in objects().values()) if p}
    enumerated = busctl_json("call", BUS_NAME, HOST, IFACE + "Host", "EnumerateLuns",
                             "a{sv}", "0")["data"][0]
    assert sorted(enumerated) == sorted(f"/org/solidice/Storage/Lun/{w}" for w in luns)
    iscsi = {wwid: lun for wwid, lun in luns.items() if lun["Transport"] == "iscsi"}
    assert sorted(iscsi) == sorted(maps) and len(iscsi) == DATA_LUNS
    path_devices = {dev for paths in maps.values() for dev, _ in paths}
    assert not {lun["Device"].rsplit("/", 1)[1] for lun in luns.values()} & path_devices
    for wwid, lun in iscsi.items():
        assert lun["Device"] == f"/dev/mapper/{wwid}" and os.path.exists(lun["Device"])
        assert lun["Multipath"] and lun["Size"] == LUN_SIZE and lun["Status"] == "free"
        assert (lun["Vendor"], lun["Model"]) == ("LIO-ORG", "FILEIO")
        assert sorted(map(tuple, lun["Paths"])) == sorted(maps[wwid])
        assert [state for _, state in lun["Paths"]] == ["active", "active"]
    host = busctl_json("get-property", BUS_NAME, HOST, IFACE + "Host", "Multipath")
    assert host["data"] is True


def test_block_info_for_every_kind_of_name(fresh_daemon):
    wwid, paths = sorted(multipath_maps().items())[0]
    dm = os.path.basename(os.path.realpath(f"/dev/mapper/{wwid}"))
    expected = {"uuid": wwid, "size": LUN_SIZE, "path": f"/dev/mapper/{wwid}",
                "type": "multipath", "used-by": "", "name": dm}
    for name in (wwid, "naa." + wwid[1:], "0x" + wwid[1:], f"/dev/mapper/{wwid}", dm,
                 f"/dev/{dm}", f"/dev/disk/by-id/dm-uuid-mpath-{wwid}",
                 f"/org/solidice/Storage/Lun/{wwid}"):
        assert block_info(name) == expected, name
    path_device = paths[0][0]
    info = block_info(path_device)
    assert info["type"] == "disk" and info["path"] == f"/dev/{path_device}"
    assert info["used-by"] == f"multipath:/dev/mapper/{wwid}" and info["size"] == LUN_SIZE
    assert block_info(f"/dev/{path_device}") == info
    for unknown in ("/etc/passwd", "nosuchdisk", "36001405ffffffffffffffffffffffff0"):
        assert "NotFound" in block_info(unknown) or "no device" in block_info(unknown)

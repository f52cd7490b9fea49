# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real engine's LUN discovery and block info, on the lab's multipath over iSCSI.
Checked against multipathd, sysfs and the device nodes themselves."""

import json
import os

import pytest

from lab.host import BUS_NAME, DATA_LUNS, LUN_SIZE, multipath_maps, run, wait_for

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
                 f"/dev/disk/by-id/dm-name-{wwid}", f"/org/solidice/Storage/Lun/{wwid}"):
        assert block_info(name) == expected, name
    path_device = paths[0][0]
    info = block_info(path_device)
    assert info["type"] == "disk" and info["path"] == f"/dev/{path_device}"
    assert info["used-by"] == f"multipath:/dev/mapper/{wwid}" and info["size"] == LUN_SIZE
    assert block_info(f"/dev/{path_device}") == info
    for unknown in ("/dev/stdin", "nosuchdisk", "36001405ffffffffffffffffffffffff0"):
        assert "no device" in block_info(unknown), unknown
    # resolved from udev's data alone: a path out of /dev is refused, never looked up
    for outside in ("/etc/passwd", "/dev/../etc/passwd", f"/dev/mapper/../{dm}",
                    "/dev//" + dm):
        assert "not a device" in block_info(outside), outside


async def _watch_lun_signals():
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    received = []
    bus.add_message_handler(lambda m: received.append(m) if m.member == "PropertiesChanged"
                            and m.path.startswith("/org/solidice/Storage/Lun/") else None)
    await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                           interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                           body=["type='signal',sender='org.solidice.Storage',"
                                 "member='PropertiesChanged'"]))
    return bus, received


async def _until(predicate, what, timeout=20.0):
    import asyncio
    for _ in range(int(timeout / 0.2)):
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout:g} s")


def _paths_in(messages, lun_path):
    return [dict((tuple(p) for p in m.body[1]["Paths"].value))
            for m in messages if m.path == lun_path and "Paths" in m.body[1]]


async def test_a_path_that_fails_and_comes_back_shows_in_paths_and_signals(
        fresh_daemon, failed_path):
    bus, received = await _watch_lun_signals()
    try:
        device = failed_path()
        wwid = next(w for w, paths in multipath_maps().items() if device in dict(paths))
        lun_path = f"/org/solidice/Storage/Lun/{wwid}"
        await _until(lambda: any(p.get(device) == "failed"
                                 for p in _paths_in(received, lun_path)),
                     f"PropertiesChanged with {device} failed")
        lun = objects()[lun_path][IFACE + "Lun"]
        assert dict(map(tuple, lun["Paths"]))[device] == "failed"
        with open(f"/sys/block/{device}/device/state", "w") as state:
            state.write("running\n")
        await _until(lambda: _paths_in(received, lun_path)[-1].get(device) == "active",
                     f"PropertiesChanged with {device} active again")
        assert [s for _, s in objects()[lun_path][IFACE + "Lun"]["Paths"]] == ["active"] * 2
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


def test_the_daemon_answers_while_a_lun_has_no_path_left(fresh_daemon, failed_path):
    import time
    wwid, paths = sorted(multipath_maps().items())[-1]
    for device, _ in paths:
        failed_path(device)
    started = time.monotonic()
    info = block_info(wwid)
    enumerated = busctl_json("call", BUS_NAME, HOST, IFACE + "Host", "EnumerateLuns",
                             "a{sv}", "0")["data"][0]
    assert time.monotonic() - started < 15
    assert info["uuid"] == wwid and f"/org/solidice/Storage/Lun/{wwid}" in enumerated
    lun_path = f"/org/solidice/Storage/Lun/{wwid}"
    wait_for(lambda: [s for _, s in objects()[lun_path][IFACE + "Lun"]["Paths"]]
             == ["failed", "failed"], "both paths failed in Lun.Paths", 30)
    started = time.monotonic()          # and still answering, with no path at all
    assert block_info(wwid)["size"] == LUN_SIZE
    assert time.monotonic() - started < 15


def _blkid(device, tag):
    return run("blkid", "-p", "-s", tag, "-o", "value", "--", device).stdout.strip()


def test_block_info_for_pv_lv_filesystem_and_partition_uuids(fresh_daemon):
    from lab.host import lvm, lvm_report, settle
    first, second = sorted(multipath_maps())[1:3]
    pv_device, part_disk = f"/dev/mapper/{first}", f"/dev/mapper/{second}"
    try:
        lvm("pvcreate", "-y", "--", pv_device)
        lvm("vgcreate", "labinfo", "--", pv_device)
        lvm("lvcreate", "-y", "-L", "8m", "-n", "lv1", "labinfo")
        run("mkfs.ext4", "-q", "/dev/labinfo/lv1")
        # an MBR with one partition from sector 2048 to the end, signature 501d1ce5
        sectors = LUN_SIZE // 512
        mbr = bytearray(512)
        mbr[440:444] = bytes.fromhex("e51c1d50")
        mbr[446:462] = (b"\x00\x00\x00\x00\x83\x00\x00\x00" + (2048).to_bytes(4, "little")
                        + (sectors - 2048).to_bytes(4, "little"))
        mbr[510:512] = b"\x55\xaa"
        with open(part_disk, "r+b") as disk:
            disk.write(mbr)
        settle()
        if not os.path.exists(f"{part_disk}-part1"):
            run("kpartx", "-a", "-p", "-part", part_disk)
            settle()
        pv = lvm_report("pvs", "-o", "pv_uuid", "--", pv_device)[0]["pv_uuid"]
        lv = lvm_report("lvs", "-o", "lv_uuid", "labinfo/lv1")[0]["lv_uuid"]
        fs = _blkid("/dev/labinfo/lv1", "UUID")
        # udev learns of signatures written behind its back by a change event, as
        # after any mkfs; ask for one rather than wait on its inotify watch
        run("udevadm", "trigger", "--settle", "--action=change", "--",
            pv_device, part_disk, "/dev/labinfo/lv1")
        wait_for(lambda: all(isinstance(block_info(ref), dict) for ref in (pv, fs)),
                 "udev to record the PV and the filesystem", 30)

        info = block_info(pv)
        assert (info["uuid"], info["path"], info["type"], info["used-by"]) == (
            pv, pv_device, "multipath", "pv"), info
        assert block_info(first)["used-by"] == "pv"
        lv_info = {"uuid": lv, "size": 8 * 1024**2, "path": "/dev/mapper/labinfo-lv1",
                   "type": "lvm", "used-by": "filesystem", "name": "labinfo/lv1"}
        for name in (lv, "labinfo/lv1", "/dev/labinfo/lv1", "/dev/mapper/labinfo-lv1"):
            assert block_info(name) == lv_info, name
        assert block_info(fs) == {**lv_info, "uuid": fs}

        assert block_info(second)["used-by"] == "partition-table"
        partition = block_info(f"{part_disk}-part1")
        assert partition["type"] == "partition" and partition["uuid"] == "501d1ce5-01"
        assert partition["size"] == (sectors - 2048) * 512
        assert block_info("501d1ce5-01") == partition
    finally:
        lvm("vgremove", "-y", "-f", "labinfo", check=False)
        lvm("pvremove", "-y", "--", pv_device, check=False)
        run("kpartx", "-d", "-p", "-part", part_disk, check=False)
        for device in (pv_device, part_disk):
            run("wipefs", "-a", "--", device, check=False)
        # a map is not watched for writes: without a change event udev would keep
        # the partition table in its database, and the next test see the LUN as used
        run("udevadm", "trigger", "--settle", "--action=change", "--", pv_device, part_disk,
            check=False)
        from lab.host import settle as settle_again
        settle_again()

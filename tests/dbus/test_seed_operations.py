# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every seed operation through a dbus-fast client, checked in GetManagedObjects."""

import asyncio

import pytest
from dbus_fast import DBusError, Variant

from storage import ERROR, IFACE, ROOT, opts

GiB = 1024**3
LUN3 = "36001405d0e1f2a3b4c5d6e7f80910003"
LUN4 = "36001405d0e1f2a3b4c5d6e7f80910004"
PORTAL = "192.0.2.10:3260"
DATA = "iqn.2003-01.org.linux-iscsi.sim.example:data"
BACKUP = "iqn.2003-01.org.linux-iscsi.sim.example:backup"


def of_kind(objects, kind):
    return {path: ifaces[IFACE + kind] for path, ifaces in objects.items()
            if IFACE + kind in ifaces}


async def test_enumerate_luns_returns_maps_not_paths(storage):
    luns = await storage.host("EnumerateLuns", "a{sv}", {})
    objects = await storage.objects()
    assert sorted(luns) == sorted(of_kind(objects, "Lun"))
    devices = {p["Device"] for p in of_kind(objects, "Lun").values()}
    assert f"/dev/mapper/{LUN3}" in devices
    assert not any(d.startswith("/dev/sd") and d[-1] in "abcdefgh" for d in devices)
    lun4 = of_kind(objects, "Lun")[f"{ROOT}/Lun/{LUN4}"]
    assert lun4["Multipath"] and lun4["Paths"] == [["sdg", "active"], ["sdh", "failed"]]
    assert lun4["Transport"] == "iscsi" and lun4["Status"] == "free"


async def test_enumerate_iscsi_luns_logs_in_with_chap(storage):
    data = await storage.host("EnumerateIscsiLuns", "ssa{sv}", PORTAL, DATA, {})
    assert len(data) == 4
    with pytest.raises(DBusError) as error:
        await storage.host("EnumerateIscsiLuns", "ssa{sv}", PORTAL, BACKUP,
                           opts(username="backup", password="wrong-secret"))
    assert error.value.type == ERROR + "Failed"
    assert "wrong-secret" not in error.value.text
    with pytest.raises(DBusError) as error:
        await storage.host("EnumerateIscsiLuns", "ssa{sv}", PORTAL, BACKUP,
                           opts(login=False))
    assert error.value.type == ERROR + "NotFound"
    backup = await storage.host("EnumerateIscsiLuns", "ssa{sv}", PORTAL, BACKUP,
                                opts(username="backup", password="backup-secret",
                                     node_startup="automatic"))
    objects = await storage.objects()
    assert len(backup) == 2 and set(backup) <= set(objects)
    sessions = of_kind(objects, "IscsiSession")
    assert {(s["Target"], s["Portal"]) for s in sessions.values()} >= {(BACKUP, PORTAL)}
    host = await storage.props("/org/solidice/Storage/Host", "Host")
    assert sorted(host["IscsiSessions"]) == sorted(sessions)


async def test_discover_login_logout(storage):
    found = await storage.host("DiscoverIscsiTargets", "sa{sv}", "192.0.2.10", {})
    assert [BACKUP, "192.0.2.11:3260"] in found
    session = await storage.host("LoginIscsi", "ssa{sv}", PORTAL, BACKUP,
                                 opts(username="backup", password="backup-secret"))
    assert (await storage.props(session, "IscsiSession"))["Target"] == BACKUP
    await storage.host("LogoutIscsi", "ssa{sv}", PORTAL, BACKUP, {})
    assert session not in await storage.objects()


async def test_get_block_info(storage):
    for ref in ("vmstore/templates", "/dev/vmstore/templates"):
        info = await storage.host("GetBlockInfo", "sa{sv}", ref, {})
        assert info["type"] == "lvm" and info["size"] == 8 * GiB
        assert info["path"] == "/dev/vmstore/templates" and info["uuid"]
    for ref in (LUN3, "naa." + LUN3[1:], "0x" + LUN3[1:], f"/dev/mapper/{LUN3}"):
        info = await storage.host("GetBlockInfo", "sa{sv}", ref, {})
        assert info == {"uuid": LUN3, "size": 50 * GiB, "path": f"/dev/mapper/{LUN3}",
                        "type": "multipath", "used-by": "", "name": LUN3}
    with pytest.raises(DBusError) as error:
        await storage.host("GetBlockInfo", "sa{sv}", "/etc/passwd", {})
    assert error.value.type == ERROR + "InvalidArgument"      # never a filesystem path


async def test_create_and_remove_volume_group(storage):
    vg = await storage.pool("CreateVolumeGroup", "sasa{sv}", "vg_new",
                            [LUN3, f"{ROOT}/Lun/{LUN4}"], opts(extent_size=8 * 1024**2))
    objects = await storage.objects()
    props = objects[vg][IFACE + "VolumeGroup"]
    assert props["Name"] == "vg_new" and props["Managed"] and props["ExtentSize"] == 8 << 20
    assert vg in await storage.host("EnumerateVolumeGroups", "a{sv}", {})
    pvs = props["PhysicalVolumes"]
    assert len(pvs) == 2 and all(p in objects for p in pvs)
    assert props["Size"] == sum(objects[p][IFACE + "PhysicalVolume"]["Size"] for p in pvs)
    assert objects[f"{ROOT}/Lun/{LUN3}"][IFACE + "Lun"]["Status"] == "pv"
    assert objects[f"{ROOT}/Lun/{LUN3}"][IFACE + "Lun"]["PhysicalVolume"] in pvs

    await storage.pool("RemoveVolumeGroup", "sa{sv}", "vg_new", {})
    objects = await storage.objects()
    assert vg not in objects and not set(pvs) & set(objects)
    assert objects[f"{ROOT}/Lun/{LUN3}"][IFACE + "Lun"]["Status"] == "free"
    assert objects[f"{ROOT}/Lun/{LUN3}"][IFACE + "Lun"]["PhysicalVolume"] == "/"


async def test_list_and_info_pv_lv(storage):
    vg = await storage.vg("vmstore")
    pvs = await storage.call(vg, "VolumeGroup", "ListPhysicalVolumes", "a{sv}", {})
    for pv in pvs:
        info = await storage.props(pv, "PhysicalVolume")
        assert info["Size"] > 0 and info["Device"].startswith("/dev/mapper/")
        assert info["VolumeGroup"] == vg and info["Lun"].startswith(ROOT + "/Lun/")
    lvs = await storage.call(vg, "VolumeGroup", "ListLogicalVolumes", "a{sv}", {})
    names = {(await storage.props(lv, "LogicalVolume"))["Name"] for lv in lvs}
    assert names == {"vm-101-disk-0", "vm-102-disk-0", "templates", "vm-102-snap"}
    snap = await storage.props(await storage.lv("vm-102-snap"), "LogicalVolume")
    assert snap["Origin"] == await storage.lv("vm-102-disk-0")
    assert snap["Path"] == "/dev/vmstore/vm-102-snap" and snap["Size"] == 2 * GiB


async def test_extend_volume_group_and_remove_empty_pv(storage):
    vg = await storage.vg("vmstore")
    before = await storage.props(vg, "VolumeGroup")
    await storage.call(vg, "VolumeGroup", "Extend", "asa{sv}", [LUN3], {})
    after = await storage.props(vg, "VolumeGroup")
    assert len(after["PhysicalVolumes"]) == 3
    assert after["Size"] > before["Size"] and after["FreeSize"] > before["FreeSize"]
    new_pv = (set(after["PhysicalVolumes"]) - set(before["PhysicalVolumes"])).pop()
    job = await storage.call(vg, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}", LUN3, {})
    assert job == "/"
    assert new_pv not in await storage.objects()
    assert await storage.props(vg, "VolumeGroup") == before


async def test_remove_pv_with_data_moves_it_as_a_job(storage, bus):
    vg = await storage.vg("vmstore")
    pv = (await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"][0]
    with pytest.raises(DBusError) as error:
        await storage.call(vg, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}", pv, {})
    assert error.value.type == ERROR + "Busy" and "move-data" in error.value.text
    completed = asyncio.get_running_loop().create_future()

    def on_signal(message):
        if message.member == "Completed" and not completed.done():
            completed.set_result((message.path, message.body))
    bus.add_message_handler(on_signal)
    await storage.bus.call(_match("type='signal',interface='org.solidice.Storage.Job'"))
    job = await storage.call(vg, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}", pv,
                             opts(move_data=True))
    props = await storage.props(job, "Job")
    assert props["Operation"] == "pv-move" and props["Cancelable"]
    assert props["StartedByUid"] == 0 and pv in props["Objects"]
    path, (success, message) = await asyncio.wait_for(completed, 15)
    assert path == job and success, message
    objects = await storage.objects()
    assert pv not in objects and job not in objects
    assert len(objects[vg][IFACE + "VolumeGroup"]["PhysicalVolumes"]) == 1


def _match(rule):
    from dbus_fast import Message
    return Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                   interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                   body=[rule])


async def test_logical_volume_lifecycle(storage):
    vg = await storage.vg("vmstore")
    free = (await storage.props(vg, "VolumeGroup"))["FreeSize"]
    lv = await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                            "disk1", 10**9, {})
    props = (await storage.objects())[lv][IFACE + "LogicalVolume"]
    assert props["Size"] == 239 * 4 * 1024**2      # 10**9 rounded up to 4 MiB extents
    assert props["Active"] and props["Path"] == "/dev/vmstore/disk1" and props["VolumeGroup"] == vg
    assert (await storage.props(vg, "VolumeGroup"))["FreeSize"] == free - props["Size"]

    await storage.call(lv, "LogicalVolume", "Extend", "ta{sv}", GiB,
                       opts(expected_size=props["Size"]))
    size = (await storage.props(lv, "LogicalVolume"))["Size"]
    assert size == props["Size"] + GiB
    with pytest.raises(DBusError) as error:     # a retry of the same call
        await storage.call(lv, "LogicalVolume", "Extend", "ta{sv}", GiB,
                           opts(expected_size=props["Size"]))
    assert error.value.type == ERROR + "InvalidArgument"
    assert (await storage.props(lv, "LogicalVolume"))["Size"] == size

    snap = await storage.call(lv, "LogicalVolume", "Snapshot", "sta{sv}", "disk1-snap",
                              GiB, {})
    snap_props = await storage.props(snap, "LogicalVolume")
    assert snap_props["Origin"] == lv and snap_props["Attributes"][0] == "s"
    assert (await storage.props(lv, "LogicalVolume"))["Attributes"][0] == "o"

    await storage.call(lv, "LogicalVolume", "Deactivate", "a{sv}", {})
    assert not (await storage.props(lv, "LogicalVolume"))["Active"]
    await storage.call(lv, "LogicalVolume", "Activate", "a{sv}", {})
    assert (await storage.props(lv, "LogicalVolume"))["Active"]

    with pytest.raises(DBusError) as error:
        await storage.call(lv, "LogicalVolume", "Remove", "a{sv}", opts(force=True))
    assert error.value.type == ERROR + "Busy"
    await storage.call(snap, "LogicalVolume", "Remove", "a{sv}", opts(force=True))
    await storage.call(lv, "LogicalVolume", "Remove", "a{sv}", opts(force=True))
    objects = await storage.objects()
    assert lv not in objects and snap not in objects
    assert objects[vg][IFACE + "VolumeGroup"]["FreeSize"] == free


async def test_create_inactive_lv_by_name(storage):
    vg = await storage.vg("vmstore")
    lv = await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                            "cold", GiB, opts(activate=False))
    props = await storage.props(lv, "LogicalVolume")
    assert not props["Active"] and props["Attributes"] == "-wi-------"
    info = await storage.host("GetBlockInfo", "sa{sv}", "vmstore/cold", {})
    assert info["uuid"] == props["Uuid"]


async def test_mount_and_unmount_nfs(storage):
    mount = await storage.pool("MountNfs", "sssa{sv}", "nfs.example.com", "/export/vms",
                               "/srv/nfs/vms", opts(create_mountpoint=True, vers="4.1",
                                                    persistent=True,
                                                    timeo=Variant("u", 50)))
    props = (await storage.objects())[mount][IFACE + "Mount"]
    assert props["Server"] == "nfs.example.com" and props["RemotePath"] == "/export/vms"
    assert props["LocalPath"] == "/srv/nfs/vms" and props["Persistent"]
    assert props["Options"].startswith("nosuid,nodev,") and "timeo=50" in props["Options"]
    assert "vers=4.1" in props["Options"]
    host = await storage.props("/org/solidice/Storage/Host", "Host")
    assert mount in host["Mounts"]
    with pytest.raises(DBusError) as error:
        await storage.pool("MountNfs", "sssa{sv}", "nfs.example.com", "/export/vms",
                           "/srv/nfs/vms", {})
    assert error.value.type == ERROR + "AlreadyExists"
    await storage.pool("Unmount", "sba{sv}", "/srv/nfs/vms", False, {})
    assert mount not in await storage.objects()


async def test_unmount_busy_needs_force(storage):
    mount = await storage.find("Mount", LocalPath="/mnt/iso")
    with pytest.raises(DBusError) as error:
        await storage.call(mount, "Mount", "Unmount", "ba{sv}", False, {})
    assert error.value.type == ERROR + "Busy"
    await storage.call(mount, "Mount", "Unmount", "ba{sv}", True, {})
    assert mount not in await storage.objects()


async def test_unreachable_nfs_server_times_out_without_blocking_others(storage):
    call = asyncio.ensure_future(storage.pool(
        "MountNfs", "sssa{sv}", "unreachable.invalid", "/x", "/srv/nfs/dead",
        opts(create_mountpoint=True, timeout=Variant("u", 2))))
    await asyncio.sleep(0.3)
    for _ in range(5):     # the daemon keeps answering meanwhile
        await asyncio.wait_for(storage.host("EnumerateLuns", "a{sv}", {}), 1)
    with pytest.raises(DBusError) as error:
        await call
    assert error.value.type == ERROR + "Timeout"
    assert not [p for p in await storage.objects() if "Mount" in p and "dead" in p]
    with pytest.raises(DBusError) as error:   # the created mount point is gone too
        await storage.pool("MountNfs", "sssa{sv}", "nfs.example.com", "/x",
                           "/srv/nfs/dead", {})
    assert error.value.type == ERROR + "NotFound"


async def test_managed_objects_match_every_object_after_changes(storage):
    """GetManagedObjects (served from entries marshalled once) shows what GetAll of
    each object shows, after adds, changes and removals."""
    vg = await storage.vg("vmstore")
    lv = await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                            "gmo1", GiB, {})
    await storage.objects()                      # entries made; now change them
    await storage.call(lv, "LogicalVolume", "Extend", "ta{sv}", GiB, {})
    gone = await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                              "gmo2", GiB, {})
    await storage.call(gone, "LogicalVolume", "Remove", "a{sv}", opts(force=True))
    objects = await storage.objects()
    assert lv in objects and gone not in objects
    assert objects[lv][IFACE + "LogicalVolume"]["Size"] == 2 * GiB
    for path, interfaces in objects.items():
        for interface, props in interfaces.items():
            assert props == await storage.call(
                path, "org.freedesktop.DBus.Properties", "GetAll", "s", interface), path
    assert objects == await storage.objects()

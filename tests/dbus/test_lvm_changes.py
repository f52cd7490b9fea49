# SPDX-License-Identifier: LGPL-2.1-or-later
"""LogicalVolume.Resize and Rename, VolumeGroup.Rename, and AddTags/RemoveTags with
the Tags property on VolumeGroup, LogicalVolume and PhysicalVolume, over the bus
against the simulated engine: results, refusals, polkit's action and details, and
one PropertiesChanged per object a rename changes."""

import pytest
from dbus_fast import DBusError

from storage import ERROR, IFACE, opts
from test_auth import as_nobody  # noqa: F401  (a fixture)
from test_daemon import listen

GiB = 1024**3
MANAGED_TAG = "org.solidice.storage"
REMOVE = "org.solidice.storage.remove"
MANAGE_LVM = "org.solidice.storage.manage-lvm"
DEST = "org.solidice.Storage"
LUN3 = "36001405d0e1f2a3b4c5d6e7f80910003"          # engine/sim/seed.py: a free LUN


async def refused(call, error: str) -> str:
    with pytest.raises(DBusError) as raised:
        await call
    assert raised.value.type == ERROR + error, raised.value.text
    return raised.value.text


async def lv_props(storage, name: str) -> dict:
    return await storage.props(await storage.lv(name), "LogicalVolume")


async def test_resize_grows_shrinks_and_refuses(storage):
    lv = await storage.lv("templates")                  # 8 GiB, plain, inactive
    vg = await storage.vg("vmstore")
    free = (await storage.props(vg, "VolumeGroup"))["FreeSize"]

    def resize(path, size, **given):
        return storage.call(path, "LogicalVolume", "Resize", "ta{sv}", size, opts(**given))
    assert await resize(lv, 10 * GiB - 1) == []         # rounded up to whole extents
    assert (await lv_props(storage, "templates"))["Size"] == 10 * GiB
    assert (await storage.props(vg, "VolumeGroup"))["FreeSize"] == free - 2 * GiB
    text = await refused(resize(lv, 4 * GiB), "InvalidArgument")
    assert "shrink=true" in text
    await refused(resize(lv, 4 * GiB, shrink=True, expected_size=8 * GiB), "InvalidArgument")
    assert await resize(lv, 4 * GiB, shrink=True, expected_size=10 * GiB) == []
    assert (await lv_props(storage, "templates"))["Size"] == 4 * GiB
    assert (await storage.props(vg, "VolumeGroup"))["FreeSize"] == free + 4 * GiB
    assert await resize(lv, 4 * GiB) == []              # the same size: a no-op

    opened = await storage.lv("vm-101-disk-0")
    assert "open" in await refused(resize(opened, GiB, shrink=True), "Busy")
    assert await resize(opened, 40 * GiB) == []         # growing an open LV is fine
    origin = await storage.lv("vm-102-disk-0")
    assert "inactive" in await refused(resize(origin, 20 * GiB), "Busy")
    snapshot = await storage.lv("vm-102-snap")
    assert await resize(snapshot, 3 * GiB) == []
    await refused(resize(lv, 0), "InvalidArgument")
    await refused(resize(lv, 2 * GiB, force=True), "InvalidArgument")   # no such option
    await refused(resize(lv, 100 * 1024 * GiB), "NoSpace")


async def test_renames_keep_the_paths_and_signal_once_per_object(storage, bus):
    received = await listen(bus, "type='signal',sender='org.solidice.Storage',"
                                 "member='PropertiesChanged'")
    lv = await storage.lv("templates")
    assert await storage.call(lv, "LogicalVolume", "Rename", "sa{sv}", "tmpl", {}) == []
    props = await storage.props(lv, "LogicalVolume")
    assert (props["Name"], props["Path"]) == ("tmpl", "/dev/vmstore/tmpl")
    assert [set(m.body[1]) for m in received if m.path == lv] == [{"Name", "Path"}]
    await refused(storage.call(lv, "LogicalVolume", "Rename", "sa{sv}", "vm-102-disk-0", {}),
                  "AlreadyExists")
    for bad in ("a b", "-x", "snapshot0", "x" * 128, ""):
        await refused(storage.call(lv, "LogicalVolume", "Rename", "sa{sv}", bad, {}),
                      "InvalidArgument")
    assert await storage.call(lv, "LogicalVolume", "Rename", "sa{sv}", "tmpl", {}) == []

    vg = await storage.vg("vmstore")
    lvs = await storage.call(vg, "VolumeGroup", "ListLogicalVolumes", "a{sv}", {})
    received.clear()
    assert await storage.call(vg, "VolumeGroup", "Rename", "sa{sv}", "vmdata", {}) == []
    assert (await storage.props(vg, "VolumeGroup"))["Name"] == "vmdata"
    for path in lvs:
        props = await storage.props(path, "LogicalVolume")
        assert props["Path"] == f"/dev/vmdata/{props['Name']}"
    assert sorted(m.path for m in received) == sorted([vg, *lvs])     # once each
    assert [set(m.body[1]) for m in received if m.path == vg] == [{"Name"}]
    await storage.pool("CreateVolumeGroup", "sasa{sv}", "other", [LUN3], {})
    await refused(storage.call(vg, "VolumeGroup", "Rename", "sa{sv}", "other", {}),
                  "AlreadyExists")
    await refused(storage.call(vg, "VolumeGroup", "Rename", "sa{sv}", "vm/x", {}),
                  "InvalidArgument")


async def test_tags_on_volume_groups_logical_and_physical_volumes(storage):
    vg = await storage.vg("vmstore")
    lv = await storage.lv("templates")
    pv = (await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"][0]

    def tags(path, kind, member, *values):
        return storage.call(path, kind, member, "asa{sv}", list(values), {})
    assert await tags(vg, "VolumeGroup", "AddTags", "site=paris", "a/b") == []
    assert await tags(lv, "LogicalVolume", "AddTags", "backup:daily") == []
    assert await tags(pv, "PhysicalVolume", "AddTags", "fast#1", "ssd") == []
    assert (await storage.props(vg, "VolumeGroup"))["Tags"] == ["a/b", "site=paris"]
    assert (await storage.props(lv, "LogicalVolume"))["Tags"] == ["backup:daily"]
    assert await tags(pv, "PhysicalVolume", "RemoveTags", "ssd", "absent") == []
    assert (await storage.props(pv, "PhysicalVolume"))["Tags"] == ["fast#1"]

    # the service's own tag: never added (vmstore is not the service's), never removed
    for kind, path in (("VolumeGroup", vg), ("LogicalVolume", lv), ("PhysicalVolume", pv)):
        for member in ("AddTags", "RemoveTags"):
            assert "service's own" in await refused(tags(path, kind, member, MANAGED_TAG),
                                                    "InvalidArgument")
    assert not (await storage.props(vg, "VolumeGroup"))["Managed"]
    managed = await storage.pool("CreateVolumeGroup", "sasa{sv}", "ours", [LUN3], {})
    await refused(tags(managed, "VolumeGroup", "RemoveTags", MANAGED_TAG), "InvalidArgument")
    assert (await storage.props(managed, "VolumeGroup"))["Tags"] == [MANAGED_TAG]
    for bad in ([], ["-x"], ["a b"], ["a,b"], ["@x"], ["x" * 1025], ["a", "a"]):
        await refused(storage.call(lv, "LogicalVolume", "AddTags", "asa{sv}", bad, {}),
                      "InvalidArgument")


async def test_polkit_is_told_what_is_changed(storage, polkit, as_nobody):  # noqa: F811
    vg = await storage.vg("vmstore")
    lv = await storage.lv("templates")
    pv = (await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"][0]
    pv_props = await storage.props(pv, "PhysicalVolume")
    lv_details = {"lv": "templates", "lv.path": "/dev/vmstore/templates", "vg": "vmstore"}
    calls = [
        (lv, "LogicalVolume", "Resize", ["ta{sv}", str(9 * GiB), "0"], MANAGE_LVM,
         {**lv_details, "size": str(9 * GiB)}),
        (lv, "LogicalVolume", "Resize", ["ta{sv}", str(GiB), "1", "shrink", "b", "true"],
         REMOVE, {**lv_details, "size": str(GiB)}),
        (lv, "LogicalVolume", "Rename", ["sa{sv}", "tmpl", "0"], MANAGE_LVM,
         {**lv_details, "new-name": "tmpl"}),
        (vg, "VolumeGroup", "Rename", ["sa{sv}", "vmdata", "0"], MANAGE_LVM,
         {"vg": "vmstore", "new-name": "vmdata"}),
        (lv, "LogicalVolume", "AddTags", ["asa{sv}", "2", "a", "b=c", "0"], MANAGE_LVM,
         {**lv_details, "tags": "a,b=c"}),
        (vg, "VolumeGroup", "RemoveTags", ["asa{sv}", "1", "a", "0"], MANAGE_LVM,
         {"vg": "vmstore", "tags": "a"}),
        (pv, "PhysicalVolume", "AddTags", ["asa{sv}", "1", "a", "0"], MANAGE_LVM,
         {"pv": pv_props["Uuid"], "device": pv_props["Device"], "vg": "vmstore",
          "lun.wwid": pv_props["Lun"].rsplit("/", 1)[1], "tags": "a"}),
    ]
    before = await storage.objects()
    for path, interface, member, args, _, _ in calls:
        status, _, err = as_nobody("call", DEST, path, IFACE + interface, member, *args)
        assert status != 0 and "not allowed" in err, (member, err)
    assert await storage.objects() == before             # nothing changed
    checks = await polkit.checks()
    assert len(checks) == len(calls)
    for (_, _, member, _, action, details), (_, asked, told, _, _) in zip(calls, checks):
        assert asked == action, member
        assert {key: told.get(key) for key in details} == details, member
        assert told["vg.uuid"] and ("lv" not in details or told["lv.uuid"])
    refusal = as_nobody("call", DEST, lv, IFACE + "LogicalVolume", "Resize", "ta{sv}",
                        str(GiB), "0")
    assert refusal[0] != 0 and "shrink" in refusal[2]    # refused before polkit is asked
    assert len(await polkit.checks()) == len(calls)

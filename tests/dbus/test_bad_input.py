# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every bad input the contract names gets its named error and changes nothing."""

import pytest
from dbus_fast import DBusError, Variant

from storage import ERROR, HOST, ROOT, opts

LUN3 = "36001405d0e1f2a3b4c5d6e7f80910003"
GiB = 1024**3
VG = "VG"        # stands for the vmstore VG's path, filled in by the test
LV = "LV"        # stands for vmstore/templates
PORTAL, BACKUP = "192.0.2.10", "iqn.2003-01.org.linux-iscsi.sim.example:backup"

CASES = [
    # (id, object, interface, method, signature, args, error)
    ("vg name with slash", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["a/b", [LUN3], {}], "InvalidArgument"),
    ("vg name leading dash", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["-vg", [LUN3], {}], "InvalidArgument"),
    ("vg name with newline", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg\nx", [LUN3], {}], "InvalidArgument"),
    ("vg name too long", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["v" * 128, [LUN3], {}], "InvalidArgument"),
    ("vg name taken", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vmstore", [LUN3], {}], "AlreadyExists"),
    ("no devices", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", [], {}], "InvalidArgument"),
    ("unknown device", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", ["36001405ffffffffffffffffffffffff0"], {}], "NotFound"),
    ("device like an option", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", ["--config=devices{}"], {}], "InvalidArgument"),
    ("multipath path device", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", ["/dev/sde"], {}], "InvalidArgument"),
    ("device in use", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", ["35000c500a1b2c3d4"], {}], "Busy"),
    ("system disk even with wipe", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", ["/dev/vda"], opts(wipe=True)], "Busy"),
    ("extent size not a power of 2", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", [LUN3], opts(extent_size=3 * 1024**2)], "InvalidArgument"),
    ("unknown option key", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", [LUN3], opts(wipe_all=True)], "InvalidArgument"),
    ("option of wrong type", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
     ["vg1", [LUN3], {"wipe": Variant("s", "yes")}], "InvalidArgument"),
    ("auth option of wrong type", HOST, "Host", "EnumerateLuns", "a{sv}",
     [{"auth.no_user_interaction": Variant("s", "true")}], "InvalidArgument"),
    ("option of another method", HOST, "Host", "EnumerateLuns", "a{sv}",
     [opts(force=True)], "InvalidArgument"),
    ("remove unknown vg", HOST, "StoragePool", "RemoveVolumeGroup", "sa{sv}",
     ["nosuchvg", {}], "NotFound"),
    ("remove unmanaged vg without force", HOST, "StoragePool", "RemoveVolumeGroup",
     "sa{sv}", ["vmstore", {}], "InvalidArgument"),
    ("remove vg with open lv", HOST, "StoragePool", "RemoveVolumeGroup", "sa{sv}",
     ["vmstore", opts(force=True)], "Busy"),
    ("object path of wrong kind", HOST, "StoragePool", "RemoveVolumeGroup", "sa{sv}",
     [f"{ROOT}/Lun/{LUN3}", {}], "InvalidArgument"),
    ("object path that does not exist", HOST, "StoragePool", "RemoveVolumeGroup",
     "sa{sv}", [f"{ROOT}/VolumeGroup/nothing", {}], "NotFound"),
    ("lv size zero", VG, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
     ["lv1", 0, {}], "InvalidArgument"),
    ("lv size absurd", VG, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
     ["lv1", 2**64 - 1, {}], "InvalidArgument"),
    ("lv bigger than the vg", VG, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
     ["lv1", 2**50, {}], "NoSpace"),
    ("lv name reserved", VG, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
     ["snapshot0", GiB, {}], "InvalidArgument"),
    ("lv name reserved suffix", VG, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
     ["a_tmeta", GiB, {}], "InvalidArgument"),
    ("lv name taken", VG, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
     ["templates", GiB, {}], "AlreadyExists"),
    ("lv name unicode", VG, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
     ["disque-é", GiB, {}], "InvalidArgument"),
    ("extend by zero", LV, "LogicalVolume", "Extend", "ta{sv}", [0, {}],
     "InvalidArgument"),
    ("extend beyond the vg", LV, "LogicalVolume", "Extend", "ta{sv}", [2**50, {}],
     "NoSpace"),
    ("extend with wrong expected size", LV, "LogicalVolume", "Extend", "ta{sv}",
     [GiB, opts(expected_size=GiB)], "InvalidArgument"),
    ("remove lv of unmanaged vg", LV, "LogicalVolume", "Remove", "a{sv}", [{}],
     "InvalidArgument"),
    ("snapshot with zero size", LV, "LogicalVolume", "Snapshot", "sta{sv}",
     ["s1", 0, {}], "InvalidArgument"),
    ("remove pv not in the vg", VG, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}",
     [LUN3, {}], "NotFound"),
    ("mount relative path", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "mnt/x", {}], "InvalidArgument"),
    ("mount traversing path", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/mnt/../etc", {}], "InvalidArgument"),
    ("mount on a system directory", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/etc", {}], "InvalidArgument"),
    ("mount under /usr", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/usr/share/x", {}], "InvalidArgument"),
    ("mount missing dir", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/mnt/nothere", {}], "NotFound"),
    ("mount on a non-empty dir", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/mnt/archive", {}], "Busy"),
    ("mount bad server", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs example", "/x", "/srv/nfs", {}], "InvalidArgument"),
    ("mount server smuggling options", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["host,suid", "/x", "/srv/nfs", {}], "InvalidArgument"),
    ("mount bare ipv6", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["fd00::1", "/x", "/srv/nfs", {}], "InvalidArgument"),
    ("mount relative remote path", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "x", "/srv/nfs", {}], "InvalidArgument"),
    ("mount option smuggling suid", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/srv/nfs", opts(vers="4,suid")], "InvalidArgument"),
    ("mount raw option string", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/srv/nfs", opts(options="suid,dev")], "InvalidArgument"),
    ("mount timeo of wrong type", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/srv/nfs", opts(timeo="100")], "InvalidArgument"),
    ("mount timeo beyond u", HOST, "StoragePool", "MountNfs", "sssa{sv}",
     ["nfs.example.com", "/x", "/srv/nfs", opts(timeo=2**32)], "InvalidArgument"),
    ("unmount nothing there", HOST, "StoragePool", "Unmount", "sba{sv}",
     ["/srv/nfs", False, {}], "NotFound"),
    ("unmount relative", HOST, "StoragePool", "Unmount", "sba{sv}",
     ["srv/nfs", False, {}], "InvalidArgument"),
    ("iscsi bad target name", HOST, "Host", "LoginIscsi", "ssa{sv}",
     [PORTAL, "target1", {}], "InvalidArgument"),
    ("iscsi bad portal port", HOST, "Host", "LoginIscsi", "ssa{sv}",
     ["192.0.2.10:99999", BACKUP, {}], "InvalidArgument"),
    ("iscsi unknown portal", HOST, "Host", "DiscoverIscsiTargets", "sa{sv}",
     ["192.0.2.99", {}], "Failed"),
    ("iscsi logout without session", HOST, "Host", "LogoutIscsi", "ssa{sv}",
     [PORTAL, BACKUP, {}], "NotFound"),
    ("iscsi node-startup bogus", HOST, "Host", "LoginIscsi", "ssa{sv}",
     [PORTAL, BACKUP, opts(node_startup="sometimes")], "InvalidArgument"),
    ("block info of a file", HOST, "Host", "GetBlockInfo", "sa{sv}",
     ["/etc/shadow", {}], "InvalidArgument"),
    ("block info of a path out of /dev", HOST, "Host", "GetBlockInfo", "sa{sv}",
     ["/dev/../etc/shadow", {}], "InvalidArgument"),
    ("block info of a device udev does not know", HOST, "Host", "GetBlockInfo", "sa{sv}",
     ["/dev/stdin", {}], "NotFound"),
    ("block info empty", HOST, "Host", "GetBlockInfo", "sa{sv}", ["", {}],
     "InvalidArgument"),
    ("block info control character", HOST, "Host", "GetBlockInfo", "sa{sv}",
     ["vmstore\x1bx", {}], "InvalidArgument"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_bad_input(storage, case):
    _, path, interface, method, signature, args, error = case
    path = {VG: await storage.vg("vmstore") if path == VG else None,
            LV: await storage.lv("templates") if path == LV else None}.get(path, path)
    before = await storage.objects()
    with pytest.raises(DBusError) as raised:
        await storage.call(path, interface, method, signature, *args)
    assert raised.value.type == ERROR + error, raised.value.text
    assert "Traceback" not in raised.value.text and raised.value.text
    assert await storage.objects() == before


async def test_logout_of_last_paths_of_a_pv_is_busy(storage):
    data = "iqn.2003-01.org.linux-iscsi.sim.example:data"
    await storage.host("LogoutIscsi", "ssa{sv}", "192.0.2.11", data, {})
    before = await storage.objects()
    with pytest.raises(DBusError) as raised:
        await storage.host("LogoutIscsi", "ssa{sv}", "192.0.2.10", data, {})
    assert raised.value.type == ERROR + "Busy"
    assert await storage.objects() == before


async def test_unknown_method_and_object(storage):
    with pytest.raises(DBusError) as raised:
        await storage.call(HOST, "Host", "NoSuchMethod", "a{sv}", {})
    assert raised.value.type == "org.freedesktop.DBus.Error.UnknownMethod"
    with pytest.raises(DBusError) as raised:
        await storage.call(f"{ROOT}/VolumeGroup/nothing", "VolumeGroup", "Remove",
                           "a{sv}", {})
    assert raised.value.type in ("org.freedesktop.DBus.Error.UnknownMethod",
                                 "org.freedesktop.DBus.Error.UnknownObject")


# gdbus (`{"timeout": <5>}`), GJS and most dynamic bindings send a bare number as
# int32: an integer option takes any integer type whose value fits its documented
# one (docs/api.md, "Integer options")
async def test_integer_options_sent_as_int32_are_taken(storage):
    found = await storage.host("DiscoverIscsiTargets", "sa{sv}", PORTAL,
                               {"timeout": Variant("i", 5)})
    assert [BACKUP, f"{PORTAL}:3260"] in found
    lv = await storage.lv("templates")
    size = (await storage.props(lv, "LogicalVolume"))["Size"]
    await storage.call(lv, "LogicalVolume", "Extend", "ta{sv}", GiB,
                       {"expected-size": Variant("x", size)})
    assert (await storage.props(lv, "LogicalVolume"))["Size"] == size + GiB


@pytest.mark.parametrize("value", [Variant("i", -5), Variant("x", 2**32),
                                   Variant("i", 0), Variant("d", 5.0)],
                         ids=["negative", "over-u", "out-of-range", "double"])
async def test_integer_options_that_do_not_fit_are_refused(storage, value):
    with pytest.raises(DBusError) as raised:
        await storage.host("DiscoverIscsiTargets", "sa{sv}", PORTAL, {"timeout": value})
    assert raised.value.type == ERROR + "InvalidArgument", raised.value.text
    assert "'timeout'" in raised.value.text

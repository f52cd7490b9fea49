# SPDX-License-Identifier: LGPL-2.1-or-later
"""Resolve before authorize: every reference a caller passes is resolved to the
object it names before polkit is asked, polkit is told that object's name and UUID
(or device node and WWID), and the engine is handed exactly that object. A name that
could be read as another object's identifier (an LVM UUID) is refused outright."""

import os
import subprocess

import pytest
from dbus_fast import DBusError

from conftest import NOBODY
from storage import ERROR, HOST, ROOT, opts

DEST = "org.solidice.Storage"
REMOVE = "org.solidice.storage.remove"
MANAGE_LVM = "org.solidice.storage.manage-lvm"
LUN = "36001405d0e1f2a3b4c5d6e7f8091{:04x}".format    # engine/sim/seed.py
LUN1, LUN3, LUN4 = LUN(1), LUN(3), LUN(4)


def gdbus_as_nobody(address: str, path: str, method: str, *args: str):
    """gdbus as uid 65534: (the D-Bus error name or None, stderr)."""
    result = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
         "gdbus", "call", "--system", "--dest", DEST, "--object-path", path, "--method",
         f"org.solidice.Storage.{method}", *args],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address})
    if result.returncode == 0:
        return None, result.stdout
    name = result.stderr.split("GDBus.Error:", 1)[-1].split(":", 1)[0]
    return name.removeprefix(ERROR), result.stderr


@pytest.fixture
def nobody(daemon, system_bus):
    return lambda path, method, *args: gdbus_as_nobody(system_bus, path, method, *args)


async def vg_uuid(storage, name: str) -> str:
    return (await storage.props(await storage.vg(name), "VolumeGroup"))["Uuid"]


@pytest.mark.parametrize("shape", ["dashed", "undashed"])
async def test_create_volume_group_refuses_a_name_shaped_like_an_lvm_uuid(storage, shape):
    victim = await vg_uuid(storage, "vmstore")
    name = victim if shape == "dashed" else victim.replace("-", "")
    before = await storage.objects()
    with pytest.raises(DBusError) as raised:
        await storage.pool("CreateVolumeGroup", "sasa{sv}", name, [LUN3], {})
    assert raised.value.type == ERROR + "InvalidArgument"
    assert "LVM UUID" in raised.value.text
    assert await storage.objects() == before


@pytest.mark.parametrize("ref", ["nosuchvg", f"{ROOT}/VolumeGroup/gone",
                                 "Fwx8ij-Jkde-xft9-I7a2-I40o-4zPu-V5ViaD"])
async def test_remove_volume_group_of_nothing_is_not_found_before_polkit_is_asked(
        storage, polkit, nobody, ref):
    error, text = nobody(HOST, "StoragePool.RemoveVolumeGroup", ref, "@a{sv} {}")
    assert error == "NotFound", text
    assert await polkit.checks() == []


@pytest.mark.parametrize("by", ["name", "uuid", "undashed-uuid", "object-path"])
async def test_polkit_is_asked_about_the_resolved_volume_group(storage, polkit, nobody, by):
    uuid = await vg_uuid(storage, "vmstore")
    ref = {"name": "vmstore", "uuid": uuid, "undashed-uuid": uuid.replace("-", ""),
           "object-path": await storage.vg("vmstore")}[by]
    error, text = nobody(HOST, "StoragePool.RemoveVolumeGroup", ref, "@a{sv} {}")
    assert error == "NotAuthorized", text
    [(_, action, details, _, _)] = await polkit.checks()
    assert action == REMOVE
    assert (details["vg"], details["vg.uuid"]) == ("vmstore", uuid)
    assert await storage.vg("vmstore")


async def test_polkit_is_asked_about_the_resolved_devices(storage, polkit, nobody):
    error, text = nobody(HOST, "StoragePool.CreateVolumeGroup", "newvg",
                         f"['naa.{LUN3[1:]}', '{ROOT}/Lun/{LUN4}']", "@a{sv} {}")
    assert error == "NotAuthorized", text
    [(_, action, details, _, _)] = await polkit.checks()
    assert action == MANAGE_LVM and details["vg"] == "newvg"
    assert details["devices"] == f"/dev/mapper/{LUN3},/dev/mapper/{LUN4}"
    assert details["luns"] == f"{LUN3},{LUN4}"


@pytest.mark.parametrize("devices,expected", [
    pytest.param("['/dev/sde']", "InvalidArgument", id="a-path-of-a-map"),
    pytest.param("['/dev/../etc/passwd']", "InvalidArgument", id="out-of-dev"),
    pytest.param("['36001405ffffffffffffffffffffffff1']", "NotFound", id="no-such-lun"),
])
async def test_devices_that_name_no_lun_are_refused_before_polkit_is_asked(
        storage, polkit, nobody, devices, expected):
    error, text = nobody(HOST, "StoragePool.CreateVolumeGroup", "newvg", devices,
                         "@a{sv} {}")
    assert error == expected, text
    error, text = nobody(await storage.vg("vmstore"), "VolumeGroup.Extend", devices,
                         "@a{sv} {}")
    assert error == expected, text
    assert await polkit.checks() == []


async def test_polkit_is_asked_about_the_resolved_physical_volume(storage, polkit, nobody):
    vg = await storage.vg("vmstore")
    pv = (await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"][0]
    props = await storage.props(pv, "PhysicalVolume")
    error, text = nobody(vg, "VolumeGroup.RemovePhysicalVolume", props["Device"],
                         "@a{sv} {}")
    assert error == "NotAuthorized", text
    [(_, action, details, _, _)] = await polkit.checks()
    assert action == REMOVE and details["vg"] == "vmstore"
    assert (details["pv"], details["device"]) == (props["Uuid"], props["Device"])
    assert details["lun.wwid"] == props["Lun"].rsplit("/", 1)[1]


async def test_a_physical_volume_not_in_the_group_is_not_found_before_polkit_is_asked(
        storage, polkit, nobody):
    error, text = nobody(await storage.vg("vmstore"), "VolumeGroup.RemovePhysicalVolume",
                         f"/dev/mapper/{LUN3}", "@a{sv} {}")
    assert error == "NotFound", text
    assert await polkit.checks() == []


async def test_logical_volume_changes_tell_polkit_the_volume_group_too(
        storage, polkit, nobody):
    lv = await storage.lv("templates")
    error, text = nobody(lv, "LogicalVolume.Activate", "@a{sv} {}")
    assert error == "NotAuthorized", text
    [(_, _, details, _, _)] = await polkit.checks()
    assert details["lv"] == "templates" and details["vg"] == "vmstore"
    assert details["vg.uuid"] == await vg_uuid(storage, "vmstore")
    assert details["lv.uuid"] == (await storage.props(lv, "LogicalVolume"))["Uuid"]


@pytest.mark.parametrize("ref", ["/dev/../etc/passwd", "/dev/../mnt/nfs/x", "/etc/passwd",
                                 "/dev//sda", "/dev/./mapper/x"])
async def test_block_info_refuses_a_path_outside_dev(storage, nobody, ref):
    with pytest.raises(DBusError) as raised:
        await storage.host("GetBlockInfo", "sa{sv}", ref, {})
    assert raised.value.type == ERROR + "InvalidArgument"
    error, text = nobody(HOST, "Host.GetBlockInfo", ref, "@a{sv} {}")
    assert error == "InvalidArgument", text

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every seed operation as an administrator types it: busctl, checked in the tree."""

import json

import pytest

from storage import IFACE

DEST = "org.solidice.Storage"
HOST = "/org/solidice/Storage/Host"
LUN3 = "36001405d0e1f2a3b4c5d6e7f80910003"
LUN4 = "36001405d0e1f2a3b4c5d6e7f80910004"


@pytest.fixture
def admin(daemon, run_busctl):
    """busctl call/get-property as root; JSON answers decoded; errors fail loudly."""
    def run(verb, path, interface, member, *args, expect_error=None):
        result = run_busctl("--json=short", "--", verb, DEST, path, IFACE + interface,
                            member, *args)
        if expect_error:
            assert result.returncode != 0, result.stdout
            assert expect_error in result.stderr, result.stderr
            return result.stderr
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["data"] if result.stdout.strip() else None
    return run


def call(admin, path, interface, member, *args, **kwargs):
    answer = admin("call", path, interface, member, *args, **kwargs)
    return answer[0] if isinstance(answer, list) and len(answer) == 1 else answer


def prop(admin, path, interface, name):
    return admin("get-property", path, interface, name)


async def test_busctl_host_level(admin):
    luns = call(admin, HOST, "Host", "EnumerateLuns", "a{sv}", "0")
    assert f"/org/solidice/Storage/Lun/{LUN3}" in luns and len(luns) == 7
    vgs = call(admin, HOST, "Host", "EnumerateVolumeGroups", "a{sv}", "0")
    assert [prop(admin, vg, "VolumeGroup", "Name") for vg in vgs] == ["vmstore"]
    info = call(admin, HOST, "Host", "GetBlockInfo", "sa{sv}", "vmstore/templates", "0")
    assert info["size"] == {"type": "t", "data": 8 * 1024**3}
    iscsi = call(admin, HOST, "Host", "EnumerateIscsiLuns", "ssa{sv}", "192.0.2.10",
                 "iqn.2003-01.org.linux-iscsi.sim.example:backup", "2",
                 "username", "s", "backup", "password", "s", "backup-secret")
    assert len(iscsi) == 2
    assert len(prop(admin, HOST, "Host", "IscsiSessions")) == 3


async def test_busctl_storage_pool_level(admin):
    vg = call(admin, HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}", "vg1", "2",
              LUN3, LUN4, "0")
    assert prop(admin, vg, "VolumeGroup", "Name") == "vg1"
    assert len(prop(admin, vg, "VolumeGroup", "PhysicalVolumes")) == 2
    call(admin, HOST, "StoragePool", "RemoveVolumeGroup", "sa{sv}", "vg1", "0")
    admin("get-property", vg, "VolumeGroup", "Name", expect_error="no interfaces at path")

    mount = call(admin, HOST, "StoragePool", "MountNfs", "sssa{sv}", "nfs.example.com",
                 "/export/vms", "/srv/nfs/vms", "2", "vers", "s", "4.2",
                 "create-mountpoint", "b", "true")
    assert prop(admin, mount, "Mount", "LocalPath") == "/srv/nfs/vms"
    call(admin, HOST, "StoragePool", "Unmount", "sba{sv}", "/srv/nfs/vms", "false", "0")
    admin("get-property", mount, "Mount", "LocalPath", expect_error="no interfaces at path")


async def test_busctl_volume_group_and_lv_level(admin):
    vg = call(admin, HOST, "Host", "EnumerateVolumeGroups", "a{sv}", "0")[0]
    pvs = call(admin, vg, "VolumeGroup", "ListPhysicalVolumes", "a{sv}", "0")
    assert prop(admin, pvs[0], "PhysicalVolume", "Size") > 0
    assert prop(admin, pvs[0], "PhysicalVolume", "Device").startswith("/dev/mapper/")
    call(admin, vg, "VolumeGroup", "Extend", "asa{sv}", "1", LUN3, "0")
    assert call(admin, vg, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}", LUN3,
                "0") == "/"

    lv = call(admin, vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "disk1",
              str(1024**3), "0")
    assert prop(admin, lv, "LogicalVolume", "Path") == "/dev/vmstore/disk1"
    assert lv in call(admin, vg, "VolumeGroup", "ListLogicalVolumes", "a{sv}", "0")
    call(admin, lv, "LogicalVolume", "Extend", "ta{sv}", str(1024**3), "1",
         "expected-size", "t", str(1024**3))
    assert prop(admin, lv, "LogicalVolume", "Size") == 2 * 1024**3
    snap = call(admin, lv, "LogicalVolume", "Snapshot", "sta{sv}", "disk1-snap",
                str(512 * 1024**2), "0")
    assert prop(admin, snap, "LogicalVolume", "Origin") == lv
    call(admin, snap, "LogicalVolume", "Remove", "a{sv}", "1", "force", "b", "true")
    call(admin, lv, "LogicalVolume", "Remove", "a{sv}", "1", "force", "b", "true")
    assert lv not in call(admin, vg, "VolumeGroup", "ListLogicalVolumes", "a{sv}", "0")


async def test_busctl_sees_named_errors(admin):
    admin("call", HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}", "-vg", "1",
          LUN3, "0", expect_error="starts with '-'")
    admin("call", HOST, "Host", "EnumerateLuns", "a{sv}", "1", "bogus", "b", "true",
          expect_error="unknown option 'bogus'")

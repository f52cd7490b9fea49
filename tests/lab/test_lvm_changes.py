# SPDX-License-Identifier: LGPL-2.1-or-later
"""LogicalVolume.Resize, the renames of LVs and VGs, and tags on VGs, LVs and PVs,
through the D-Bus API on the real LVM engine: each result checked with
`lvs`/`vgs`/`pvs`, `dmsetup` and the bytes on the device; the object paths stay
across renames, and each object renamed (or moved by its VG's rename) changes in
exactly one PropertiesChanged. Two tests, one VG each: a VG made and wiped is most
of a test's time under emulation. A VG rename's crash point (rename-vg) is
recovered in tests/unit/lvm/test_recovery.py."""

import os
import subprocess

import pytest
from dbus_fast import Variant

from labbus import ERROR, IFACE, ROOT
from lab.host import lvm, lvm_report, run
from solidice_storage import objpath
from test_lvm import MANAGED_TAG, VG_NAME, call, luns, no_drift, settled  # noqa: F401
from waits import log_mark, logged, lvm_refreshed

MiB = 1024**2
RENAMED = "labvg-renamed"
PATTERN = b"solidice" * 512                        # 4 KiB


@pytest.fixture
def lvm_luns(luns):
    """The lab's LUNs, with the VG renamed by a test removed after it too."""
    yield luns
    lvm("vgremove", "-y", "-f", "--", RENAMED, check=False)


async def make_vg(bus, luns) -> str:
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, luns[:1], {})
    return vg_path


async def make_lv(bus, vg_path: str, name: str, size: int, active: bool = True) -> str:
    (lv_path,) = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                            name, size, {"activate": Variant("b", active)})
    return lv_path


def lv_row(vg: str, name: str) -> dict:
    (row,) = lvm_report("lvs", "-o", "lv_uuid,lv_size,lv_tags", "--", f"{vg}/{name}")
    return row


def write_at(device: str, offset: int, data: bytes) -> None:
    with open(device, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def read_at(device: str, offset: int, length: int) -> bytes:
    with open(device, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def device_size(device: str) -> int:
    with open(device, "rb") as handle:
        return handle.seek(0, os.SEEK_END)


def holding_open(device: str) -> subprocess.Popen:
    """A process that holds `device` open until it is killed."""
    with open(device, "rb") as handle:
        return subprocess.Popen(["sleep", "600"], stdin=handle)


def dm_names() -> set[str]:
    out = run("dmsetup", "info", "-c", "--noheadings", "-o", "name").stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def property_changes(bus, path: str) -> list[dict]:
    """The PropertiesChanged signals of `path` recorded so far: changed properties."""
    return [{k: v.value for k, v in m.body[1].items()} for m in bus.signals
            if m.member == "PropertiesChanged" and m.path == path]


async def tags_on_the_vg_an_lv_and_the_pv(bus, vg_path: str, lv_path: str) -> None:
    """AddTags and RemoveTags on VG, LV (`data`) and PV, checked with vgs/lvs/pvs;
    the service's own tag protected; bad tags refused."""
    objects = await bus.objects()
    (pv_path,) = objects[vg_path][IFACE + "VolumeGroup"]["PhysicalVolumes"]
    device = objects[pv_path][IFACE + "PhysicalVolume"]["Device"]

    async def tags(path, kind, member, *values):
        return await call(bus, path, kind, member, "asa{sv}", list(values), {})
    assert await tags(vg_path, "VolumeGroup", "AddTags", "site=paris", "tier:gold") == []
    (row,) = lvm_report("vgs", "-o", "vg_tags", "--", VG_NAME)
    assert sorted(row["vg_tags"].split(",")) == sorted([MANAGED_TAG, "site=paris",
                                                         "tier:gold"])
    assert await tags(lv_path, "LogicalVolume", "AddTags", "backup/daily", "keep") == []
    assert await tags(pv_path, "PhysicalVolume", "AddTags", "fast#1") == []
    assert await tags(lv_path, "LogicalVolume", "RemoveTags", "keep", "absent") == []
    assert lv_row(VG_NAME, "data")["lv_tags"] == "backup/daily"
    (row,) = lvm_report("pvs", "-o", "pv_tags", "--", device)
    assert row["pv_tags"] == "fast#1"

    objects = await bus.objects()
    assert objects[vg_path][IFACE + "VolumeGroup"]["Tags"] == sorted(
        [MANAGED_TAG, "site=paris", "tier:gold"])
    assert objects[lv_path][IFACE + "LogicalVolume"]["Tags"] == ["backup/daily"]
    assert objects[pv_path][IFACE + "PhysicalVolume"]["Tags"] == ["fast#1"]

    for member in ("RemoveTags", "AddTags"):                 # the service's own tag
        refused = await tags(vg_path, "VolumeGroup", member, MANAGED_TAG)
        assert refused[1] == ERROR + "InvalidArgument" and MANAGED_TAG in refused[2]
    for bad in ("-x", "a b", "@x", "t" * 1025):
        refused = await tags(lv_path, "LogicalVolume", "AddTags", bad)
        assert refused[1] == ERROR + "InvalidArgument", bad
    (row,) = lvm_report("vgs", "-o", "vg_tags", "--", VG_NAME)
    assert MANAGED_TAG in row["vg_tags"].split(",")
    assert (await bus.objects())[vg_path][IFACE + "VolumeGroup"]["Managed"]
    assert await tags(vg_path, "VolumeGroup", "RemoveTags", "site=paris", "tier:gold") == []
    (row,) = lvm_report("vgs", "-o", "vg_tags", "--", VG_NAME)
    assert row["vg_tags"] == MANAGED_TAG
    await settled(bus, lambda o: o[vg_path][IFACE + "VolumeGroup"]["Tags"] == [MANAGED_TAG],
                  "the VG's tags as LVM has them")


async def test_resize_by_the_bytes_and_tags(bus, lvm_luns, no_drift):
    """One VG for both (each VG made and wiped costs the lab the most time)."""
    vg_path = await make_vg(bus, lvm_luns)
    lv_path = await make_lv(bus, vg_path, "data", 8 * MiB)
    device = f"/dev/{VG_NAME}/data"
    write_at(device, 0, PATTERN)

    def resize(size, **options):
        return call(bus, lv_path, "LogicalVolume", "Resize", "ta{sv}", size,
                    {key.replace("_", "-"): Variant(*value) for key, value in options.items()})
    assert await resize(20 * MiB - 1) == []                # rounded up: 5 extents
    assert int(lv_row(VG_NAME, "data")["lv_size"]) == 20 * MiB == device_size(device)
    assert (await bus.objects())[lv_path][IFACE + "LogicalVolume"]["Size"] == 20 * MiB
    write_at(device, 16 * MiB, PATTERN)                    # in the space grown

    refused = await resize(4 * MiB)
    assert refused[1] == ERROR + "InvalidArgument" and "shrink" in refused[2]
    refused = await resize(4 * MiB, shrink=("b", True), expected_size=("t", 8 * MiB))
    assert refused[1] == ERROR + "InvalidArgument" and "expected" in refused[2]
    holder = holding_open(device)
    try:
        refused = await resize(4 * MiB, shrink=("b", True))
        assert refused[1] == ERROR + "Busy" and "open" in refused[2]
    finally:
        holder.kill()
        holder.wait()
    assert int(lv_row(VG_NAME, "data")["lv_size"]) == 20 * MiB     # none of them shrank it

    assert await resize(4 * MiB, shrink=("b", True), expected_size=("t", 20 * MiB)) == []
    assert int(lv_row(VG_NAME, "data")["lv_size"]) == 4 * MiB == device_size(device)
    table = run("dmsetup", "table", "--", f"{VG_NAME}-data").stdout.split()
    assert int(table[1]) == 4 * MiB // 512                 # the map's length, in sectors
    assert read_at(device, 0, len(PATTERN)) == PATTERN      # what lay below the new end
    assert (await bus.objects())[lv_path][IFACE + "LogicalVolume"]["Size"] == 4 * MiB
    assert await resize(4 * MiB, shrink=("b", True)) == []  # the same size: nothing to do
    await tags_on_the_vg_an_lv_and_the_pv(bus, vg_path, lv_path)


async def test_renames_keep_the_object_paths_and_move_the_devices(bus, lvm_luns, no_drift):
    vg_path = await make_vg(bus, lvm_luns)
    lv_path = await make_lv(bus, vg_path, "one", 4 * MiB)
    idle_path = await make_lv(bus, vg_path, "idle", 4 * MiB, active=False)
    write_at(f"/dev/{VG_NAME}/one", 0, PATTERN)
    uuid = lv_row(VG_NAME, "one")["lv_uuid"]

    bus.signals.clear()
    mark = log_mark()
    assert await call(bus, lv_path, "LogicalVolume", "Rename", "sa{sv}", "uno", {}) == []
    assert lv_row(VG_NAME, "uno")["lv_uuid"] == uuid
    assert f"{VG_NAME}-uno" in dm_names() and f"{VG_NAME}-one" not in dm_names()
    assert read_at(f"/dev/{VG_NAME}/uno", 0, len(PATTERN)) == PATTERN
    lv = (await bus.objects())[lv_path][IFACE + "LogicalVolume"]
    assert (lv["Name"], lv["Path"]) == ("uno", f"/dev/{VG_NAME}/uno")
    taken = await call(bus, lv_path, "LogicalVolume", "Rename", "sa{sv}", "idle", {})
    assert taken[1] == ERROR + "AlreadyExists"
    # the metadata backup's echo is read, and changes nothing more
    await logged(mark, lvm_refreshed(VG_NAME), "the report after the LV's rename")
    assert [set(c) for c in property_changes(bus, lv_path)] == [{"Name", "Path"}]

    holder = holding_open(f"/dev/{VG_NAME}/uno")          # a VM using its disk
    try:
        bus.signals.clear()
        mark = log_mark()
        assert await call(bus, vg_path, "VolumeGroup", "Rename", "sa{sv}", RENAMED,
                          {}) == []
    finally:
        holder.kill()
        holder.wait()
    (row,) = lvm_report("vgs", "-o", "vg_uuid,vg_name", "--", RENAMED)
    assert vg_path == objpath.path("VolumeGroup", row["vg_uuid"])   # the same object
    assert lv_row(RENAMED, "uno")["lv_uuid"] == uuid
    names = dm_names()
    assert f"{RENAMED.replace('-', '--')}-uno" in names and f"{VG_NAME}-uno" not in names
    assert read_at(f"/dev/{RENAMED}/uno", 0, len(PATTERN)) == PATTERN
    assert not os.path.exists(f"/dev/{VG_NAME}/uno")
    # one PropertiesChanged per object, all before the reply; the report after it
    # (the metadata backup's echo) changes neither name nor path again
    assert [set(c) for c in property_changes(bus, vg_path)] == [{"Name"}]
    for path in (lv_path, idle_path):
        assert [set(c) for c in property_changes(bus, path)] == [{"Path"}], path
    objects = await bus.objects()
    assert objects[vg_path][IFACE + "VolumeGroup"]["Name"] == RENAMED
    assert objects[lv_path][IFACE + "LogicalVolume"]["Path"] == f"/dev/{RENAMED}/uno"
    assert objects[idle_path][IFACE + "LogicalVolume"]["Path"] == f"/dev/{RENAMED}/idle"
    await logged(mark, lvm_refreshed(RENAMED), "the report after the VG's rename")
    for path in (vg_path, lv_path, idle_path):
        assert sum(bool({"Name", "Path"} & set(c))
                   for c in property_changes(bus, path)) == 1, path
    taken = await call(bus, lv_path, "LogicalVolume", "Rename", "sa{sv}", "x y", {})
    assert taken[1] == ERROR + "InvalidArgument"

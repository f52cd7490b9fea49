# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/logical_volumes.py: LV changes, each one LVM command under its VG's
lock; a plain LV's state derived from its map, else read with one report."""

import pytest

from solidice_storage.engine.host.lvm import derive
from solidice_storage.engine.rules import extents
from solidice_storage.errors import InvalidArgument, NotFound
from solidice_storage.models import LogicalVolume, PhysicalVolume, VolumeGroup
from solidice_storage.options import (CreateLogicalVolumeOptions,
                                      ExtendLogicalVolumeOptions, Options, RemoveOptions)

from .fakes import DATA, VG_UUID, lvm_engine, script

MiB = 1 << 20
FAKE_LVM = """#!/bin/sh
# Stands in for lvm: logs the command (@WHAT@), answers every report with the
# captured one.
echo "@WHAT@" >> @LOG@
[ "$1" = fullreport ] && sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d'
exit 0
"""
TOOLS = {"dmsetup": "/bin/true", "udevadm": "/bin/true"}


def fake_lvm(tmp_path, what: str = "$1"):
    """An LvmEngine over FAKE_LVM logging `what` of each command, and the log."""
    log = tmp_path / "lvm.log"
    lvm = script(tmp_path / "lvm", FAKE_LVM.replace("@WHAT@", what).replace(
        "@LOG@", str(log)).replace("@REPORT@", str(DATA / "lvm-fullreport-all.txt")))
    return lvm_engine(tmp_path, lvm, tools=TOOLS), log


async def test_create_extend_remove_of_a_plain_lv_derive_the_state_from_its_map(
        tmp_path, monkeypatch):
    """One LVM command each: the LV's UUID and size come from device-mapper's map
    (read_map, here a stand-in) and the VG's free space follows; a map that
    disagrees falls back to a report."""
    engine, log = fake_lvm(tmp_path)
    await engine.refresh()
    vg = engine.store.get(VolumeGroup, VG_UUID)
    lv_uuid = "AbCdEf-0123-4567-89ab-cdef-ghij-KLMNOP"
    maps = {}
    monkeypatch.setattr(derive, "read_map", lambda vg_name, lv_name: maps.get(lv_name))
    pvs = [engine.store.get(PhysicalVolume, key) for key in vg.physical_volumes]
    numbers = {pv.device: f"253:{i}" for i, pv in enumerate(pvs)}
    monkeypatch.setattr(derive, "device_number", numbers.get)
    wire = "LVM-" + VG_UUID.replace("-", "") + lv_uuid.replace("-", "")
    maps["new"] = derive.Map(wire, 2 * vg.extent_size, ("253:1",))
    log.write_text("")

    uuid = await engine.create_logical_volume("labcap", "new", vg.extent_size + 1,
                                              CreateLogicalVolumeOptions())
    assert log.read_text().split() == ["lvcreate"] and uuid == lv_uuid
    made = engine.store.get(LogicalVolume, uuid)
    assert (made.name, made.size, made.path, made.active, made.volume_group) == (
        "new", 2 * vg.extent_size, "/dev/labcap/new", True, VG_UUID)
    assert made.attributes == "-wi-a-----"
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == vg.free_size - made.size
    assert [engine.store.get(PhysicalVolume, pv.uuid).free_size for pv in pvs] == [
        pvs[0].free_size, pvs[1].free_size - made.size]      # the map is on the second

    maps["new"] = derive.Map(wire, 3 * vg.extent_size, ("253:1",))
    log.write_text("")
    await engine.extend_logical_volume(uuid, 1, ExtendLogicalVolumeOptions())
    assert log.read_text().split() == ["lvextend"]
    assert engine.store.get(LogicalVolume, uuid).size == 3 * vg.extent_size
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == \
        vg.free_size - 3 * vg.extent_size

    log.write_text("")
    await engine.remove_logical_volume(uuid, RemoveOptions())
    assert log.read_text().split() == ["lvremove"]
    assert uuid not in engine.store.all(LogicalVolume)
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == vg.free_size
    assert [engine.store.get(PhysicalVolume, pv.uuid).free_size for pv in pvs] == [
        pv.free_size for pv in pvs]

    # the map of another VG's LV, of the wrong size, or over both PVs: LVM's report
    # decides
    for other, size, under in (("LVM-" + "x" * 32 + lv_uuid.replace("-", ""), 1, ("253:0",)),
                               (wire, 5, ("253:0",)), (wire, 1, ("253:0", "253:1"))):
        maps["odd"] = derive.Map(other, size * vg.extent_size, under)
        log.write_text("")
        with pytest.raises(NotFound):      # the captured report has no "odd"
            await engine.create_logical_volume("labcap", "odd", vg.extent_size,
                                               CreateLogicalVolumeOptions())
        assert log.read_text().split() == ["lvcreate", "fullreport"]


async def test_sizes_go_to_lvm_as_whole_extents(tmp_path):
    """LVM refuses `-L <n>b` unless n is a multiple of 512: create, extend and
    snapshot name whole extents (`-l`), rounded up (labcap's are 4 MiB)."""
    engine, log = fake_lvm(tmp_path, "$*")
    await engine.refresh()

    def changes() -> list[str]:
        lines = [line for line in log.read_text().splitlines()
                 if line.startswith(("lvcreate", "lvextend"))]
        log.write_text("")
        return lines
    with pytest.raises(NotFound):           # the captured report does not show it
        await engine.create_logical_volume("labcap", "odd", 4 * MiB + 1,
                                           CreateLogicalVolumeOptions())
    (create,) = changes()
    assert " -l 2 " in f" {create} " and " -L " not in create, create
    await engine.extend_logical_volume("labcap/lv2", 4 * MiB + 3, ExtendLogicalVolumeOptions())
    (extend,) = changes()
    assert extend.endswith("-l +2 -- labcap/lv2"), extend
    with pytest.raises(NotFound):
        await engine.snapshot_logical_volume("labcap/lv2", "snapx", 4 * MiB + 5,
                                             Options(), 0)
    (snapshot,) = changes()
    assert " -s -l 2 " in snapshot and " -L " not in snapshot, snapshot


def test_whole_extents_round_up():
    assert [extents(n, 4 << 20) for n in (1, 4 << 20, (4 << 20) + 1, 4194305)] == \
        [1, 1, 2, 2]


async def test_an_lv_of_a_vg_we_did_not_create_needs_force(tmp_path):
    engine, log = fake_lvm(tmp_path)
    await engine.refresh()
    vg = engine.store.get(VolumeGroup, VG_UUID)
    engine.store.publish([vg.model_copy(update={"managed": False})])
    with pytest.raises(InvalidArgument, match="force"):
        await engine.remove_logical_volume("labcap/lv2", RemoveOptions())
    assert "lvremove" not in log.read_text().split()
    await engine.remove_logical_volume("labcap/lv2", RemoveOptions(force=True))
    assert "lvremove" in log.read_text().split()

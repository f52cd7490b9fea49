# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/logical_volumes.py: LV changes, each one LVM command under its VG's
lock; a plain LV's state derived from its map, else read with one report."""

import asyncio
import threading

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


GATED_LVM = """#!/bin/sh
# Stands in for lvm: logs each command; a fullreport waits while @GATE@ exists
# (a report LVM read before a change, still on its way), then answers with the
# captured one.
echo "$1" >> @LOG@
if [ "$1" = fullreport ]; then
    while [ -e @GATE@ ]; do sleep 0.02; done
    sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d'
fi
exit 0
"""


def gated_lvm(tmp_path):
    """An LvmEngine whose reports wait at a gate (a file: present, closed), the
    gate and the command log."""
    log, gate = tmp_path / "lvm.log", tmp_path / "gate"
    lvm = script(tmp_path / "lvm", GATED_LVM.replace("@LOG@", str(log)).replace(
        "@GATE@", str(gate)).replace("@REPORT@", str(DATA / "lvm-fullreport-all.txt")))
    return lvm_engine(tmp_path, lvm, tools=TOOLS), gate, log


async def until(condition, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


def a_new_lv_on_the_second_pv(engine, monkeypatch, held=None):
    """derive's view of the kernel: LV "new" (two extents) mapped onto the VG's
    second PV; `held` (a threading.Event): the map is read only once it is set."""
    vg = engine.store.get(VolumeGroup, VG_UUID)
    pvs = [engine.store.get(PhysicalVolume, key) for key in vg.physical_volumes]
    monkeypatch.setattr(derive, "device_number",
                        {pv.device: f"253:{i}" for i, pv in enumerate(pvs)}.get)
    lv_uuid = "AbCdEf-0123-4567-89ab-cdef-ghij-KLMNOP"
    wire = "LVM-" + VG_UUID.replace("-", "") + lv_uuid.replace("-", "")

    def read_map(vg_name, lv_name):
        if held is not None:
            assert held.wait(10)
        return derive.Map(wire, 2 * vg.extent_size, ("253:1",)) if lv_name == "new" else None
    monkeypatch.setattr(derive, "read_map", read_map)
    return vg, pvs, lv_uuid


async def test_a_report_published_while_an_lv_is_made_is_not_counted_twice(
        tmp_path, monkeypatch):
    """Another VG's change reads everything (a full report) and publishes this VG
    as LVM has it just after lvcreate, while the create is still reading the new
    map: the create's own publication must not take the LV's space from the PV a
    second time (the lab's load test: a PV's FreeSize went below zero, the D-Bus
    signal could not carry it, and the caller got an internal error for an LV
    that had been made)."""
    engine, gate, log = gated_lvm(tmp_path)
    await engine.refresh()
    held = threading.Event()
    vg, pvs, lv_uuid = a_new_lv_on_the_second_pv(engine, monkeypatch, held)
    size = 2 * vg.extent_size
    create = asyncio.ensure_future(engine.create_logical_volume(
        "labcap", "new", size, CreateLogicalVolumeOptions()))
    await until(lambda: "lvcreate" in log.read_text().split())
    # what the full report published: the VG and its PV with the LV's space taken
    after = [vg.model_copy(update={"free_size": vg.free_size - size}),
             pvs[1].model_copy(update={"free_size": pvs[1].free_size - size})]
    engine.store.publish(after)
    held.set()
    assert await create == lv_uuid
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == vg.free_size - size
    assert [engine.store.get(PhysicalVolume, pv.uuid).free_size for pv in pvs] == [
        pvs[0].free_size, pvs[1].free_size - size]


async def test_a_report_read_before_an_lv_was_made_does_not_undo_it(tmp_path, monkeypatch):
    """A full report LVM read before lvcreate, still on its way when the create
    publishes the new LV: the report is applied first, the create's state after,
    so the new LV stays exported (it was removed, and came back only with the
    next refresh)."""
    engine, gate, log = gated_lvm(tmp_path)
    await engine.refresh()
    vg, pvs, lv_uuid = a_new_lv_on_the_second_pv(engine, monkeypatch)
    size = 2 * vg.extent_size
    gate.touch()
    log.write_text("")
    stale = asyncio.ensure_future(engine.refresher.refresh())
    await until(lambda: "fullreport" in log.read_text().split())
    create = asyncio.ensure_future(engine.create_logical_volume(
        "labcap", "new", size, CreateLogicalVolumeOptions()))
    await until(lambda: "lvcreate" in log.read_text().split())
    await asyncio.sleep(0.2)            # the create has read its map by now
    gate.unlink()
    await stale
    assert await create == lv_uuid
    assert lv_uuid in engine.store.all(LogicalVolume)
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == vg.free_size - size
    assert engine.store.get(PhysicalVolume, pvs[1].uuid).free_size == \
        pvs[1].free_size - size

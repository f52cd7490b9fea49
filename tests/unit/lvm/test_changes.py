# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/changes.py: Resize, the renames and tags, each one LVM command (its
argument list as LVM gets it) under its VG's lock, or none when nothing is to be
done or the call is refused; the state they leave, published without a report
where LVM's result is sure."""

import shlex

import pytest

from solidice_storage.engine.host.lvm import changes, derive
from solidice_storage.engine.host.lvm.commands import CONFIG
from solidice_storage.engine.host.lvm.report import LV_COLUMNS, PV_COLUMNS, VG_COLUMNS
from solidice_storage.errors import AlreadyExists, Busy, InvalidArgument, NotSupported
from solidice_storage.models import LogicalVolume, PhysicalVolume, VolumeGroup
from solidice_storage.options import Options, ResizeLogicalVolumeOptions

from .fakes import DATA, VG_UUID, lvm_engine, pv_devices, script

MiB = 1 << 20
FAKE_LVM = """#!/bin/bash
# Stands in for lvm: logs each command's arguments (one line, shell-quoted),
# answers a report with the captured one and `vgs` with the VGs named in @VGS@.
printf '%q ' "$@" >> @LOG@; echo >> @LOG@
case "$1" in
    fullreport) sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d' ;;
    vgs) echo '{"report": [{"vg": [@VGS@]}]}' ;;
esac
exit 0
"""
DEVICES = ",".join(pv_devices("lvm-fullreport-all.txt"))
LV1, LV2 = "8BcbdC-zyfs-QOgO-AGxc-eDMd-SEoo-JkkU4H", "LxeM1d-1gpC-hoso-0sqW-IV71-mC11-tfZHfS"
SNAP1 = "mpxBaN-dT3Z-2zsH-e02y-hDAJ-X5W4-dG6HFa"


@pytest.fixture
async def engine(tmp_path):
    """The engine over the lab's captured VG `labcap` (lv1 an active origin, lv2
    inactive, snap1 its snapshot); `engine.commands_run()` the commands since the
    last call, each as its argument list without the config and devices."""
    log = tmp_path / "lvm.log"
    vgs = '{"vg_name": "labcap"}, {"vg_name": "othervg"}'
    lvm = script(tmp_path / "lvm", FAKE_LVM.replace("@LOG@", str(log)).replace(
        "@REPORT@", str(DATA / "lvm-fullreport-all.txt")).replace("@VGS@", vgs))
    engine = lvm_engine(tmp_path, lvm, tools={"dmsetup": "/bin/true",
                                              "udevadm": "/bin/true"})
    await engine.refresh()
    log.write_text("")

    def commands_run() -> list[list[str]]:
        lines = [shlex.split(line) for line in log.read_text().splitlines()]
        log.write_text("")
        for argv in lines:
            assert argv[1:3] == ["--config", CONFIG], argv
        return [[argv[0], *argv[5:]] if argv[3] == "--devices" else [argv[0], *argv[3:]]
                for argv in lines]
    engine.commands_run = commands_run
    return engine


def resize(shrink=False, expected=None):
    return ResizeLogicalVolumeOptions(shrink=shrink, expected_size=expected)


def sized(engine, key: str, size: int) -> None:
    """LV `key` as if it were `size` bytes (the captured LVs are one or two extents)."""
    lv = engine.store.get(LogicalVolume, key)
    engine.store.publish([lv.model_copy(update={"size": size})])


async def test_resize_grows_and_shrinks_to_whole_extents(engine):
    await engine.resize_logical_volume(LV2, 12 * MiB - 1, resize())
    assert engine.commands_run() == [["lvresize", "-l", "3", "--", "labcap/lv2"],
                                     ["fullreport"] + engine_report_args()]
    sized(engine, LV2, 12 * MiB)
    await engine.resize_logical_volume(LV2, 1, resize(shrink=True, expected=12 * MiB))
    assert engine.commands_run()[0] == ["lvresize", "-f", "-l", "1", "--", "labcap/lv2"]


def engine_report_args() -> list[str]:
    """The arguments of the report of labcap that follows a change not derived."""
    return ["--reportformat", "json", "--units", "b", "--nosuffix",
            "--configreport", "vg", "-o", ",".join(VG_COLUMNS),
            "--configreport", "pv", "-o", ",".join(PV_COLUMNS),
            "--configreport", "lv", "-o", ",".join(LV_COLUMNS),
            "--configreport", "seg", "-o", "lv_uuid",
            "--configreport", "pvseg", "-o", "pv_uuid", "--", "labcap"]


@pytest.mark.parametrize("lv, size, opts, error, words", [
    (LV2, 1, resize(), InvalidArgument, "pass shrink=true"),
    (LV2, 12 * MiB, resize(expected=4 * MiB), InvalidArgument, "not the expected"),
    (LV1, 12 * MiB, resize(), Busy, "only while it is inactive"),
    (LV1, 4 * MiB, resize(shrink=True), NotSupported, "cannot shrink an origin"),
    (LV2, 2**63, resize(), InvalidArgument, "8 EiB"),
])
async def test_resize_refusals_run_nothing(engine, lv, size, opts, error, words):
    sized(engine, LV2, 8 * MiB)
    with pytest.raises(error, match=words):
        await engine.resize_logical_volume(lv, size, opts)
    assert engine.commands_run() == []


async def test_resize_to_the_same_size_runs_nothing(engine):
    await engine.resize_logical_volume(LV2, 4 * MiB - 5, resize(shrink=True))
    assert engine.commands_run() == []


async def test_a_kind_resize_does_not_handle_is_not_supported(engine):
    lv = engine.store.get(LogicalVolume, LV2)
    engine.store.publish([lv.model_copy(update={"attributes": "Vwi-a-tz--"})])
    with pytest.raises(NotSupported, match="thin logical volume"):
        await engine.resize_logical_volume(LV2, 8 * MiB, resize())
    assert engine.commands_run() == []


async def test_a_shrink_of_an_open_lv_is_busy(engine, monkeypatch):
    async def held(runner, store, vg, lv=None):
        return [lv.name]
    monkeypatch.setattr(changes, "held", held)
    sized(engine, SNAP1, 8 * MiB)
    with pytest.raises(Busy, match="open"):
        await engine.resize_logical_volume(SNAP1, 1, resize(shrink=True))
    assert engine.commands_run() == []
    await engine.resize_logical_volume(SNAP1, 12 * MiB, resize())   # a grow: fine
    assert engine.commands_run()[0] == ["lvresize", "-l", "3", "--", "labcap/snap1"]


async def test_a_plain_lv_resized_is_published_from_its_map(engine, monkeypatch):
    lv = engine.store.get(LogicalVolume, LV2)
    engine.store.publish([lv.model_copy(update={"active": True,
                                                "attributes": "-wi-a-----"})])
    vg = engine.store.get(VolumeGroup, VG_UUID)
    pvs = [engine.store.get(PhysicalVolume, key) for key in vg.physical_volumes]
    monkeypatch.setattr(derive, "read_map", lambda vg_name, lv_name: derive.Map(
        "LVM-x", 3 * vg.extent_size, ("253:1",)))
    monkeypatch.setattr(derive, "device_number",
                        {pv.device: f"253:{i}" for i, pv in enumerate(pvs)}.get)
    await engine.resize_logical_volume(LV2, 3 * vg.extent_size, resize())
    assert [argv[0] for argv in engine.commands_run()] == ["lvresize"]     # no report
    assert engine.store.get(LogicalVolume, LV2).size == 3 * vg.extent_size
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == \
        vg.free_size - 2 * vg.extent_size
    assert engine.store.get(PhysicalVolume, pvs[1].uuid).free_size == \
        pvs[1].free_size - 2 * vg.extent_size


async def test_rename_of_an_lv(engine):
    published = []
    engine.store.subscribe(lambda changes: published.append(changes.upserts))
    await engine.rename_logical_volume(LV2, "lv3", Options())
    assert engine.commands_run() == [["lvrename", "--", "labcap", "lv2", "lv3"]]
    lv = engine.store.get(LogicalVolume, LV2)
    assert (lv.name, lv.path) == ("lv3", "/dev/labcap/lv3")
    assert published == [[lv]]                       # one change of the one object
    with pytest.raises(AlreadyExists):
        await engine.rename_logical_volume(LV2, "lv1", Options())
    await engine.rename_logical_volume(LV2, "lv3", Options())
    assert engine.commands_run() == []


@pytest.mark.parametrize("stale, refreshed", [(None, True), ("a map", False)])
async def test_rename_of_a_vg_moves_its_lvs_and_their_maps(engine, monkeypatch, stale,
                                                          refreshed):
    """vgrename renames the maps of active LVs itself, when /dev/<old> exists; a map
    left with the old name (read_map finds none by the new one) is renamed by a
    `vgchange --refresh`."""
    monkeypatch.setattr(derive, "read_map", lambda vg_name, lv_name: stale)
    published = []
    engine.store.subscribe(lambda changes: published.append(changes.upserts))
    await engine.rename_volume_group(VG_UUID, "newcap", Options())
    run = engine.commands_run()
    assert run[:2] == [["vgs", "--reportformat", "json", "-o", "vg_name"],
                       ["vgrename", "--", "labcap", "newcap"]]
    assert run[2:] == ([["vgchange", "--refresh", "--", "newcap"]] if refreshed else [])
    assert engine.store.get(VolumeGroup, VG_UUID).name == "newcap"
    lvs = engine.store.all(LogicalVolume)
    assert sorted(lv.path for lv in lvs.values()) == [
        "/dev/newcap/lv1", "/dev/newcap/lv2", "/dev/newcap/snap1"]
    assert len(published) == 1 and len(published[0]) == 4   # the VG and its 3 LVs, once


async def test_the_vg_of_the_root_filesystem_is_never_renamed(engine, monkeypatch):
    monkeypatch.setattr(changes.blockdev, "vgs_under",
                        lambda mount_point: {VG_UUID.replace("-", "")})
    with pytest.raises(Busy, match="root filesystem"):
        await engine.rename_volume_group(VG_UUID, "newcap", Options())
    assert engine.commands_run() == []


async def test_rename_of_a_vg_to_a_name_lvm_knows_is_refused(engine):
    with pytest.raises(AlreadyExists):
        await engine.rename_volume_group(VG_UUID, "othervg", Options())
    assert engine.commands_run() == [["vgs", "--reportformat", "json", "-o", "vg_name"]]
    await engine.rename_volume_group(VG_UUID, "labcap", Options())
    assert engine.commands_run() == []


async def test_tags_on_a_vg_an_lv_and_a_pv(engine):
    await engine.add_tags("VolumeGroup", VG_UUID, ["site=paris", "a/b"], Options())
    assert engine.commands_run() == [["vgchange", "--addtag", "site=paris", "--addtag",
                                      "a/b", "--", "labcap"]]
    vg = engine.store.get(VolumeGroup, VG_UUID)
    assert vg.tags == ("a/b", "org.solidice.storage", "site=paris") and vg.managed
    await engine.add_tags("VolumeGroup", VG_UUID, ["a/b"], Options())
    await engine.remove_tags("LogicalVolume", LV2, ["absent"], Options())
    assert engine.commands_run() == []               # nothing to do: nothing run
    await engine.add_tags("LogicalVolume", LV2, ["keep"], Options())
    await engine.remove_tags("LogicalVolume", LV2, ["keep", "absent"], Options())
    assert engine.commands_run() == [["lvchange", "--addtag", "keep", "--", "labcap/lv2"],
                                     ["lvchange", "--deltag", "keep", "--", "labcap/lv2"]]
    assert engine.store.get(LogicalVolume, LV2).tags == ()
    pv = engine.store.get(PhysicalVolume, vg.physical_volumes[0])
    await engine.add_tags("PhysicalVolume", pv.uuid, ["fast#1"], Options())
    assert engine.commands_run() == [["pvchange", "--addtag", "fast#1", "--", pv.device]]
    assert engine.store.get(PhysicalVolume, pv.uuid).tags == ("fast#1",)

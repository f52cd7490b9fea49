# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/volume_groups.py: VG changes over a stand-in `lvm` answering with LVM's
real captured output: a failed change leaves no label behind, a name LVM sees
anywhere is refused, the data moves off a PV as a job, a grown PV is resized."""

import asyncio

import pytest

from solidice_storage.engine.host.lvm.commands import CONFIG
from solidice_storage.engine.host.lvm.report import parse_report
from solidice_storage.engine.intents import Intents
from solidice_storage.errors import AlreadyExists, Busy
from solidice_storage.models import Lun, PhysicalVolume
from solidice_storage.options import (CreateVolumeGroupOptions,
                                      RemovePhysicalVolumeOptions, RemoveOptions)

from .fakes import DATA, Luns, lvm_engine, pv_devices, script

ORPHANS = "lvm-fullreport-orphans.txt"
IN_A_VG = "lvm-fullreport-all.txt"
TOOLS = {"dmsetup": "/bin/true", "udevadm": "/bin/true"}

FAKE_LVM = """#!/bin/bash
# lvm for the VG tests: logs each command; reports what @REPORT@ holds;
# vgcreate fails when $dir/vgcreate-fails exists.
dir=@DIR@
echo "$*" >> $dir/lvm.log
case "$1" in
  fullreport) sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d' ;;
  vgcreate) if [ -e $dir/vgcreate-fails ]; then
              echo '  A volume group called vg already exists.' >&2; exit 5; fi ;;
  vgs) if [ -e $dir/vgs.json ]; then cat $dir/vgs.json; else echo '{"report": [{"vg": []}]}'; fi ;;
  lvmconfig) echo use_devicesfile=0 ;;
esac
exit 0
"""


@pytest.fixture
def host(tmp_path):
    """An LvmEngine over FAKE_LVM reporting a capture, the capture's PVs' maps on
    the host, each device node there."""
    def make(capture: str, intents: Intents | None = None):
        lvm = script(tmp_path / "lvm", FAKE_LVM.replace("@DIR@", str(tmp_path))
                     .replace("@REPORT@", str(DATA / capture)))
        return lvm_engine(tmp_path, lvm, Luns.named_by_wwid(pv_devices(capture)), intents,
                          tools=TOOLS, device_exists=lambda path: True)
    return make


def _commands(tmp_path) -> list[str]:
    return (tmp_path / "lvm.log").read_text().splitlines()


def _luns_of(engine, devices: list[str]) -> None:
    engine.store.publish([Lun(wwid=d.rsplit("/", 1)[1], device=d, size=64 << 20)
                          for d in devices])


async def test_a_failed_vgcreate_wipes_the_labels_its_pvcreate_wrote(host, tmp_path):
    engine = host(ORPHANS)
    devices = pv_devices(ORPHANS)
    _luns_of(engine, devices)
    (tmp_path / "vgcreate-fails").touch()
    with pytest.raises(AlreadyExists):
        await engine.create_volume_group("vg", [d.rsplit("/", 1)[1] for d in devices],
                                         CreateVolumeGroupOptions())
    commands = [c.split()[0] for c in _commands(tmp_path)]
    assert commands == ["vgs", "pvcreate", "vgcreate", "fullreport", "pvremove"]
    assert await Intents(tmp_path / "state").pending() == []


async def test_a_name_lvm_sees_on_any_device_is_refused_before_any_label(host, tmp_path):
    """The model may not know a VG yet (one just made, by us or outside): LVM is
    asked over every device, and the name taken means no label is written."""
    engine = host(ORPHANS)
    devices = pv_devices(ORPHANS)
    _luns_of(engine, devices)
    (tmp_path / "vgs.json").write_text('{"report": [{"vg": [{"vg_name": "vg", '
                                       '"vg_uuid": "elsewhere"}]}]}')
    with pytest.raises(AlreadyExists):
        await engine.create_volume_group("vg", [devices[0].rsplit("/", 1)[1]],
                                         CreateVolumeGroupOptions())
    (vgs,) = _commands(tmp_path)
    assert vgs.startswith("vgs ") and "--devices" not in vgs


async def test_a_new_vg_is_the_one_on_its_own_devices(host, tmp_path):
    """Its UUID comes from LVM's report of exactly the devices vgcreate was given."""
    engine = host(ORPHANS)
    devices = pv_devices(ORPHANS)
    _luns_of(engine, devices)
    (tmp_path / "vgs.json").write_text('{"report": [{"vg": []}]}')
    lvm = tmp_path / "lvm"
    lvm.write_text(lvm.read_text().replace(
        "  vgs)", "  vgs) [[ \" $* \" == *\" --devices \"* ]] && "
        "echo '{\"report\": [{\"vg\": [{\"vg_name\": \"vg\", \"vg_uuid\": "
        "\"ours\"}]}]}' && exit 0;"))
    assert await engine.create_volume_group("vg", [devices[0].rsplit("/", 1)[1]],
                                            CreateVolumeGroupOptions()) == "ours"
    reads = [c for c in _commands(tmp_path) if c.startswith("vgs ")]
    assert "--devices" not in reads[0] and f"--devices {devices[0]} " in reads[1]


async def test_the_root_vg_is_never_removed(host, tmp_path, monkeypatch):
    engine = host(IN_A_VG)
    await engine.refresh()
    monkeypatch.setattr("solidice_storage.engine.host.luns.blockdev.vgs_under",
                        lambda mount_point: {"Fwx8ijJkdexft9I7a2I40o4zPuV5ViaD"})
    with pytest.raises(Busy, match="root filesystem"):
        await engine.remove_volume_group("labcap", RemoveOptions(force=True))
    assert not [c for c in _commands(tmp_path) if c.startswith("vgremove")]


async def test_records_name_each_devices_lun_and_pv(host, tmp_path, monkeypatch):
    """A /dev name can belong to another disk after a reboot: a record carries
    the LUN (WWID) and PV (UUID) of each device it names, for the recovery."""
    intents = Intents(tmp_path / "state")
    engine = host(IN_A_VG, intents)
    await engine.refresh()
    recorded = []
    begin = intents.begin

    async def keep(kind, **data):
        recorded.append((kind, data))
        return await begin(kind, **data)
    monkeypatch.setattr(intents, "begin", keep)
    await engine.remove_volume_group("labcap", RemoveOptions(force=True))
    ((kind, data),) = recorded
    pvs = {row["pv_name"]: row["pv_uuid"] for row in parse_report(
        (DATA / IN_A_VG).read_text().split("# stdout:\n", 1)[1]
        .split("# stderr:\n", 1)[0]).pvs}
    assert kind == "remove-vg" and sorted(data["devices"]) == sorted(pvs)
    assert data["ids"] == {device: {"wwid": device.rsplit("/", 1)[1], "pv": uuid}
                           for device, uuid in pvs.items()}


# ---- the data moved off a PV ----

FAKE_PVMOVE_LVM = """#!/bin/bash
# lvm for the move tests: pvmove reports progress, and stops when aborted.
dir=@DIR@
echo "$1 $*" >> $dir/lvm.log
case "$1" in
  fullreport) sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d' ;;
  pvmove)
    if [[ " $* " == *" --abort "* ]]; then touch $dir/aborted; exit 0; fi
    echo "  /dev/x: Moved: 50.00%"
    for i in $(seq 1 50); do
      [ -e $dir/aborted ] && exit 5
      [ -e $dir/slow ] || break
      sleep 0.1
    done
    echo "  /dev/x: Moved: 100.00%" ;;
esac
exit 0
"""


@pytest.fixture
def mover(tmp_path):
    lvm = script(tmp_path / "lvm", FAKE_PVMOVE_LVM.replace("@DIR@", str(tmp_path)).replace(
        "@REPORT@", str(DATA / IN_A_VG)))
    return lvm_engine(tmp_path, lvm, tools=TOOLS), tmp_path


async def _start_move(engine):
    await engine.refresh()
    pv = sorted(engine.store.all(PhysicalVolume).values(), key=lambda p: p.device)[0]
    job_id = await engine.remove_physical_volume(
        "labcap", pv.uuid, RemovePhysicalVolumeOptions(move_data=True), 0)
    progress = []
    engine.store.subscribe(lambda changes: progress.extend(
        m.progress for m in changes.upserts if m.KIND == "Job"))
    completed = []
    engine.store.subscribe(lambda changes: completed.extend(changes.completed))
    return job_id, pv, progress, completed


async def test_move_data_runs_pvmove_as_a_job_with_its_progress(mover):
    engine, tmp_path = mover
    job_id, pv, progress, completed = await _start_move(engine)
    for _ in range(100):
        if completed:
            break
        await asyncio.sleep(0.05)
    assert completed == [(job_id, True, "")]
    assert 0.5 in progress and progress[-1] == 1.0
    calls = [line.split()[0] for line in (tmp_path / "lvm.log").read_text().splitlines()]
    assert calls[-4:-1] == ["pvmove", "vgreduce", "pvremove"] or \
        calls[1:4] == ["pvmove", "vgreduce", "pvremove"]
    assert "--atomic" in (tmp_path / "lvm.log").read_text()


async def test_a_cancelled_move_is_aborted_and_keeps_the_pv(mover):
    engine, tmp_path = mover
    (tmp_path / "slow").touch()
    job_id, pv, progress, completed = await _start_move(engine)
    await asyncio.sleep(0.5)
    engine.cancel_job(job_id)
    for _ in range(100):
        if completed:
            break
        await asyncio.sleep(0.05)
    assert completed and completed[0][:2] == (job_id, False)
    assert "cancelled" in completed[0][2]
    log = (tmp_path / "lvm.log").read_text()
    assert "--abort" in log and "vgreduce" not in log and "pvremove" not in log


async def test_a_grown_pv_is_resized_with_our_config_and_its_vgs_devices(tmp_path):
    """pvresize is an LVM command like the others: our --config, the VG's
    devices, the VG's lock, LVM's errors mapped."""
    log = tmp_path / "argv.log"
    lvm = script(tmp_path / "lvm", '#!/bin/sh\necho "$*" >> %s\n[ "$1" = fullreport ] && '
                 "sed -n '/^# stdout:$/,/^# stderr:$/p' %s | sed '1d;$d'\nexit 0\n"
                 % (log, DATA / IN_A_VG))
    engine = lvm_engine(tmp_path, lvm)
    await engine.refresh()
    devices = sorted(pv_devices(IN_A_VG))
    log.write_text("")
    await engine.resize_pv(devices[0])
    (resize,) = [line for line in log.read_text().splitlines()
                 if line.startswith("pvresize")]
    assert resize == (f"pvresize --config {CONFIG} --devices {','.join(devices)} "
                      f"-- {devices[0]}")

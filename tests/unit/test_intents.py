"""Intent records (engine/intents.py) and the LVM engine's recovery from a daemon
that died mid-change (host_lvm.LvmMixin._recover), on LVM's real captured output."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from solidice_storage.engine.blockdev import Disk
from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.intents import Intents
from solidice_storage.engine.lvm import parse_report
from solidice_storage.engine.host.runner import Runner
from solidice_storage.errors import AlreadyExists
from solidice_storage.models import Lun
from solidice_storage.validation import Options

DATA = Path(__file__).parent / "data/lab"
ORPHANS = DATA / "lvm-fullreport-orphans.txt"
IN_A_VG = DATA / "lvm-fullreport-all.txt"


def _ids(devices: list[str]) -> dict:
    """The identities the engine records with each device (the lab's maps are
    named by their WWIDs)."""
    return {device: {"wwid": device.rsplit("/", 1)[1], "pv": None} for device in devices}


def _pv_names(capture: Path) -> list[str]:
    text = capture.read_text().split("# stdout:\n", 1)[1].split("# stderr:\n", 1)[0]
    return [row["pv_name"] for row in parse_report(text).pvs]


async def test_a_record_lives_from_begin_to_end(tmp_path):
    intents = Intents(tmp_path)
    intent = await intents.begin("create-vg", name="vg", labelled=["/dev/a"])
    await intents.step(intent, "pvcreate-done")
    (pending,) = await Intents(tmp_path).pending()          # as a new daemon sees it
    assert (pending.kind, pending.step, pending.data) == (
        "create-vg", "pvcreate-done", {"name": "vg", "labelled": ["/dev/a"]})
    assert oct(os.stat(pending.path).st_mode & 0o777) == "0o600"
    await intents.end(intent)
    assert await Intents(tmp_path).pending() == []


async def test_records_come_back_oldest_first_and_a_broken_one_stays(tmp_path):
    intents = Intents(tmp_path)
    first = await intents.begin("remove-vg", name="a", devices=[])
    second = await intents.begin("remove-vg", name="b", devices=[])
    broken = intents.directory / "999-1-1.json"
    broken.write_text("{not json")
    (intents.directory / "5-1-1.tmp").write_text("{}")      # a write cut short
    assert [i.id for i in await intents.pending()] == [first.id, second.id]
    assert broken.exists() and not (intents.directory / "5-1-1.tmp").exists()


def test_a_crash_point_kills_only_when_asked():
    code = ("from solidice_storage.engine.intents import crash_point\n"
            "crash_point('create-vg:pvcreate-done')\nprint('alive')")
    env = dict(os.environ)
    env.pop("SOLIDICE_CRASH_AT", None)
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True).stdout == "alive\n"
    env["SOLIDICE_CRASH_AT"] = "create-vg:vgcreate-done"
    assert subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True).returncode == 0
    env["SOLIDICE_CRASH_AT"] = "create-vg:pvcreate-done"
    assert subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True).returncode == -9


FAKE_LVM = """#!/bin/bash
# lvm for the recovery tests: logs each command; reports what @REPORT@ holds;
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
def host(tmp_path, monkeypatch):
    def make(report: Path) -> HostEngine:
        script = tmp_path / "lvm"
        script.write_text(FAKE_LVM.replace("@DIR@", str(tmp_path))
                          .replace("@REPORT@", str(report)))
        script.chmod(0o755)
        monkeypatch.setattr("solidice_storage.engine.host_lvm._exists", lambda path: True)
        engine = HostEngine(Runner({"lvm": str(script), "dmsetup": "/bin/true",
                                    "udevadm": "/bin/true"}), state_dir=tmp_path / "state")
        engine._disks = [Disk(name=f"dm-{i}", node=device, size=64 << 20,
                              wwid=device.rsplit("/", 1)[1], multipath=True)
                         for i, device in enumerate(_pv_names(report))]
        return engine
    return make


def _commands(tmp_path) -> list[str]:
    return (tmp_path / "lvm.log").read_text().splitlines()


async def test_labels_left_by_a_create_that_died_are_wiped_at_the_next_start(host, tmp_path):
    labelled = _pv_names(ORPHANS)                # the report shows both in no VG
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="vg", labelled=labelled, ids=_ids(labelled))
    engine = host(ORPHANS)
    await engine._recover()
    (pvremove,) = [c for c in _commands(tmp_path) if c.startswith("pvremove")]
    assert pvremove.endswith("-y -- " + " ".join(sorted(labelled)))
    assert "--devices " + ",".join(labelled) in [c for c in _commands(tmp_path)
                                                  if c.startswith("fullreport")][0]
    assert await intents.pending() == []


async def test_a_create_that_completed_before_the_crash_is_kept(host, tmp_path):
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="labcap", labelled=_pv_names(IN_A_VG),
                        ids=_ids(_pv_names(IN_A_VG)))
    engine = host(IN_A_VG)                        # both PVs are in VG labcap
    await engine._recover()
    assert not [c for c in _commands(tmp_path) if c.startswith("pvremove")]
    assert await intents.pending() == []


async def test_a_failed_vgcreate_wipes_the_labels_its_pvcreate_wrote(host, tmp_path):
    engine = host(ORPHANS)
    devices = _pv_names(ORPHANS)
    engine.store.publish([Lun(wwid=d.rsplit("/", 1)[1], device=d, size=64 << 20)
                          for d in devices])
    (tmp_path / "vgcreate-fails").touch()
    with pytest.raises(AlreadyExists):
        await engine.create_volume_group("vg", [d.rsplit("/", 1)[1] for d in devices],
                                         Options())
    commands = [c.split()[0] for c in _commands(tmp_path)]
    assert commands == ["vgs", "pvcreate", "vgcreate", "fullreport", "pvremove"]
    assert await Intents(tmp_path / "state").pending() == []


async def test_a_name_lvm_sees_on_any_device_is_refused_before_any_label(host, tmp_path):
    """The model may not know a VG yet (one just made, by us or outside): LVM is
    asked over every device, and the name taken means no label is written."""
    engine = host(ORPHANS)
    devices = _pv_names(ORPHANS)
    engine.store.publish([Lun(wwid=d.rsplit("/", 1)[1], device=d, size=64 << 20)
                          for d in devices])
    (tmp_path / "vgs.json").write_text('{"report": [{"vg": [{"vg_name": "vg", '
                                       '"vg_uuid": "elsewhere"}]}]}')
    with pytest.raises(AlreadyExists):
        await engine.create_volume_group("vg", [devices[0].rsplit("/", 1)[1]], Options())
    (vgs,) = _commands(tmp_path)
    assert vgs.startswith("vgs ") and "--devices" not in vgs


async def test_a_new_vg_is_the_one_on_its_own_devices(host, tmp_path):
    """Its UUID comes from LVM's report of exactly the devices vgcreate was given."""
    engine = host(ORPHANS)
    devices = _pv_names(ORPHANS)
    engine.store.publish([Lun(wwid=d.rsplit("/", 1)[1], device=d, size=64 << 20)
                          for d in devices])
    (tmp_path / "vgs.json").write_text('{"report": [{"vg": []}]}')
    script = tmp_path / "lvm"
    script.write_text(script.read_text().replace(
        "  vgs)", "  vgs) [[ \" $* \" == *\" --devices \"* ]] && "
        "echo '{\"report\": [{\"vg\": [{\"vg_name\": \"vg\", \"vg_uuid\": "
        "\"ours\"}]}]}' && exit 0;"))
    assert await engine.create_volume_group("vg", [devices[0].rsplit("/", 1)[1]],
                                            Options()) == "ours"
    reads = [c for c in _commands(tmp_path) if c.startswith("vgs ")]
    assert "--devices" not in reads[0] and f"--devices {devices[0]} " in reads[1]


def test_the_vgs_under_root_through_a_luks_device(tmp_path):
    """/ on dm-2 (crypt) on dm-1 (an LV of VG aaaa…), as sysfs and mountinfo show it."""
    from solidice_storage.engine.blockdev import vgs_under
    sys_block = tmp_path / "sys/devices/virtual/block"
    vg, lv = "a" * 32, "b" * 32
    for name, uuid, slaves in (("dm-2", "CRYPT-LUKS2-x", ["dm-1"]),
                               ("dm-1", f"LVM-{vg}{lv}", ["sda"]), ("sda", None, [])):
        (sys_block / name / "slaves").mkdir(parents=True)
        if uuid:
            (sys_block / name / "dm").mkdir()
            (sys_block / name / "dm/uuid").write_text(uuid + "\n")
        for slave in slaves:
            (sys_block / name / "slaves" / slave).symlink_to(sys_block / slave)
    (tmp_path / "sys/dev/block").mkdir(parents=True)
    (tmp_path / "sys/dev/block/254:2").symlink_to(sys_block / "dm-2")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("20 1 0:5 / / rw - tmpfs none rw\n"
                         "21 1 254:2 / / rw,relatime - ext4 /dev/mapper/root rw\n"
                         "22 21 254:3 / /home rw - ext4 /dev/x rw\n")
    assert vgs_under("/", str(mountinfo), str(tmp_path / "sys")) == {vg}
    assert vgs_under("/home", str(mountinfo), str(tmp_path / "sys")) == set()


async def test_the_root_vg_is_never_removed(host, tmp_path, monkeypatch):
    from solidice_storage.errors import Busy
    engine = host(IN_A_VG)
    await engine.refresh_lvm()
    monkeypatch.setattr("solidice_storage.engine.blockdev.vgs_under",
                        lambda mount_point: {"Fwx8ijJkdexft9I7a2I40o4zPuV5ViaD"})
    with pytest.raises(Busy, match="root filesystem"):
        await engine.remove_volume_group("labcap", Options({"force": True}))
    assert not [c for c in _commands(tmp_path) if c.startswith("vgremove")]


async def test_an_lv_of_a_vg_we_did_not_create_needs_force(host, tmp_path):
    from solidice_storage.errors import InvalidArgument
    from solidice_storage.models import VolumeGroup
    engine = host(IN_A_VG)
    await engine.refresh_lvm()
    vg = engine.store.get(VolumeGroup, "Fwx8ij-Jkde-xft9-I7a2-I40o-4zPu-V5ViaD")
    engine.store.publish([vg.model_copy(update={"managed": False})])
    with pytest.raises(InvalidArgument, match="force"):
        await engine.remove_logical_volume("labcap/lv2", Options())
    assert not [c for c in _commands(tmp_path) if c.startswith("lvremove")]
    await engine.remove_logical_volume("labcap/lv2", Options({"force": True}))
    assert [c for c in _commands(tmp_path) if c.startswith("lvremove")]


async def test_records_name_each_devices_lun_and_pv(host, tmp_path, monkeypatch):
    """A /dev name can belong to another disk after a reboot: a record carries
    the LUN (WWID) and PV (UUID) of each device it names, for the recovery."""
    engine = host(IN_A_VG)
    await engine.refresh_lvm()
    recorded = []
    begin = engine.intents.begin

    async def keep(kind, **data):
        recorded.append((kind, data))
        return await begin(kind, **data)
    monkeypatch.setattr(engine.intents, "begin", keep)
    await engine.remove_volume_group("labcap", Options({"force": True}))
    ((kind, data),) = recorded
    pvs = {row["pv_name"]: row["pv_uuid"] for row in parse_report(
        IN_A_VG.read_text().split("# stdout:\n", 1)[1].split("# stderr:\n", 1)[0]).pvs}
    assert kind == "remove-vg" and sorted(data["devices"]) == sorted(pvs)
    assert data["ids"] == {device: {"wwid": device.rsplit("/", 1)[1], "pv": uuid}
                           for device, uuid in pvs.items()}

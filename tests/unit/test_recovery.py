"""Recovery at start-up from a daemon that died mid-change (intents.py): the LVM
domain's recovery (the other domains' are in tests/unit/<domain>/). LVM's recoveries run on reports
shaped as LVM's own (a pvmove in progress shows as an LV with attribute `p`)."""

import json

import pytest

from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.host.runner import Runner
from solidice_storage.engine.intents import Intents


# ---- LVM: a PV removal with its data moved ----

VG_UUID = "Fwx8ij-Jkde-xft9-I7a2-I40o-4zPu-V5ViaD"
MOVED, OTHER = "/dev/mapper/moved", "/dev/mapper/other"
MOVED_WWID, OTHER_WWID = "36001405" + "m" * 25, "36001405" + "o" * 25
# what the engine records with a device: its LUN's WWID and its PV's UUID
MOVED_IDS = {MOVED: {"wwid": MOVED_WWID, "pv": "p1"}}


def report(moving: bool, used: int, in_vg: bool = True) -> str:
    def pv(name, uuid, pv_used, member=True):
        return {"pv_name": name, "pv_uuid": uuid, "pv_size": "67108864",
                "pv_free": str(67108864 - pv_used), "pv_used": str(pv_used),
                "vg_uuid": VG_UUID if member else "", "vg_name": "vg" if member else ""}
    lvs = [{"lv_name": "data", "lv_uuid": "lv1", "vg_uuid": VG_UUID, "vg_name": "vg",
            "lv_size": "41943040", "lv_path": "/dev/vg/data", "lv_attr": "-wi-a-----",
            "origin_uuid": "", "lv_role": "public"}]
    if moving:
        lvs.append({**lvs[0], "lv_name": "[pvmove0]", "lv_uuid": "mv",
                    "lv_attr": "p-C-aom---", "lv_role": "private,pvmove"})
    vg = {"vg_name": "vg", "vg_uuid": VG_UUID, "vg_size": "134217728",
          "vg_free": "92274688", "vg_extent_size": "4194304",
          "vg_tags": "org.solidice.storage", "vg_attr": "wz--n-"}
    entries = [{"vg": [vg], "pv": [pv(MOVED, "p1", used, in_vg), pv(OTHER, "p2", 41943040)]
                if in_vg else [pv(OTHER, "p2", 41943040)], "lv": lvs}]
    if not in_vg:
        entries.append({"vg": [], "pv": [pv(MOVED, "p1", 0, False)], "lv": []})
    return json.dumps({"report": entries})


FAKE_LVM = """#!/bin/bash
# lvm for the recovery tests: logs each command; reports $dir/report.json, and
# `lvs -a` (hidden LVs: a pvmove's) $dir/lvs.json; a pvmove --abort or a vgreduce
# turns them into the reports that follow.
dir=@DIR@
echo "$*" >> $dir/lvm.log
case "$1" in
  fullreport) cat $dir/report.json ;;
  lvs) cat $dir/lvs.json ;;
  pvmove) cp $dir/aborted.json $dir/report.json; cp $dir/aborted.json $dir/lvs.json ;;
  vgreduce) cp $dir/reduced.json $dir/report.json ;;
  lvmconfig) echo use_devicesfile=0 ;;
esac
exit 0
"""


@pytest.fixture
def lvm_host(tmp_path, monkeypatch):
    script = tmp_path / "lvm"
    script.write_text(FAKE_LVM.replace("@DIR@", str(tmp_path)))
    script.chmod(0o755)
    (tmp_path / "aborted.json").write_text(report(moving=False, used=41943040))
    (tmp_path / "reduced.json").write_text(report(moving=False, used=0, in_vg=False))
    monkeypatch.setattr("solidice_storage.engine.host_lvm._exists", lambda path: True)
    from solidice_storage.engine.blockdev import Disk
    engine = HostEngine(Runner({"lvm": str(script), "dmsetup": "/bin/true",
                                "udevadm": "/bin/true"}), state_dir=tmp_path / "state")
    engine._disks = [Disk(name=f"dm-{i}", node=node, size=64 << 20, wwid=wwid,
                          multipath=True, status="pv")
                     for i, (node, wwid) in enumerate(((MOVED, MOVED_WWID),
                                                       (OTHER, OTHER_WWID)))]
    return engine


@pytest.mark.parametrize("step, moving, used, commands", [
    ("started", False, 41943040, []),                         # not begun: left
    ("moving", True, 41943040, ["pvmove --abort"]),           # aborted: data stays
    ("moving", False, 0, ["vgreduce", "pvremove"]),           # done meanwhile: finished
    ("pvmove-done", False, 0, ["vgreduce", "pvremove"]),      # moved: finished
])
async def test_a_pv_removal_killed_mid_move_is_aborted_or_finished(
        tmp_path, lvm_host, step, moving, used, commands):
    (tmp_path / "report.json").write_text(report(False, used))   # fullreport: no pvmove
    (tmp_path / "lvs.json").write_text(report(moving, used))
    intents = Intents(tmp_path / "state")
    intent = await intents.begin("remove-pv", name="vg", devices=[MOVED], move=True,
                                 ids=MOVED_IDS)
    if step != "started":
        await intents.step(intent, step)
    await lvm_host._recover()
    changes = [line for line in (tmp_path / "lvm.log").read_text().splitlines()
               if line.split()[0] in ("pvmove", "vgreduce", "pvremove")]
    assert [c.split()[0] + (" --abort" if "--abort" in c else "")
            for c in changes] == commands
    if "vgreduce" in commands:
        assert changes[0].endswith(f"-- vg {MOVED}")
        assert changes[1].endswith(f"-y -- {MOVED}")
    assert await intents.pending() == []


async def test_a_snapshot_record_is_only_dropped(tmp_path, lvm_host):
    (tmp_path / "report.json").write_text(report(False, 41943040))
    intents = Intents(tmp_path / "state")
    await intents.begin("snapshot-lv", name="vg", origin="data", snapshot="snap")
    await lvm_host.refresh_lvm()
    await lvm_host._recover()
    commands = [line.split()[0] for line in (tmp_path / "lvm.log").read_text().splitlines()]
    assert set(commands) == {"fullreport"}
    assert await intents.pending() == []


def gone_report() -> str:
    """The VG after the PV left it and its label was wiped: only the other PV."""
    entries = json.loads(report(moving=False, used=0, in_vg=False))["report"]
    return json.dumps({"report": entries[:1]})


@pytest.mark.parametrize("kind, step, orphan, commands", [
    ("remove-pv", "vgreduce-done", True, ["pvremove"]),  # out, its label left: wiped
    ("remove-pv", "before-end", False, []),          # done: nothing left to do
    ("remove-vg", "vgremove-done", True, ["pvremove"]),  # its label left: wiped
    ("remove-vg", "before-end", False, []),
])
async def test_a_removal_killed_after_its_last_command_only_loses_its_record(
        tmp_path, lvm_host, kind, step, orphan, commands):
    text = report(moving=False, used=0, in_vg=False) if orphan else gone_report()
    (tmp_path / "report.json").write_text(text)
    (tmp_path / "lvs.json").write_text(text)
    intents = Intents(tmp_path / "state")
    intent = await intents.begin(kind, name="vg", devices=[MOVED], ids=MOVED_IDS)
    await intents.step(intent, step)
    await lvm_host._recover()
    changes = [line.split()[0] for line in (tmp_path / "lvm.log").read_text().splitlines()
               if line.split()[0] in ("pvmove", "vgreduce", "pvremove")]
    assert changes == commands
    assert await intents.pending() == []


# ---- LVM: devices found again by their LUN, not by their names ----

WWID_1, WWID_2 = "36001405" + "1" * 25, "36001405" + "2" * 25


def orphans(*devices: str, uuid: str = "pv-") -> str:
    """A report of PVs in no VG on `devices`."""
    return json.dumps({"report": [{"vg": [], "lv": [], "pv": [
        {"pv_name": device, "pv_uuid": uuid + device.rsplit("/", 1)[1], "pv_size": "67108864",
         "pv_free": "67108864", "pv_used": "0", "vg_uuid": "", "vg_name": ""}
        for device in devices]}]})


def plain_disks(**names: str):
    """Disks without multipath, kernel name → WWID, as a scan after a reboot sees them."""
    from solidice_storage.engine.blockdev import Disk
    return [Disk(name=name, node=f"/dev/{name}", size=64 << 20, wwid=wwid, status="pv",
                 fs_type="LVM2_member") for name, wwid in names.items()]


def pvremoves(tmp_path) -> list[str]:
    return [line for line in (tmp_path / "lvm.log").read_text().splitlines()
            if line.startswith(("pvremove", "vgreduce"))]


async def test_a_device_name_now_on_another_lun_is_left_alone(tmp_path, lvm_host, caplog):
    """Labels written on /dev/sdb (LUN 1) for a VG that never came to be; after a
    reboot /dev/sdb is LUN 2, an orphan PV of someone else's, and LUN 1 is gone."""
    (tmp_path / "report.json").write_text(orphans("/dev/sdb"))
    lvm_host._disks = plain_disks(sdb=WWID_2)
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="vg", labelled=["/dev/sdb"],
                        ids={"/dev/sdb": {"wwid": WWID_1, "pv": None}})
    await lvm_host._recover()
    assert pvremoves(tmp_path) == []
    assert WWID_1 in caplog.text and "left alone" in caplog.text
    assert await intents.pending() == []


async def test_a_lun_that_moved_to_another_name_is_found_there(tmp_path, lvm_host, caplog):
    """LUN 1 was /dev/sdb and is now /dev/sdc; /dev/sdb is LUN 2, another orphan."""
    (tmp_path / "report.json").write_text(orphans("/dev/sdb", "/dev/sdc"))
    lvm_host._disks = plain_disks(sdb=WWID_2, sdc=WWID_1)
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="vg", labelled=["/dev/sdb"],
                        ids={"/dev/sdb": {"wwid": WWID_1, "pv": None}})
    await lvm_host._recover()
    (pvremove,) = pvremoves(tmp_path)
    assert pvremove.endswith("-y -- /dev/sdc") and "/dev/sdb" not in pvremove
    assert "/dev/sdc" in caplog.text
    assert await intents.pending() == []


async def test_a_pv_relabelled_since_the_record_is_left_alone(tmp_path, lvm_host, caplog):
    """A VG removal recorded PV `old` on LUN 1; the label there now is another PV."""
    (tmp_path / "report.json").write_text(orphans("/dev/sdb", uuid="new-"))
    lvm_host._disks = plain_disks(sdb=WWID_1)
    intents = Intents(tmp_path / "state")
    intent = await intents.begin("remove-vg", name="vg", devices=["/dev/sdb"],
                                 ids={"/dev/sdb": {"wwid": WWID_1, "pv": "old-sdb"}})
    await intents.step(intent, "vgremove-done")
    await lvm_host._recover()
    assert pvremoves(tmp_path) == []
    assert "old-sdb" in caplog.text

# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/recovery.py: the LVM changes a daemon that died mid-change left
recorded, finished or undone at the next start; on LVM's real captured output and
on reports shaped as LVM's own (a pvmove in progress shows as an LV with
attribute `p`)."""

import json

import pytest

from solidice_storage.engine.host.lvm.commands import CONFIG
from solidice_storage.engine.intents import Intents

from .fakes import DATA, Luns, lvm_engine, pv_devices, script

TOOLS = {"dmsetup": "/bin/true", "udevadm": "/bin/true"}
ORPHANS = "lvm-fullreport-orphans.txt"
IN_A_VG = "lvm-fullreport-all.txt"


def _ids(devices: list[str]) -> dict:
    """The identities the engine records with each device (the lab's maps are
    named by their WWIDs)."""
    return {device: {"wwid": device.rsplit("/", 1)[1], "pv": None} for device in devices}


CAPTURED_LVM = """#!/bin/bash
# lvm for the label tests: logs each command; reports what @REPORT@ holds.
echo "$*" >> @DIR@/lvm.log
[ "$1" = fullreport ] && sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d'
exit 0
"""


@pytest.fixture
def host(tmp_path):
    def make(capture: str):
        lvm = script(tmp_path / "lvm", CAPTURED_LVM.replace("@DIR@", str(tmp_path))
                     .replace("@REPORT@", str(DATA / capture)))
        return lvm_engine(tmp_path, lvm, Luns.named_by_wwid(pv_devices(capture)),
                          tools=TOOLS, device_exists=lambda path: True)
    return make


def _commands(tmp_path) -> list[str]:
    return (tmp_path / "lvm.log").read_text().splitlines()


async def test_labels_left_by_a_create_that_died_are_wiped_at_the_next_start(host, tmp_path):
    labelled = pv_devices(ORPHANS)               # the report shows both in no VG
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="vg", labelled=labelled, ids=_ids(labelled))
    engine = host(ORPHANS)
    await engine.recovery.recover()
    (pvremove,) = [c for c in _commands(tmp_path) if c.startswith("pvremove")]
    assert pvremove.endswith("-y -- " + " ".join(sorted(labelled)))
    assert "--devices " + ",".join(labelled) in [c for c in _commands(tmp_path)
                                                  if c.startswith("fullreport")][0]
    assert await intents.pending() == []


async def test_a_create_killed_before_its_pvcreate_wipes_nothing(host, tmp_path):
    """create-vg:started: the record names devices no label was written to yet
    (the report's PVs are other devices): nothing is run, the record goes."""
    fresh = ["/dev/mapper/36001405" + "f" * 25]
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="vg", labelled=fresh, ids=_ids(fresh))
    engine = host(ORPHANS)
    await engine.recovery.recover()
    assert not [c for c in _commands(tmp_path) if c.startswith("pvremove")]
    assert await intents.pending() == []


@pytest.mark.parametrize("step", [None, "vgcreate-done", "before-end"])
async def test_a_create_that_completed_before_the_crash_is_kept(host, tmp_path, step):
    intents = Intents(tmp_path / "state")
    intent = await intents.begin("create-vg", name="labcap", labelled=pv_devices(IN_A_VG),
                                 ids=_ids(pv_devices(IN_A_VG)))
    if step:
        await intents.step(intent, step)
    engine = host(IN_A_VG)                        # both PVs are in VG labcap
    await engine.recovery.recover()
    assert not [c for c in _commands(tmp_path) if c.startswith("pvremove")]
    assert await intents.pending() == []


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
def lvm_host(tmp_path):
    """An LvmEngine over FAKE_LVM on the LUNs `luns` names (device node → WWID;
    by default the VG's two maps), each device node there."""
    lvm = script(tmp_path / "lvm", FAKE_LVM.replace("@DIR@", str(tmp_path)))
    (tmp_path / "aborted.json").write_text(report(moving=False, used=41943040))
    (tmp_path / "reduced.json").write_text(report(moving=False, used=0, in_vg=False))

    def make(luns: dict[str, str] | None = None):
        return lvm_engine(tmp_path, lvm, Luns(luns or {MOVED: MOVED_WWID, OTHER: OTHER_WWID}),
                          tools=TOOLS, device_exists=lambda path: True)
    return make


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
    await lvm_host().recovery.recover()
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
    engine = lvm_host()
    await engine.refresh()
    await engine.recovery.recover()
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
    await lvm_host().recovery.recover()
    changes = [line.split()[0] for line in (tmp_path / "lvm.log").read_text().splitlines()
               if line.split()[0] in ("pvmove", "vgreduce", "pvremove")]
    assert changes == commands
    assert await intents.pending() == []


async def test_a_vg_removal_killed_before_vgremove_leaves_the_vg_whole(tmp_path, lvm_host):
    """remove-vg:started: the VG is still there with its PVs: nothing is run, the
    record goes."""
    text = report(moving=False, used=0)
    (tmp_path / "report.json").write_text(text)
    (tmp_path / "lvs.json").write_text(text)
    intents = Intents(tmp_path / "state")
    await intents.begin("remove-vg", name="vg", devices=[MOVED], ids=MOVED_IDS)
    await lvm_host().recovery.recover()
    changes = [line.split()[0] for line in (tmp_path / "lvm.log").read_text().splitlines()
               if line.split()[0] in ("vgremove", "vgreduce", "pvremove", "pvmove")]
    assert changes == []
    assert await intents.pending() == []


# ---- LVM: devices found again by their LUN, not by their names ----

WWID_1, WWID_2 = "36001405" + "1" * 25, "36001405" + "2" * 25


def orphans(*devices: str, uuid: str = "pv-") -> str:
    """A report of PVs in no VG on `devices`."""
    return json.dumps({"report": [{"vg": [], "lv": [], "pv": [
        {"pv_name": device, "pv_uuid": uuid + device.rsplit("/", 1)[1], "pv_size": "67108864",
         "pv_free": "67108864", "pv_used": "0", "vg_uuid": "", "vg_name": ""}
        for device in devices]}]})


def plain_disks(**names: str) -> dict[str, str]:
    """Disks without multipath, kernel name → WWID, as a scan after a reboot sees
    them: their nodes' LUNs."""
    return {f"/dev/{name}": wwid for name, wwid in names.items()}


def pvremoves(tmp_path) -> list[str]:
    return [line for line in (tmp_path / "lvm.log").read_text().splitlines()
            if line.startswith(("pvremove", "vgreduce"))]


async def test_a_device_name_now_on_another_lun_is_left_alone(tmp_path, lvm_host, caplog):
    """Labels written on /dev/sdb (LUN 1) for a VG that never came to be; after a
    reboot /dev/sdb is LUN 2, an orphan PV of someone else's, and LUN 1 is gone."""
    (tmp_path / "report.json").write_text(orphans("/dev/sdb"))
    engine = lvm_host(plain_disks(sdb=WWID_2))
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="vg", labelled=["/dev/sdb"],
                        ids={"/dev/sdb": {"wwid": WWID_1, "pv": None}})
    await engine.recovery.recover()
    assert pvremoves(tmp_path) == []
    assert WWID_1 in caplog.text and "left alone" in caplog.text
    assert await intents.pending() == []


async def test_a_lun_that_moved_to_another_name_is_found_there(tmp_path, lvm_host, caplog):
    """LUN 1 was /dev/sdb and is now /dev/sdc; /dev/sdb is LUN 2, another orphan."""
    (tmp_path / "report.json").write_text(orphans("/dev/sdb", "/dev/sdc"))
    engine = lvm_host(plain_disks(sdb=WWID_2, sdc=WWID_1))
    intents = Intents(tmp_path / "state")
    await intents.begin("create-vg", name="vg", labelled=["/dev/sdb"],
                        ids={"/dev/sdb": {"wwid": WWID_1, "pv": None}})
    await engine.recovery.recover()
    (pvremove,) = pvremoves(tmp_path)
    assert pvremove.endswith("-y -- /dev/sdc") and "/dev/sdb" not in pvremove
    assert "/dev/sdc" in caplog.text
    assert await intents.pending() == []


async def test_a_pv_relabelled_since_the_record_is_left_alone(tmp_path, lvm_host, caplog):
    """A VG removal recorded PV `old` on LUN 1; the label there now is another PV."""
    (tmp_path / "report.json").write_text(orphans("/dev/sdb", uuid="new-"))
    engine = lvm_host(plain_disks(sdb=WWID_1))
    intents = Intents(tmp_path / "state")
    intent = await intents.begin("remove-vg", name="vg", devices=["/dev/sdb"],
                                 ids={"/dev/sdb": {"wwid": WWID_1, "pv": "old-sdb"}})
    await intents.step(intent, "vgremove-done")
    await engine.recovery.recover()
    assert pvremoves(tmp_path) == []
    assert "old-sdb" in caplog.text


@pytest.mark.parametrize("renamed, refreshed", [("labcap", True), ("other", False)])
async def test_a_vg_rename_cut_short_refreshes_the_maps_under_the_new_name(
        host, tmp_path, renamed, refreshed):
    """The report has the VG as `labcap`: renamed from `old` when the record's new
    name is labcap (its maps refreshed, in case vgrename left them), not renamed
    (nothing to do) when the record names another."""
    intents = Intents(tmp_path / "state")
    devices = pv_devices(IN_A_VG)
    await intents.begin("rename-vg", name="old" if refreshed else "labcap", new=renamed,
                        devices=devices)
    engine = host(IN_A_VG)
    await engine.refresh()
    await engine.recovery.recover()
    refreshes = [c for c in _commands(tmp_path) if c.startswith("vgchange")]
    assert refreshes == ([f"vgchange --config {CONFIG} --devices {','.join(devices)} "
                          "--refresh -- labcap"] if refreshed else [])
    assert await intents.pending() == []

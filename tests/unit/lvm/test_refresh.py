# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/refresh.py: the model kept current, and changes made outside the
service noticed (backups, labels, activations) with one report each, and none for
the echo of our own change; over a stand-in `lvm` answering with LVM's real
report."""

import asyncio

from solidice_storage.models import LogicalVolume, PhysicalVolume

from .fakes import DATA, Luns, lvm_engine, pv_devices, script

FAKE_LVM = """#!/bin/sh
# Stands in for lvm: logs the command, answers every report with the captured one.
echo "$1" >> @LOG@
[ "$1" = fullreport ] && sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d'
exit 0
"""


def fake_lvm(tmp_path, capture: str = "lvm-fullreport-all.txt", **kwargs):
    """An LvmEngine whose lvm is FAKE_LVM, its backups in tmp_path/backup, a quick
    debounce; and the log of the commands it ran."""
    log = tmp_path / "lvm.log"
    lvm = script(tmp_path / "lvm", FAKE_LVM.replace("@LOG@", str(log)).replace(
        "@REPORT@", str(DATA / capture)))
    (tmp_path / "backup").mkdir(exist_ok=True)
    engine = lvm_engine(tmp_path, lvm, backup_dir=tmp_path / "backup", debounce=0.01,
                        **kwargs)
    return engine, log


def taken(log) -> list[str]:
    """The commands run since the last look."""
    done = log.read_text().split() if log.exists() else []
    log.write_text("")
    return done


async def test_labels_udev_sees_that_lvm_did_not_report_cause_one_full_refresh(tmp_path):
    capture = "lvm-fullreport-orphans.txt"
    engine, log = fake_lvm(tmp_path, capture, luns=Luns.named_by_wwid(pv_devices(capture)))
    await engine.refresh()
    taken(log)
    modelled = {pv.lun for pv in engine.store.all(PhysicalVolume).values()}
    wiped = set(sorted(modelled)[1:])         # one label wiped by hand
    engine.labels_seen(wiped)
    await asyncio.sleep(0.2)
    assert taken(log) == []                   # not started: the first report is coming
    await engine.start([])
    taken(log)
    engine.labels_seen(modelled)
    await asyncio.sleep(0.2)
    assert taken(log) == []                   # agreement
    engine.labels_seen(wiped)
    engine.labels_seen(wiped)                 # udev still says so: not chased again
    await asyncio.sleep(0.2)
    assert taken(log) == ["fullreport"]
    engine.labels_seen(modelled)
    engine.labels_seen(wiped)
    await asyncio.sleep(0.2)
    assert taken(log) == ["fullreport"]
    await engine.close()


async def test_the_echo_of_our_own_change_runs_no_second_report(tmp_path):
    """LVM rewrites /etc/lvm/backup/<vg> for our own commands too: the inotify
    event of a backup the last refresh already read runs nothing."""
    engine, log = fake_lvm(tmp_path)
    backups = tmp_path / "backup"
    (backups / "labcap").write_text("metadata 1")
    await engine.refresh(["labcap"])
    log.write_text("")
    engine.refresher.later("labcap")                 # the echo
    await asyncio.sleep(0.2)
    assert log.read_text() == ""
    (backups / "labcap").write_text("metadata 2, written by someone else")
    engine.refresher.later("labcap")
    await asyncio.sleep(0.5)
    assert log.read_text().split() == ["fullreport"]


async def test_the_echo_during_our_own_change_waits_for_its_refresh(tmp_path):
    """lvcreate writes the backup long before it exits (activation, udev sync): the
    event must wait for our change's own refresh rather than run a report of its own."""
    engine, log = fake_lvm(tmp_path)
    backups = tmp_path / "backup"
    await engine.refresh(["labcap"])
    log.write_text("")
    async with engine.locks("labcap"):                 # our change, mid-command
        (backups / "labcap").write_text("metadata written by our lvcreate")
        engine.refresher.later("labcap")
        await asyncio.sleep(0.2)
        assert log.read_text() == ""                   # deferred
        await engine.refresh(["labcap"])               # the change's own refresh
    await asyncio.sleep(0.2)
    assert log.read_text().split() == ["fullreport"]   # that one only
    assert not engine.refresher.deferred


async def test_an_activation_seen_mid_change_waits_for_the_changes_own_report(tmp_path):
    engine, log = fake_lvm(tmp_path)
    await engine.refresh()
    lv2 = next(lv for lv in engine.store.all(LogicalVolume).values() if lv.name == "lv2")
    seen = {lv.uuid: lv.active for lv in engine.store.all(LogicalVolume).values()}
    seen[lv2.uuid] = True                          # lvchange -ay, seen by udev
    taken(log)
    async with engine.locks("labcap"):             # ... while our Activate runs
        engine.devices_changed(seen, asyncio.get_running_loop().time())
    await asyncio.sleep(0.2)
    assert taken(log) == []
    read_at = asyncio.get_running_loop().time()
    await engine.refresh(["labcap"])               # a report began after that scan read
    taken(log)
    engine.devices_changed(seen, read_at)
    await asyncio.sleep(0.2)
    assert taken(log) == []
    await asyncio.sleep(0.01)
    engine.devices_changed(seen, asyncio.get_running_loop().time())   # made outside
    await asyncio.sleep(0.2)
    assert taken(log) == ["fullreport"]

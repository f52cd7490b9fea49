# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/engine.py: the LVM engine as the host engine uses it: reads answer from
the model and run no LVM, a change runs its command and one report; and the host
engine's rescan resizes a grown PV through it."""

from solidice_storage.engine.host.luns import blockdev
from solidice_storage.engine.host.luns.blockdev import Disk
from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.host.lvm.commands import CONFIG
from solidice_storage.engine.host.runner import Runner
from solidice_storage.engine.reads import Reads
from solidice_storage.models import LogicalVolume, PhysicalVolume
from solidice_storage.options import ExtendLogicalVolumeOptions, Options, RemoveOptions

from .fakes import DATA, VG_UUID, lvm_engine, pv_devices, script

FAKE_LVM = """#!/bin/sh
# Stands in for lvm: logs the command, answers every report with the captured one.
echo "@WHAT@" >> @LOG@
[ "$1" = fullreport ] && sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d'
exit 0
"""


def fake_lvm(tmp_path, what: str = "$1") -> tuple[str, object]:
    log = tmp_path / "lvm.log"
    return script(tmp_path / "lvm", FAKE_LVM.replace("@WHAT@", what).replace(
        "@LOG@", str(log)).replace("@REPORT@", str(DATA / "lvm-fullreport-all.txt"))), log


async def test_reads_run_no_lvm_and_a_change_runs_its_command_and_one_report(tmp_path):
    lvm, log = fake_lvm(tmp_path)
    engine = lvm_engine(tmp_path, lvm, tools={"dmsetup": "/bin/true",
                                              "udevadm": "/bin/true"})
    await engine.refresh()
    log.write_text("")

    def calls() -> list[str]:
        done = log.read_text().split()
        log.write_text("")
        return done

    reads = Reads(engine.store)                  # what the host engine answers with
    assert reads.enumerate_volume_groups() == [VG_UUID]
    assert sorted(reads.list_physical_volumes("labcap")) == sorted(
        engine.store.all(PhysicalVolume))
    assert sorted(reads.list_logical_volumes(VG_UUID)) == sorted(
        engine.store.all(LogicalVolume))
    assert calls() == []
    # no map of lv2 to read back (there is no device-mapper here) in a VG of two
    # PVs: which PV the space came from is known only from a report
    for change, command in (
            (engine.extend_logical_volume("labcap/lv2", 4 << 20,
                                          ExtendLogicalVolumeOptions()), "lvextend"),
            (engine.activate_logical_volume("labcap/lv2", Options()), "lvchange"),
            (engine.deactivate_logical_volume("labcap/lv2", Options()), "lvchange"),
            (engine.remove_logical_volume("labcap/lv2", RemoveOptions()), "lvremove")):
        await change
        assert calls() == [command, "fullreport"], command


async def test_a_rescan_resizes_a_grown_pv_with_our_config_and_its_vgs_devices(
        tmp_path, monkeypatch):
    """The host engine's rescan finds a LUN grown under a PV and has the LVM
    engine run pvresize: our --config, the VG's devices."""
    lvm, log = fake_lvm(tmp_path, "$*")
    devices = sorted(pv_devices("lvm-fullreport-all.txt"))
    wwids = [device.rsplit("/", 1)[1] for device in devices]
    grown = [0]

    def disks() -> list[Disk]:       # udev's database, as a scan reads it
        return [Disk(name=f"dm-{i}", node=device, wwid=wwid, multipath=True, status="pv",
                     size=(64 << 20) + (grown[0] if i == 0 else 0), fs_type="LVM2_member")
                for i, (device, wwid) in enumerate(zip(devices, wwids))]
    monkeypatch.setattr(blockdev, "scan", disks)
    monkeypatch.setattr(blockdev, "volumes", list)
    engine = HostEngine(Runner({"lvm": lvm}), sysfs=tmp_path / "sys",
                        state_dir=tmp_path / "state")
    await engine.scan()
    await engine.lvm.refresh()
    grown[0] = 32 << 20
    log.write_text("")
    await engine.rescan(Options())
    (resize,) = [line for line in log.read_text().splitlines()
                 if line.startswith("pvresize")]
    assert resize == (f"pvresize --config {CONFIG} --devices {','.join(devices)} "
                      f"-- {devices[0]}")

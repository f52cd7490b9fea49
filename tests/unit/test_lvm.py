"""engine/lvm.py and the LVM model of engine/host_lvm.py, on LVM's real output
(tests/unit/data/lab/lvm-*.txt, captured in the kernel lab)."""

from pathlib import Path

import pytest

from solidice_storage.engine.blockdev import Disk
from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.lvm import CONFIG, Lvm, error_for, parse_report
from solidice_storage.engine.host.runner import Result
from solidice_storage.errors import AlreadyExists, Busy, Failed, NoSpace, NotFound
from solidice_storage.models import LogicalVolume, Lun, PhysicalVolume, VolumeGroup

DATA = Path(__file__).parent / "data/lab"
VG_UUID = "Fwx8ij-Jkde-xft9-I7a2-I40o-4zPu-V5ViaD"
ORIGIN = "8BcbdC-zyfs-QOgO-AGxc-eDMd-SEoo-JkkU4H"


def captured(name: str) -> Result:
    text = (DATA / name).read_text()
    head, rest = text.split("# stdout:\n", 1)
    out, err = rest.split("# stderr:\n", 1)
    return Result(int(head.split("# exit ")[1].split()[0]), out, err)


def test_a_vg_with_an_origin_a_snapshot_and_an_inactive_lv():
    report = parse_report(captured("lvm-fullreport-all.txt").stdout)
    (vg,) = report.vgs
    assert (vg["vg_name"], vg["vg_uuid"], vg["vg_tags"]) == ("labcap", VG_UUID,
                                                              "org.solidice.storage")
    assert [lv["lv_name"] for lv in report.lvs] == ["lv1", "lv2", "snap1"]
    assert len(report.pvs) == 2 and all(pv["vg_uuid"] == VG_UUID for pv in report.pvs)


def test_orphan_pvs_have_no_vg():
    report = parse_report(captured("lvm-fullreport-orphans.txt").stdout)
    assert report.vgs == [] and report.lvs == []
    assert [pv["vg_uuid"] for pv in report.pvs] == ["", ""]


def test_a_report_that_is_not_json_is_a_failure():
    with pytest.raises(Failed, match="could not be read"):
        parse_report("  WARNING: something\n")


@pytest.mark.parametrize("name, kind, words", [
    ("lvm-vgcreate-exists.txt", AlreadyExists, "labcap already exists"),
    ("lvm-lvcreate-exists.txt", AlreadyExists, '"lv1" already exists'),
    ("lvm-lvcreate-nospace.txt", NoSpace, "insufficient free space"),
    ("lvm-vgs-missing.txt", NotFound, '"nosuchvg" not found'),
    ("lvm-lvs-missing.txt", NotFound, "Failed to find logical volume"),
    ("lvm-lvremove-open.txt", Busy, "labcap/lv1 in use"),
])
def test_lvm_errors_become_the_contracts(name, kind, words):
    error = error_for(captured(name), "do it")
    assert type(error) is kind and words in str(error) and str(error).startswith("cannot do it")


def test_a_refused_prompt_is_a_plain_failure():
    error = error_for(captured("lvm-lvremove-origin-with-snap.txt"), "remove labcap/lv1")
    assert type(error) is Failed and "not removed" in str(error)


def test_the_model_from_a_report():
    engine = HostEngine()
    pv_devices = [row["pv_name"] for row in
                  parse_report(captured("lvm-fullreport-all.txt").stdout).pvs]
    wwids = [device.rsplit("/", 1)[1] for device in pv_devices]
    engine._disks = [Disk(name=w, node=f"/dev/mapper/{w}", size=64 << 20, wwid=w,
                          multipath=True) for w in wwids]
    engine.store.publish([Lun(wwid=w, device=f"/dev/mapper/{w}", size=64 << 20)
                          for w in wwids])
    engine._apply_report(parse_report(captured("lvm-fullreport-all.txt").stdout), None)
    vg = engine.store.get(VolumeGroup, VG_UUID)
    assert (vg.name, vg.managed, vg.partial, vg.extent_size) == ("labcap", True, False,
                                                                 4 << 20)
    assert len(vg.physical_volumes) == 2
    lvs = {lv.name: lv for lv in engine.store.all(LogicalVolume).values()}
    assert set(lvs) == {"lv1", "lv2", "snap1"}          # no internal COW volume
    assert lvs["snap1"].origin == ORIGIN and lvs["lv1"].origin is None
    assert lvs["lv1"].active and not lvs["lv2"].active
    for pv in engine.store.all(PhysicalVolume).values():  # both ways
        assert engine.store.get(Lun, pv.lun).physical_volume == pv.uuid
    assert engine.enumerate_volume_groups() == [VG_UUID]
    assert sorted(engine.list_logical_volumes("labcap")) == sorted(lv.uuid for lv in
                                                                   lvs.values())

    # the VG removed: a report naming it finds nothing; its objects and links go
    engine._apply_report(parse_report('{"report": []}'), ["labcap"])
    assert not engine.store.all(VolumeGroup) and not engine.store.all(LogicalVolume)
    assert not engine.store.all(PhysicalVolume)
    assert all(lun.physical_volume is None for lun in engine.store.all(Lun).values())


async def test_every_command_carries_the_config_and_its_devices(tmp_path):
    script = tmp_path / "lvm"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    script.chmod(0o755)
    from solidice_storage.engine.host.runner import Runner
    lvm = Lvm(Runner({"lvm": str(script)}))
    result = await lvm.run("lvcreate", "-n", "x", "--", "vg", devices=["/dev/a", "/dev/b"])
    assert result.stdout.splitlines() == ["lvcreate", "--config", CONFIG, "--devices",
                                          "/dev/a,/dev/b", "-n", "x", "--", "vg"]


FAKE_LVM = """#!/bin/sh
# Stands in for lvm: logs the command, answers every report with the captured one.
echo "$1" >> @LOG@
[ "$1" = fullreport ] && sed -n '/^# stdout:$/,/^# stderr:$/p' @REPORT@ | sed '1d;$d'
exit 0
"""


def fake_lvm_engine(tmp_path: Path, **tools: str) -> tuple[HostEngine, Path]:
    """A HostEngine whose lvm is FAKE_LVM, and the log of the commands it ran."""
    from solidice_storage.engine.host.runner import Runner
    log = tmp_path / "lvm.log"
    script = tmp_path / "lvm"
    script.write_text(FAKE_LVM.replace("@LOG@", str(log)).replace(
        "@REPORT@", str(DATA / "lvm-fullreport-all.txt")))
    script.chmod(0o755)
    return HostEngine(Runner({"lvm": str(script), **tools})), log


async def test_reads_run_no_lvm_and_a_change_runs_its_command_and_one_report(tmp_path):
    engine, log = fake_lvm_engine(tmp_path, dmsetup="/bin/true", udevadm="/bin/true")
    await engine.refresh_lvm()
    log.write_text("")

    def calls() -> list[str]:
        done = log.read_text().split()
        log.write_text("")
        return done

    engine.enumerate_volume_groups()
    engine.list_physical_volumes("labcap")
    engine.list_logical_volumes(VG_UUID)
    assert calls() == []
    from solidice_storage.validation import Options
    # no map of lv2 to read back (there is no device-mapper here) in a VG of two
    # PVs: which PV the space came from is known only from a report
    for change, command in (
            (engine.extend_logical_volume("labcap/lv2", 4 << 20, Options()), "lvextend"),
            (engine.activate_logical_volume("labcap/lv2", Options()), "lvchange"),
            (engine.deactivate_logical_volume("labcap/lv2", Options()), "lvchange"),
            (engine.remove_logical_volume("labcap/lv2", Options()), "lvremove")):
        await change
        assert calls() == [command, "fullreport"], command



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
    from solidice_storage.engine.host.runner import Runner
    script = tmp_path / "lvm"
    script.write_text(FAKE_PVMOVE_LVM.replace("@DIR@", str(tmp_path)).replace(
        "@REPORT@", str(DATA / "lvm-fullreport-all.txt")))
    script.chmod(0o755)
    engine = HostEngine(Runner({"lvm": str(script), "dmsetup": "/bin/true",
                                "udevadm": "/bin/true"}))
    return engine, tmp_path


async def _start_move(engine):
    from solidice_storage.validation import Options
    await engine.refresh_lvm()
    pv = sorted(engine.store.all(PhysicalVolume).values(), key=lambda p: p.device)[0]
    job_id = await engine.remove_physical_volume("labcap", pv.uuid,
                                                 Options({"move-data": True}), 0)
    progress = []
    engine.store.subscribe(lambda changes: progress.extend(
        m.progress for m in changes.upserts if m.KIND == "Job"))
    completed = []
    engine.store.subscribe(lambda changes: completed.extend(changes.completed))
    return job_id, pv, progress, completed


async def test_move_data_runs_pvmove_as_a_job_with_its_progress(mover):
    import asyncio
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
    import asyncio
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


@pytest.fixture(autouse=True)
def hints_file(tmp_path, monkeypatch):
    """LVM's hints file, in a temporary directory: never this machine's."""
    path = tmp_path / "hints"
    path.write_text("# hints\n")
    monkeypatch.setattr("solidice_storage.engine.lvm.HINTS_FILE", str(path))
    return path


@pytest.fixture(autouse=True)
def devices_dir(tmp_path, monkeypatch):
    """LVM's devices file directory, in a temporary directory: never this machine's."""
    path = tmp_path / "devices"
    path.mkdir()
    monkeypatch.setattr("solidice_storage.engine.lvm.DEVICES_DIR", str(path))
    return path


def _script_lvm(tmp_path, body: str) -> Lvm:
    from solidice_storage.engine.host.runner import Runner
    script = tmp_path / "lvm"
    script.write_text("#!/bin/bash\n" + body)
    script.chmod(0o755)
    return Lvm(Runner({"lvm": str(script)}))


async def test_a_change_to_which_devices_are_pvs_drops_lvms_hints(tmp_path, hints_file):
    lvm = _script_lvm(tmp_path, "exit 0\n")
    await lvm.change("create lv", "lvcreate", "-n", "x", "--", "vg")
    assert hints_file.exists()                  # LV changes leave the PV hints alone
    await lvm.change("make a pv", "pvcreate", "--", "/dev/a", devices=["/dev/a"])
    assert not hints_file.exists()              # the next `pvs` rescans
    await lvm.change("make a pv", "pvcreate", "--", "/dev/a", devices=["/dev/a"])


async def test_a_failed_change_drops_the_hints_too(tmp_path, hints_file):
    lvm = _script_lvm(tmp_path, 'echo "  Device /dev/a is in use." >&2; exit 5\n')
    with pytest.raises(Busy):
        await lvm.change("extend vg", "vgextend", "--", "vg", "/dev/a")
    assert not hints_file.exists()


@pytest.mark.parametrize("answer, enabled", [("use_devicesfile=1", True),
                                             ("use_devicesfile=0", False),
                                             ("", False)])
async def test_the_devices_file_is_used_when_lvm_is_set_to(tmp_path, devices_dir, answer,
                                                          enabled):
    (devices_dir / "system.devices").write_text("VERSION=1.1.1\n")
    lvm = _script_lvm(tmp_path, f'echo "$*" >> {tmp_path}/log\n'
                      f'[ "$1" = lvmconfig ] && echo "{answer}"\nexit 0\n')
    await lvm.probe()
    assert lvm.devices_file is enabled
    await lvm.add_devices(["/dev/mapper/a"])
    await lvm.remove_devices(["/dev/mapper/b"])
    added = [line for line in (tmp_path / "log").read_text().splitlines()
             if line.startswith("lvmdevices")]
    assert added == ([f"lvmdevices --config {CONFIG} --adddev /dev/mapper/a",
                      f"lvmdevices --config {CONFIG} --deldev /dev/mapper/b"]
                     if enabled else [])


# `lvmconfig --typeconfig full devices/use_devicesfile devices/devicesfile`, as
# Debian 12's lvm2 2.03.16 prints it with use_devicesfile = 1 in lvmlocal.conf
SET_TO_USE_ONE = 'use_devicesfile=1\ndevicesfile="%s"'


@pytest.mark.parametrize("name", ["system.devices", "lab.devices"])
async def test_no_devices_file_is_made_where_lvm_has_none(tmp_path, devices_dir, name):
    """use_devicesfile=1 but no file: LVM uses every device, and `lvmdevices
    --adddev` would create a file listing only ours (seen in the lab), hiding every
    other PV from LVM. Nothing is added until the file exists; then it is."""
    lvm = _script_lvm(tmp_path, f'echo "$*" >> {tmp_path}/log\n'
                      f"[ \"$1\" = lvmconfig ] && echo '{SET_TO_USE_ONE % name}'\nexit 0\n")
    await lvm.probe()
    assert lvm.devices_file and lvm.devices_file_path == str(devices_dir / name)
    await lvm.add_devices(["/dev/mapper/a"])
    await lvm.remove_devices(["/dev/mapper/a"])
    assert [line for line in (tmp_path / "log").read_text().splitlines()
            if line.startswith("lvmdevices")] == []
    (devices_dir / name).write_text("VERSION=1.1.1\n")       # an administrator made one
    await lvm.add_devices(["/dev/mapper/a"])
    assert (tmp_path / "log").read_text().splitlines()[-1] == \
        f"lvmdevices --config {CONFIG} --adddev /dev/mapper/a"


async def test_a_device_already_in_the_devices_file_is_fine(tmp_path, devices_dir):
    (devices_dir / "system.devices").write_text("VERSION=1.1.1\n")
    lvm = _script_lvm(tmp_path, '[ "$1" = lvmconfig ] && echo use_devicesfile=1 && exit 0\n'
                      'echo "  Device /dev/a already in devices file." >&2; exit 5\n')
    await lvm.probe()
    await lvm.add_devices(["/dev/a"])


def _engine_with_report(name: str) -> HostEngine:
    engine = HostEngine()
    wwids = [row["pv_name"].rsplit("/", 1)[1] for row in parse_report(
        captured(name).stdout).pvs]
    engine._disks = [Disk(name=w, node=f"/dev/mapper/{w}", size=64 << 20, wwid=w,
                          multipath=True) for w in wwids]
    engine.store.publish([Lun(wwid=w, device=f"/dev/mapper/{w}", size=64 << 20)
                          for w in wwids])
    engine._apply_report(parse_report(captured(name).stdout), None)
    return engine


def test_a_vg_whose_luns_lost_every_path_is_kept_partial_until_a_path_returns():
    engine = HostEngine()
    report = parse_report(captured("lvm-fullreport-all.txt").stdout)
    wwids = [row["pv_name"].rsplit("/", 1)[1] for row in report.pvs]
    engine._disks = [Disk(name=w, node=f"/dev/mapper/{w}", size=64 << 20, wwid=w,
                          multipath=True) for w in wwids]

    def paths(*states):
        engine.store.publish([Lun(wwid=w, device=f"/dev/mapper/{w}", size=64 << 20,
                                  multipath=True, physical_volume=lun.physical_volume
                                  if (lun := engine.store.get(Lun, w)) else None,
                                  status="pv", paths=tuple(
                                      (f"sd{i}", state) for i, state in enumerate(states)))
                              for w in wwids])
        engine.lvm_paths_changed()

    paths("active", "active")
    engine._apply_report(report, None)
    whole = dict(engine.store.objects["LogicalVolume"])
    assert not engine.store.get(VolumeGroup, VG_UUID).partial
    paths("failed", "active")                       # one path left: nothing missing
    assert not engine.store.get(VolumeGroup, VG_UUID).partial
    paths("failed", "failed")
    assert engine.store.get(VolumeGroup, VG_UUID).partial
    # LVM cannot read the PVs now, so a report finds no VG: it is kept, with its
    # LVs and PVs, partial
    engine._apply_report(parse_report('{"report": []}'), ["labcap"])
    vg = engine.store.get(VolumeGroup, VG_UUID)
    assert vg.partial and len(vg.physical_volumes) == 2
    assert engine.store.objects["LogicalVolume"] == whole
    paths("active", "failed")                       # a path back
    assert not engine.store.get(VolumeGroup, VG_UUID).partial
    engine._apply_report(report, None)
    assert not engine.store.get(VolumeGroup, VG_UUID).partial
    # with a path, a report without the VG means it is gone
    engine._apply_report(parse_report('{"report": []}'), ["labcap"])
    assert not engine.store.all(VolumeGroup) and not engine.store.all(LogicalVolume)


def test_a_pv_relabelled_behind_our_back_replaces_the_old_one():
    engine = _engine_with_report("lvm-fullreport-orphans.txt")
    old = sorted(engine.store.all(PhysicalVolume).values(), key=lambda p: p.device)
    # the same device, a new PV UUID, now in a VG, reported by that VG's name only
    row = {"pv_name": old[0].device, "pv_uuid": "NEWpv0-0000-0000-0000-0000-0000-000000",
           "pv_size": "67108864", "pv_free": "67108864", "vg_uuid": "NEWvg0-0000-0000-"
           "0000-0000-0000-000000"}
    from solidice_storage.engine.lvm import Report
    report = Report(vgs=[{"vg_uuid": row["vg_uuid"], "vg_name": "again", "vg_size": "1",
                          "vg_free": "1", "vg_extent_size": "4194304"}], pvs=[row])
    engine._apply_report(report, ["again"])
    assert sorted(engine.store.all(PhysicalVolume)) == sorted([row["pv_uuid"], old[1].uuid])
    assert engine.store.get(Lun, old[0].lun).physical_volume == row["pv_uuid"]


async def test_labels_udev_sees_that_lvm_did_not_report_cause_one_full_refresh():
    engine = _engine_with_report("lvm-fullreport-orphans.txt")
    queued = []
    engine._refresh_later = queued.append
    modelled = {pv.lun for pv in engine.store.all(PhysicalVolume).values()}
    engine.lvm_labels_seen(modelled)
    assert queued == []                       # not started: the first report is coming
    engine._lvm_started = True
    engine.lvm_labels_seen(modelled)
    assert queued == []                       # agreement
    wiped = set(sorted(modelled)[1:])         # one label wiped by hand
    engine.lvm_labels_seen(wiped)
    engine.lvm_labels_seen(wiped)             # udev still says so: not chased again
    assert queued == [None]
    engine.lvm_labels_seen(modelled)
    engine.lvm_labels_seen(wiped)
    assert queued == [None, None]


async def test_the_echo_of_our_own_change_runs_no_second_report(tmp_path, monkeypatch):
    """LVM rewrites /etc/lvm/backup/<vg> for our own commands too: the inotify
    event of a backup the last refresh already read runs nothing."""
    import asyncio
    backups = tmp_path / "backup"
    backups.mkdir()
    (backups / "labcap").write_text("metadata 1")
    monkeypatch.setattr("solidice_storage.engine.host_lvm.BACKUP_DIR", backups)
    monkeypatch.setattr("solidice_storage.engine.host_lvm.DEBOUNCE", 0.01)
    engine, log = fake_lvm_engine(tmp_path)
    await engine.refresh_lvm(["labcap"])
    log.write_text("")
    engine._refresh_later("labcap")                  # the echo
    await asyncio.sleep(0.2)
    assert log.read_text() == ""
    (backups / "labcap").write_text("metadata 2, written by someone else")
    engine._refresh_later("labcap")
    await asyncio.sleep(0.5)
    assert log.read_text().split() == ["fullreport"]


async def test_the_echo_during_our_own_change_waits_for_its_refresh(tmp_path, monkeypatch):
    """lvcreate writes the backup long before it exits (activation, udev sync): the
    event must wait for our change's own refresh rather than run a report of its own."""
    import asyncio
    backups = tmp_path / "backup"
    backups.mkdir()
    monkeypatch.setattr("solidice_storage.engine.host_lvm.BACKUP_DIR", backups)
    monkeypatch.setattr("solidice_storage.engine.host_lvm.DEBOUNCE", 0.01)
    engine, log = fake_lvm_engine(tmp_path)
    await engine.refresh_lvm(["labcap"])
    log.write_text("")
    async with engine._vg_lock("labcap"):              # our change, mid-command
        (backups / "labcap").write_text("metadata written by our lvcreate")
        engine._refresh_later("labcap")
        await asyncio.sleep(0.2)
        assert log.read_text() == ""                   # deferred
        await engine.refresh_lvm(["labcap"])           # the change's own refresh
    await asyncio.sleep(0.2)
    assert log.read_text().split() == ["fullreport"]   # that one only
    assert not engine._deferred


async def test_an_activation_seen_mid_change_waits_for_the_changes_own_report():
    import asyncio
    engine = HostEngine()
    engine._apply_report(parse_report(captured("lvm-fullreport-all.txt").stdout), None)
    queued = []
    engine._refresh_later = queued.append
    lv2 = next(lv for lv in engine.store.all(LogicalVolume).values() if lv.name == "lv2")
    seen = {lv.uuid: lv.active for lv in engine.store.all(LogicalVolume).values()}
    seen[lv2.uuid] = True                          # lvchange -ay, seen by udev
    async with engine._vg_lock("labcap"):          # ... while our Activate runs
        engine.lvm_devices_changed(seen, asyncio.get_running_loop().time())
    assert queued == []
    read_at = asyncio.get_running_loop().time()
    engine._reported_at["labcap"] = read_at + 1    # a report began after that scan read
    engine.lvm_devices_changed(seen, read_at)
    assert queued == []
    engine._reported_at["labcap"] = read_at - 1    # an activation made outside
    engine.lvm_devices_changed(seen, read_at)
    assert queued == ["labcap"]


async def test_create_extend_remove_of_a_plain_lv_derive_the_state_from_its_map(
        tmp_path, monkeypatch):
    """One LVM command each: the LV's UUID and size come from device-mapper's map
    (read_map, here a stand-in) and the VG's free space follows; a map that
    disagrees falls back to a report."""
    from solidice_storage.engine import lvm_derive
    from solidice_storage.validation import Options
    engine, log = fake_lvm_engine(tmp_path, dmsetup="/bin/true", udevadm="/bin/true")
    await engine.refresh_lvm()
    vg = engine.store.get(VolumeGroup, VG_UUID)
    lv_uuid = "AbCdEf-0123-4567-89ab-cdef-ghij-KLMNOP"
    maps = {}
    monkeypatch.setattr(lvm_derive, "read_map", lambda vg_name, lv_name: maps.get(lv_name))
    pvs = [engine.store.get(PhysicalVolume, key) for key in vg.physical_volumes]
    numbers = {pv.device: f"253:{i}" for i, pv in enumerate(pvs)}
    monkeypatch.setattr(lvm_derive, "device_number", numbers.get)
    wire = "LVM-" + VG_UUID.replace("-", "") + lv_uuid.replace("-", "")
    maps["new"] = lvm_derive.Map(wire, 2 * vg.extent_size, ("253:1",))
    log.write_text("")

    uuid = await engine.create_logical_volume("labcap", "new", vg.extent_size + 1, Options())
    assert log.read_text().split() == ["lvcreate"] and uuid == lv_uuid
    made = engine.store.get(LogicalVolume, uuid)
    assert (made.name, made.size, made.path, made.active, made.volume_group) == (
        "new", 2 * vg.extent_size, "/dev/labcap/new", True, VG_UUID)
    assert made.attributes == "-wi-a-----"
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == vg.free_size - made.size
    assert [engine.store.get(PhysicalVolume, pv.uuid).free_size for pv in pvs] == [
        pvs[0].free_size, pvs[1].free_size - made.size]      # the map is on the second

    maps["new"] = lvm_derive.Map(wire, 3 * vg.extent_size, ("253:1",))
    log.write_text("")
    await engine.extend_logical_volume(uuid, 1, Options())
    assert log.read_text().split() == ["lvextend"]
    assert engine.store.get(LogicalVolume, uuid).size == 3 * vg.extent_size
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == \
        vg.free_size - 3 * vg.extent_size

    log.write_text("")
    await engine.remove_logical_volume(uuid, Options())
    assert log.read_text().split() == ["lvremove"]
    assert uuid not in engine.store.all(LogicalVolume)
    assert engine.store.get(VolumeGroup, VG_UUID).free_size == vg.free_size
    assert [engine.store.get(PhysicalVolume, pv.uuid).free_size for pv in pvs] == [
        pv.free_size for pv in pvs]

    # the map of another VG's LV, of the wrong size, or over both PVs: LVM's report
    # decides
    for other, size, under in (("LVM-" + "x" * 32 + lv_uuid.replace("-", ""), 1, ("253:0",)),
                               (wire, 5, ("253:0",)), (wire, 1, ("253:0", "253:1"))):
        maps["odd"] = lvm_derive.Map(other, size * vg.extent_size, under)
        log.write_text("")
        with pytest.raises(NotFound):      # the captured report has no "odd"
            await engine.create_logical_volume("labcap", "odd", vg.extent_size, Options())
        assert log.read_text().split() == ["lvcreate", "fullreport"]


def test_read_map_reads_the_kernels_map(tmp_path):
    import os
    from solidice_storage.engine.lvm_derive import Map, dm_name, read_map
    assert dm_name("my-vg", "a-b") == "my--vg-a--b"
    dev, sysfs = tmp_path / "mapper", tmp_path / "sys"
    dev.mkdir()
    os.mknod(dev / "my--vg-a--b", 0o600 | 0o060000, os.makedev(253, 7))   # S_IFBLK
    block = sysfs / "dev/block/253:7"
    (block / "dm").mkdir(parents=True)
    (block / "dm/name").write_text("my--vg-a--b\n")
    (block / "dm/uuid").write_text("LVM-" + "v" * 32 + "l" * 32 + "\n")
    (block / "size").write_text("8192\n")
    for slave, number in (("dm-3", "253:3"), ("sdb", "8:16")):
        (block / "slaves" / slave).mkdir(parents=True)
        (block / "slaves" / slave / "dev").write_text(number + "\n")
    assert read_map("my-vg", "a-b", str(dev), str(sysfs)) == Map(
        "LVM-" + "v" * 32 + "l" * 32, 8192 * 512, ("253:3", "8:16"))
    assert read_map("my-vg", "other", str(dev), str(sysfs)) is None
    (block / "dm/name").write_text("someone-else\n")     # the node is another map's
    assert read_map("my-vg", "a-b", str(dev), str(sysfs)) is None


async def test_sizes_go_to_lvm_as_whole_extents(tmp_path):
    """LVM refuses `-L <n>b` unless n is a multiple of 512: create, extend and
    snapshot name whole extents (`-l`), rounded up (labcap's are 4 MiB)."""
    from solidice_storage.engine.host.runner import Runner
    from solidice_storage.validation import Options
    log = tmp_path / "argv.log"
    script = tmp_path / "lvm"
    script.write_text(FAKE_LVM.replace('echo "$1" >> @LOG@', 'echo "$*" >> @LOG@')
                      .replace("@LOG@", str(log))
                      .replace("@REPORT@", str(DATA / "lvm-fullreport-all.txt")))
    script.chmod(0o755)
    engine = HostEngine(Runner({"lvm": str(script), "dmsetup": "/bin/true",
                                "udevadm": "/bin/true"}))
    await engine.refresh_lvm()
    MiB = 1 << 20

    def changes() -> list[str]:
        lines = [line for line in log.read_text().splitlines()
                 if line.startswith(("lvcreate", "lvextend"))]
        log.write_text("")
        return lines
    with pytest.raises(NotFound):           # the captured report does not show it
        await engine.create_logical_volume("labcap", "odd", 4 * MiB + 1, Options())
    (create,) = changes()
    assert " -l 2 " in f" {create} " and " -L " not in create, create
    await engine.extend_logical_volume("labcap/lv2", 4 * MiB + 3, Options())
    (extend,) = changes()
    assert extend.endswith("-l +2 -- labcap/lv2"), extend
    with pytest.raises(NotFound):
        await engine.snapshot_logical_volume("labcap/lv2", "snapx", 4 * MiB + 5,
                                             Options(), 0)
    (snapshot,) = changes()
    assert " -s -l 2 " in snapshot and " -L " not in snapshot, snapshot


def test_whole_extents_round_up():
    from solidice_storage.engine.lvm import extents
    assert [extents(n, 4 << 20) for n in (1, 4 << 20, (4 << 20) + 1, 4194305)] == \
        [1, 1, 2, 2]


async def test_a_grown_pv_is_resized_with_our_config_and_its_vgs_devices(tmp_path):
    """Rescan's pvresize is an LVM command like the others: our --config, the VG's
    devices, the VG's lock, LVM's errors mapped."""
    from solidice_storage.engine.host.runner import Runner
    log = tmp_path / "argv.log"
    script = tmp_path / "lvm"
    script.write_text(FAKE_LVM.replace('echo "$1" >> @LOG@', 'echo "$*" >> @LOG@')
                      .replace("@LOG@", str(log))
                      .replace("@REPORT@", str(DATA / "lvm-fullreport-all.txt")))
    script.chmod(0o755)
    engine = HostEngine(Runner({"lvm": str(script)}), sysfs=tmp_path / "sys")
    pv_devices = sorted(row["pv_name"] for row in
                        parse_report(captured("lvm-fullreport-all.txt").stdout).pvs)
    wwids = [device.rsplit("/", 1)[1] for device in pv_devices]

    def disks(grown: int) -> list[Disk]:
        return [Disk(name=f"dm-{i}", node=device, size=(64 << 20) + (grown if i == 0 else 0),
                     wwid=wwid, multipath=True, status="pv", fs_type="LVM2_member")
                for i, (device, wwid) in enumerate(zip(pv_devices, wwids))]
    engine._disks = disks(0)
    await engine.refresh_lvm()
    engine._read_host = lambda: (disks(32 << 20), [], {})
    log.write_text("")
    await engine.rescan({})
    (resize,) = [line for line in log.read_text().splitlines()
                 if line.startswith("pvresize")]
    assert resize == (f"pvresize --config {CONFIG} --devices {','.join(pv_devices)} "
                      f"-- {pv_devices[0]}")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real LVM engine on the lab's multipath LUNs, through the D-Bus API: volume
groups, physical and logical volumes, snapshots checked by their bytes, every
refusal, and changes made with LVM's own tools behind the daemon's back. Each result
is checked with `vgs`/`pvs`/`lvs`; after each test the exported objects and a fresh
LVM report agree (no drift). One test turns LVM's devices file on (as Fedora and
RHEL ship it) and checks it with `lvmdevices`. The crash tests (SIGKILL at each
step of each change) are in test_crash.py."""

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from dbus_fast import Variant

from labbus import ERROR, IFACE, ROOT
from solidice_storage import objpath
from lab.host import TOP, lvm, lvm_report, multipath_maps, run, settle
from waits import log_mark, log_since, logged, lvm_refreshed

MiB = 1024**2
POOL = f"{IFACE}StoragePool"
VG_NAME = "labvg"
MANAGED_TAG = "org.solidice.storage"


def objects_of(objects: dict, kind: str) -> dict:
    return {path: ifaces[IFACE + kind] for path, ifaces in objects.items()
            if IFACE + kind in ifaces}


async def settled(bus, check, what: str, timeout: float = 30):
    """Poll the exported objects until `check(objects)` holds."""
    for _ in range(int(timeout / 0.25)):
        objects = await bus.objects()
        if check(objects):
            return objects
        await asyncio.sleep(0.25)
    raise AssertionError(f"no {what} within {timeout:g} s")


def lvm_state() -> tuple[dict, dict, dict]:
    vgs = {row["vg_uuid"]: row for row in lvm_report(
        "vgs", "-o", "vg_uuid,vg_name,vg_size,vg_free,vg_tags")}
    pvs = {row["pv_uuid"]: row for row in lvm_report(
        "pvs", "-o", "pv_uuid,pv_name,pv_size,pv_free,vg_uuid")}
    lvs = {row["lv_uuid"]: row for row in lvm_report(
        "lvs", "-o", "lv_uuid,lv_name,vg_uuid,lv_size,lv_attr,origin_uuid")}
    return vgs, pvs, lvs


def drift(objects: dict) -> list[str]:
    """What differs between the exported LVM objects and a fresh LVM report."""
    vgs, pvs, lvs = lvm_state()
    problems = []
    exported_vgs = {v["Uuid"]: v for v in objects_of(objects, "VolumeGroup").values()}
    exported_lvs = {v["Uuid"]: v for v in objects_of(objects, "LogicalVolume").values()}
    exported_pvs = {v["Uuid"]: v for v in objects_of(objects, "PhysicalVolume").values()}
    if set(vgs) != set(exported_vgs):
        problems.append(f"VGs: lvm {sorted(vgs)} exported {sorted(exported_vgs)}")
    for uuid, row in vgs.items():
        if uuid in exported_vgs and (int(row["vg_size"]), int(row["vg_free"])) != (
                exported_vgs[uuid]["Size"], exported_vgs[uuid]["FreeSize"]):
            problems.append(f"VG {row['vg_name']}: sizes differ")
    if set(lvs) != set(exported_lvs):
        problems.append(f"LVs: lvm {sorted(r['lv_name'] for r in lvs.values())} exported "
                        f"{sorted(v['Name'] for v in exported_lvs.values())}")
    for uuid, row in lvs.items():
        if uuid in exported_lvs and (int(row["lv_size"]), row["lv_attr"][4] == "a") != (
                exported_lvs[uuid]["Size"], exported_lvs[uuid]["Active"]):
            problems.append(f"LV {row['lv_name']}: size or activation differ")
    if set(pvs) != set(exported_pvs):
        problems.append(f"PVs: lvm {sorted(pvs)} exported {sorted(exported_pvs)}")
    return problems


@pytest.fixture
async def no_drift(bus):
    """After the test: the exported objects converge on a fresh LVM report."""
    yield
    try:
        await settled(bus, lambda objects: not drift(objects), "agreement with LVM", 20)
    except AssertionError:
        raise AssertionError(f"drift from LVM: {drift(await bus.objects())}") from None


@pytest.fixture
def luns(lab):
    """Three data LUNs (their WWIDs), wiped clean of LVM after the test."""
    wwids = sorted(multipath_maps())[:3]
    yield wwids
    for row in lvm_report("vgs", "-o", "vg_name"):
        if row["vg_name"] in (VG_NAME, "outsidevg"):
            lvm("vgremove", "-y", "-f", "--", row["vg_name"], check=False)
    for wwid in wwids:
        lvm("pvremove", "-y", "-ff", "--", f"/dev/mapper/{wwid}", check=False)
        run("wipefs", "-a", "--", f"/dev/mapper/{wwid}", check=False)
    # a map is not watched for writes: tell udev, as an administrator's tools would
    run("udevadm", "trigger", "--settle", "--action=change", "--",
        *(f"/dev/mapper/{wwid}" for wwid in wwids))
    settle()


async def call(bus, path, interface, member, signature, *args):
    return await bus.call(path, member, signature, list(args), interface=IFACE + interface)


async def test_volume_group_lifecycle_and_refusals(bus, luns, no_drift):
    first, second, third = luns
    paths = multipath_maps()[first]
    refused = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup", "sasa{sv}",
                         VG_NAME, [f"/dev/{paths[0][0]}"], {})
    assert refused[1] == ERROR + "InvalidArgument" and "path of multipath map" in refused[2]
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, [first, f"/dev/mapper/{second}"], {})
    (row,) = [r for r in lvm_report("vgs", "-o", "vg_name,vg_uuid,vg_tags,pv_count,vg_size")
              if r["vg_name"] == VG_NAME]
    assert vg_path == objpath.path("VolumeGroup", row["vg_uuid"])
    assert MANAGED_TAG in row["vg_tags"] and row["pv_count"] == "2"
    objects = await settled(bus, lambda o: all(   # udev reports the new labels a bit later
        o[f"{ROOT}/Lun/{w}"][IFACE + "Lun"]["Status"] == "pv" for w in (first, second)),
        "both LUNs shown as PVs")
    vg = objects[vg_path][IFACE + "VolumeGroup"]
    assert (vg["Name"], vg["Size"], vg["Managed"], vg["Partial"]) == (
        VG_NAME, int(row["vg_size"]), True, False)
    for wwid in (first, second):                 # Lun.PhysicalVolume <-> PhysicalVolume.Lun
        lun = objects[f"{ROOT}/Lun/{wwid}"][IFACE + "Lun"]
        pv = objects[lun["PhysicalVolume"]][IFACE + "PhysicalVolume"]
        assert pv["Lun"] == f"{ROOT}/Lun/{wwid}" and pv["VolumeGroup"] == vg_path
        assert pv["Device"] == f"/dev/mapper/{wwid}" and lun["Status"] == "pv"
    (listed,) = await call(bus, vg_path, "VolumeGroup", "ListPhysicalVolumes", "a{sv}", {})
    assert sorted(vg["PhysicalVolumes"]) == sorted(listed)

    again = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup", "sasa{sv}",
                       VG_NAME, [third], {})
    assert again[1] == ERROR + "AlreadyExists"
    taken = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup", "sasa{sv}",
                       "othervg", [first], {})
    assert taken[1] == ERROR + "Busy" and VG_NAME in taken[2]

    assert await call(bus, vg_path, "VolumeGroup", "Extend", "asa{sv}",   # a udev link
                      [f"/dev/disk/by-id/dm-uuid-mpath-{third}"], {}) == []
    assert lvm_report("vgs", "-o", "pv_count", "--", VG_NAME)[0]["pv_count"] == "3"
    third_pv = objpath.path("PhysicalVolume", lvm_report(
        "pvs", "-o", "pv_uuid", "--", f"/dev/mapper/{third}")[0]["pv_uuid"])
    assert await call(bus, vg_path, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}",
                      third_pv, {}) == ["/"]                  # done: no Job
    assert lvm_report("vgs", "-o", "pv_count", "--", VG_NAME)[0]["pv_count"] == "2"
    assert run("pvs", f"/dev/mapper/{third}", check=False).returncode != 0   # label gone

    assert await call(bus, vg_path, "VolumeGroup", "Remove", "a{sv}", {}) == []
    assert VG_NAME not in [r["vg_name"] for r in lvm_report("vgs", "-o", "vg_name")]
    assert run("pvs", f"/dev/mapper/{first}", check=False).returncode != 0
    objects = await settled(bus, lambda o: objects_of(o, "Lun")[f"{ROOT}/Lun/{first}"][
        "Status"] == "free", "the LUN free again")
    assert vg_path not in objects


async def test_logical_volumes_snapshots_by_their_bytes(bus, luns, no_drift):
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, luns[:2], {})
    (lv_path,) = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                            "data", 10 * MiB, {})
    (row,) = lvm_report("lvs", "-o", "lv_uuid,lv_size,lv_attr", "--", f"{VG_NAME}/data")
    assert lv_path == objpath.path("LogicalVolume", row["lv_uuid"])
    assert int(row["lv_size"]) == 12 * MiB            # rounded up to 4 MiB extents
    lv = (await bus.objects())[lv_path][IFACE + "LogicalVolume"]
    assert (lv["Size"], lv["Active"], lv["Path"]) == (12 * MiB, True, f"/dev/{VG_NAME}/data")

    device = f"/dev/{VG_NAME}/data"
    with open(device, "r+b") as handle:
        handle.write(b"before" * 1000)
    (snap_path,) = await call(bus, lv_path, "LogicalVolume", "Snapshot", "sta{sv}", "snap",
                              4 * MiB, {})
    with open(device, "r+b") as handle:
        handle.write(b"after!" * 1000)
        handle.flush()
        os.fsync(handle.fileno())
    with open(f"/dev/{VG_NAME}/snap", "rb") as handle:
        assert handle.read(6000) == b"before" * 1000
    snap = (await bus.objects())[snap_path][IFACE + "LogicalVolume"]
    assert snap["Origin"] == lv_path

    busy = await call(bus, lv_path, "LogicalVolume", "Remove", "a{sv}", {})
    assert busy[1] == ERROR + "Busy" and "snapshots" in busy[2]
    assert await call(bus, snap_path, "LogicalVolume", "Remove", "a{sv}", {}) == []
    assert await call(bus, lv_path, "LogicalVolume", "Extend", "ta{sv}", 4 * MiB, {}) == []
    assert int(lvm_report("lvs", "-o", "lv_size", "--", f"{VG_NAME}/data")[0]["lv_size"]) \
        == 16 * MiB
    wrong = await call(bus, lv_path, "LogicalVolume", "Extend", "ta{sv}", 4 * MiB,
                       {"expected-size": Variant("t", 12 * MiB)})
    assert wrong[1] == ERROR + "InvalidArgument"
    full = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "huge",
                      1024 * MiB, {})
    assert full[1] == ERROR + "NoSpace"

    with open(device, "rb"):                          # open: no removal, no deactivation
        for member in ("Remove", "Deactivate"):
            busy = await call(bus, lv_path, "LogicalVolume", member, "a{sv}", {})
            assert busy[1] == ERROR + "Busy", (member, busy)
        busy = await call(bus, vg_path, "VolumeGroup", "Remove", "a{sv}", {})
        assert busy[1] == ERROR + "Busy"
    assert await call(bus, lv_path, "LogicalVolume", "Deactivate", "a{sv}", {}) == []
    assert lvm_report("lvs", "-o", "lv_attr", "--", f"{VG_NAME}/data")[0]["lv_attr"][4] != "a"
    assert not (await bus.objects())[lv_path][IFACE + "LogicalVolume"]["Active"]
    assert await call(bus, lv_path, "LogicalVolume", "Activate", "a{sv}", {}) == []
    assert lvm_report("lvs", "-o", "lv_attr", "--", f"{VG_NAME}/data")[0]["lv_attr"][4] == "a"
    (idle,) = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                         "idle", 4 * MiB, {"activate": Variant("b", False)})
    assert not os.path.exists(f"/dev/{VG_NAME}/idle")
    assert await call(bus, lv_path, "LogicalVolume", "Remove", "a{sv}", {}) == []
    assert [r["lv_name"] for r in lvm_report("lvs", "-o", "lv_name", "--", VG_NAME)] == ["idle"]


async def test_changes_made_with_lvm_itself_show_up(bus, luns, no_drift):
    device = f"/dev/mapper/{luns[0]}"
    lvm("pvcreate", "-y", "--", device)
    lvm("vgcreate", "--", "outsidevg", device)
    vg_uuid = lvm_report("vgs", "-o", "vg_uuid", "--", "outsidevg")[0]["vg_uuid"]
    vg_path = objpath.path("VolumeGroup", vg_uuid)
    objects = await settled(bus, lambda o: vg_path in o, "the outside VG", 30)
    assert not objects[vg_path][IFACE + "VolumeGroup"]["Managed"]
    lvm("lvcreate", "-an", "-Zn", "-y", "-L", "4m", "-n", "quiet", "--", "outsidevg")
    await settled(bus, lambda o: any(v["Name"] == "quiet" for v in
                                     objects_of(o, "LogicalVolume").values()),
                  "an inactive LV made outside (metadata only)", 30)
    lvm("lvchange", "-ay", "--", "outsidevg/quiet")
    await settled(bus, lambda o: any(v["Name"] == "quiet" and v["Active"] for v in
                                     objects_of(o, "LogicalVolume").values()),
                  "the activation made outside", 30)
    refused = await call(bus, vg_path, "VolumeGroup", "Remove", "a{sv}", {})
    assert refused[1] == ERROR + "InvalidArgument" and "force" in refused[2]
    quiet = next(path for path, lv in objects_of(await bus.objects(), "LogicalVolume").items()
                 if lv["Name"] == "quiet")
    refused = await call(bus, quiet, "LogicalVolume", "Remove", "a{sv}", {})
    assert refused[1] == ERROR + "InvalidArgument" and "force" in refused[2]
    assert lvm_report("lvs", "-o", "lv_name", "--", "outsidevg/quiet")   # still there
    lvm("vgremove", "-y", "-f", "--", "outsidevg")
    await settled(bus, lambda o: vg_path not in o, "the VG removed outside", 30)


async def test_move_data_moves_the_bytes_off_a_pv_as_a_job(bus, luns, no_drift):
    first, second = luns[:2]
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, [first, second], {})
    await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "moved",
               40 * MiB, {})
    pattern = os.urandom(MiB)
    with open(f"/dev/{VG_NAME}/moved", "r+b") as handle:
        handle.write(pattern)
        handle.seek(39 * MiB)
        handle.write(pattern)
        handle.flush()
        os.fsync(handle.fileno())
    (pv,) = lvm_report("pvs", "-o", "pv_uuid,pv_used", "--", f"/dev/mapper/{first}")
    assert int(pv["pv_used"]) >= 40 * MiB                # the LV sits on the first PV
    pv_path = objpath.path("PhysicalVolume", pv["pv_uuid"])
    refused = await call(bus, vg_path, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}",
                         pv_path, {})
    assert refused[1] == ERROR + "Busy" and "move-data" in refused[2]
    (job_path,) = await call(bus, vg_path, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}",
                             pv_path, {"move-data": Variant("b", True)})
    assert job_path.startswith(f"{ROOT}/Job/")
    for _ in range(600):
        done = [m for m in bus.signals if m.member == "Completed" and m.path == job_path]
        if done:
            break
        await asyncio.sleep(0.2)
    assert done and done[0].body == [True, ""], done
    progress = [m.body[1]["Progress"].value for m in bus.signals
                if m.member == "PropertiesChanged" and m.path == job_path
                and "Progress" in m.body[1]]
    assert progress and progress[-1] == 1.0
    assert lvm_report("vgs", "-o", "pv_count", "--", VG_NAME)[0]["pv_count"] == "1"
    assert run("pvs", f"/dev/mapper/{first}", check=False).returncode != 0
    with open("/proc/sys/vm/drop_caches", "w") as caches:     # read from the new PV
        caches.write("3\n")
    with open(f"/dev/{VG_NAME}/moved", "rb") as handle:
        assert handle.read(MiB) == pattern
        handle.seek(39 * MiB)
        assert handle.read(MiB) == pattern


def lvm_runs_since(mark: int) -> list[str]:
    """The LVM commands the daemon ran since `mark` (a size of its log): its
    --debug log has one line per command it runs, when the command has ended."""
    return [line.split("runner: /sbin/lvm ", 1)[1].split()[0]
            for line in log_since(mark).splitlines() if "runner: /sbin/lvm " in line]


async def refreshed(mark: int, command: str) -> None:
    """Until the daemon has logged, after its run of LVM's `command` since `mark`,
    a refresh of VG_NAME read and published: the report that follows a change (or
    that a change makes before it replies)."""
    await logged(mark, lvm_refreshed(VG_NAME), f"refresh of {VG_NAME} after {command}",
                 after=f"runner: /sbin/lvm {command} ")


async def nothing_more(mark: int, quiet: float = 2) -> list[str]:
    """The LVM commands run since `mark`, once none more came for `quiet` seconds.
    Only for asserting that nothing else ran: what a test expects to have run is
    waited for as an event (`refreshed`), never by this."""
    loop = asyncio.get_running_loop()
    runs, since = lvm_runs_since(mark), loop.time()
    while loop.time() - since < quiet:
        await asyncio.sleep(0.2)
        if (now := lvm_runs_since(mark)) != runs:
            runs, since = now, loop.time()
    return runs


async def test_reads_run_no_lvm_and_each_change_its_command_and_one_report(
        bus, luns, no_drift):
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, luns[:2], {})
    mark = log_mark()
    (lv_path,) = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                            "counted", 4 * MiB, {})
    await refreshed(mark, "lvcreate")      # the report after the reply
    await nothing_more(log_mark())         # and the udev echoes of the new LV
    mark = log_mark()
    await bus.objects()
    await call(bus, vg_path, "VolumeGroup", "ListLogicalVolumes", "a{sv}", {})
    await call(bus, vg_path, "VolumeGroup", "ListPhysicalVolumes", "a{sv}", {})
    await call(bus, f"{ROOT}/Host", "Host", "EnumerateVolumeGroups", "a{sv}", {})
    await bus.call(lv_path, "GetAll", "s", [IFACE + "LogicalVolume"],
                   interface="org.freedesktop.DBus.Properties")
    assert await nothing_more(mark, quiet=1) == [], "reads ran LVM"
    # Extend and Remove of a plain active LV reply after their one command (the
    # state derived from the kernel's map), the report follows; Deactivate and
    # Activate read the VG before they reply
    for member, signature, args, by_reply, command in (
            ("Extend", "ta{sv}", [4 * MiB, {}], ["lvextend"], "lvextend"),
            ("Deactivate", "a{sv}", [{}], ["lvchange", "fullreport"], "lvchange"),
            ("Activate", "a{sv}", [{}], ["lvchange", "fullreport"], "lvchange"),
            ("Remove", "a{sv}", [{}], ["lvremove"], "lvremove")):
        await nothing_more(log_mark())     # the last change's udev echoes
        mark = log_mark()
        assert await call(bus, lv_path, "LogicalVolume", member, signature, *args) == []
        assert lvm_runs_since(mark) == by_reply, member
        objects = await bus.objects()
        if member == "Extend":             # what the reply showed is LVM's truth
            (row,) = lvm_report("lvs", "-o", "lv_size", "--", f"{VG_NAME}/counted")
            assert objects[lv_path][IFACE + "LogicalVolume"]["Size"] == \
                int(row["lv_size"]) == 8 * MiB
        if member == "Remove":
            assert lv_path not in objects
        # the refresh (after the reply, or before it), and nothing more
        await refreshed(mark, command)
        assert lvm_runs_since(mark) == [command, "fullreport"], member
        assert await nothing_more(mark) == [command, "fullreport"], member
    mark = log_mark()
    (again,) = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                          "again", 4 * MiB, {})
    assert lvm_runs_since(mark) == ["lvcreate"]
    props = (await bus.objects())[again][IFACE + "LogicalVolume"]
    (row,) = lvm_report("lvs", "-o", "lv_uuid,lv_size,lv_attr,lv_path", "--",
                        f"{VG_NAME}/again")
    assert (props["Uuid"], props["Size"], props["Attributes"], props["Path"]) == (
        row["lv_uuid"], int(row["lv_size"]), row["lv_attr"], row["lv_path"])
    await refreshed(mark, "lvcreate")
    assert await nothing_more(mark) == ["lvcreate", "fullreport"]


LVMLOCAL = Path("/etc/lvm/lvmlocal.conf")
DEVICES_DIR = Path("/etc/lvm/devices")
DEVICES_FILE = DEVICES_DIR / "system.devices"


def devices_file_entries() -> dict[str, str]:
    """DEVNAME → PVID of each entry in the system devices file, as lvmdevices lists
    them (`Device <name> IDTYPE=... PVID=...`, one line per entry). Debian's lvm2
    ships no `lvmdevices` link: `lvm lvmdevices` is the same command."""
    entries = {}
    for line in lvm("lvmdevices").stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if line.split()[:1] == ["Device"] and "DEVNAME" in fields:
            entries[fields["DEVNAME"]] = fields.get("PVID", "")
    return entries


@pytest.fixture
def devices_file(lab, luns):
    """LVM set to use a devices file for one test (use_devicesfile=1 in the guest's
    lvmlocal.conf, as Fedora and RHEL ship it), with no file yet, and the daemon
    restarted, since it reads the setting at start. After: the lab's lvmlocal.conf,
    no devices file, and the daemon restarted again. `luns` is set up first, so its
    clean-up runs without the devices file."""
    lab_conf = (TOP / "lab/lvmlocal.conf").read_text()
    assert "use_devicesfile = 0" in lab_conf and not DEVICES_DIR.exists()
    try:
        LVMLOCAL.write_text(lab_conf.replace("use_devicesfile = 0", "use_devicesfile = 1"))
        assert run("lvmconfig", "devices/use_devicesfile").stdout.strip() == \
            "use_devicesfile=1"
        lab.restart_daemon()
        yield DEVICES_FILE
    finally:
        LVMLOCAL.write_text(lab_conf)
        shutil.rmtree(DEVICES_DIR, ignore_errors=True)   # system.devices and its backups
        lab.restart_daemon()
    assert run("lvmconfig", "devices/use_devicesfile").stdout.strip() == "use_devicesfile=0"


async def test_with_a_devices_file_our_pvs_are_in_it_and_lvm_tools_see_them(
        bus, luns, devices_file, no_drift):
    first, second, third = luns
    # Set to use one, but no file: LVM then uses every device. `lvmdevices --adddev`
    # would create a file listing only our PV, hiding every other PV from LVM.
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, [third], {})
    assert not DEVICES_FILE.exists()          # (LVM itself may make the directory)
    assert [row["vg_name"] for row in lvm_report("vgs", "-o", "vg_name")] == [VG_NAME]
    assert await call(bus, vg_path, "VolumeGroup", "Remove", "a{sv}", {}) == []
    assert not DEVICES_FILE.exists()

    DEVICES_DIR.mkdir(exist_ok=True)
    DEVICES_FILE.touch()                 # an empty devices file: LVM uses no device
    devices = sorted(f"/dev/mapper/{wwid}" for wwid in (first, second))
    assert devices_file_entries() == {}
    assert lvm_report("pvs", "-o", "pv_name") == []
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, [first, second], {})
    # an administrator's plain pvs/vgs/lvs read the devices file: they see the VG
    pvs = lvm_report("pvs", "-o", "pv_name,pv_uuid,vg_name")
    assert sorted((row["pv_name"], row["vg_name"]) for row in pvs) == [
        (device, VG_NAME) for device in devices]
    assert devices_file_entries() == {
        row["pv_name"]: row["pv_uuid"].replace("-", "") for row in pvs}
    (vg,) = lvm_report("vgs", "-o", "vg_name,vg_uuid,pv_count")
    assert (vg["vg_name"], vg["pv_count"]) == (VG_NAME, "2")
    assert vg_path == objpath.path("VolumeGroup", vg["vg_uuid"])
    (lv_path,) = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                            "data", 8 * MiB, {})
    (lv,) = lvm_report("lvs", "-o", "lv_name,lv_uuid,lv_size,lv_attr")
    assert (lv["lv_name"], int(lv["lv_size"]), lv["lv_attr"][4]) == ("data", 8 * MiB, "a")
    assert lv_path == objpath.path("LogicalVolume", lv["lv_uuid"])

    assert await call(bus, vg_path, "VolumeGroup", "Remove", "a{sv}", {}) == []
    assert devices_file_entries() == {}                  # --deldev for both
    assert lvm_report("pvs", "-o", "pv_name") == []
    for device in devices:                               # and the labels are gone
        assert run("pvs", "--devices", device, device, check=False).returncode != 0
    await settled(bus, lambda o: vg_path not in o and not objects_of(o, "PhysicalVolume"),
                  "the VG and its PVs gone")


def vg_names_everywhere() -> list[str]:
    """Every VG name LVM finds on any device (no --devices: what the host sees)."""
    return lvm("vgs", "--noheadings", "-o", "vg_name").stdout.split()


def pv_label_on(wwid: str) -> bool:
    return run("pvs", "--devices", f"/dev/mapper/{wwid}", f"/dev/mapper/{wwid}",
               check=False).returncode == 0


async def test_two_concurrent_creates_of_one_name_make_one_volume_group(bus, luns):
    first, second = luns[:2]
    try:
        results = await asyncio.gather(*(
            call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup", "sasa{sv}",
                 VG_NAME, [wwid], {}) for wwid in (first, second)))
        assert vg_names_everywhere().count(VG_NAME) == 1, vg_names_everywhere()
        made = [r for r in results if r[0] != "error"]
        refused = [(wwid, r) for wwid, r in zip((first, second), results)
                   if r[0] == "error"]
        assert len(made) == 1 and len(refused) == 1, results
        (loser, error), = refused
        assert error[1] == ERROR + "AlreadyExists", error
        (row,) = [r for r in lvm_report("vgs", "-o", "vg_name,vg_uuid")
                  if r["vg_name"] == VG_NAME]
        assert made[0][0] == objpath.path("VolumeGroup", row["vg_uuid"])
        assert not pv_label_on(loser), f"a PV label was left on {loser}"
    finally:
        # two VGs of one name cannot be removed by name: by UUID each
        for row in lvm_report("vgs", "-o", "vg_name,vg_uuid"):
            if row["vg_name"] == VG_NAME:
                lvm("vgremove", "-y", "-f", "--select", f"vg_uuid={row['vg_uuid']}",
                    check=False)


async def test_sizes_round_up_to_whole_extents_whatever_their_bytes(bus, luns, no_drift):
    (vg_path,) = await call(bus, f"{ROOT}/Host", "StoragePool", "CreateVolumeGroup",
                            "sasa{sv}", VG_NAME, luns[:2], {})
    made = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                      "odd", 4 * MiB + 1, {})
    assert made[0] != "error", made
    (lv_path,) = made

    def size_of(name: str) -> int:
        return int(lvm_report("lvs", "-o", "lv_size", "--", f"{VG_NAME}/{name}")[0]
                   ["lv_size"])
    assert size_of("odd") == 8 * MiB                  # two 4 MiB extents
    grown = await call(bus, lv_path, "LogicalVolume", "Extend", "ta{sv}", 4 * MiB + 3, {})
    assert grown == [], grown
    assert size_of("odd") == 16 * MiB
    snap = await call(bus, lv_path, "LogicalVolume", "Snapshot", "sta{sv}", "oddsnap",
                      4 * MiB + 5, {})
    assert snap[0] != "error", snap
    assert size_of("oddsnap") == 8 * MiB
    objects = await bus.objects()
    assert objects[lv_path][IFACE + "LogicalVolume"]["Size"] == 16 * MiB
    assert objects[snap[0]][IFACE + "LogicalVolume"]["Size"] == 8 * MiB

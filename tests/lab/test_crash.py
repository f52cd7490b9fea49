# SPDX-License-Identifier: LGPL-2.1-or-later
"""SIGKILL at every step of every multi-step change, then a restart (crash.py): the
host must be in a state someone owns. The change is finished or undone, no intent
record is left, no PV label is left in no VG, no node record holding our CHAP
secret is left for a login that did not happen, no mount point directory of ours
is left empty, and the exported objects match the system's tools (vgs/pvs/lvs,
iscsiadm -m session, /proc/self/mountinfo).

Crash points are "<intent kind>:<step>" (engine/intents.py). What each one leaves
is written to logs/crash-outcomes.log, for the issue's figures. A snapshot is one
lvcreate, which LVM commits whole or not at all: its two points (record written,
and the command done) show that nothing is half-made at either.

Each point costs a daemon start (seconds under TCG) and most an LVM set-up, so
the lab takes the points where recovery has work to do or a state of its own:
CreateVolumeGroup's four (as before), and for each other change the steps
where something is half-made, one of each kind of recovery. The rest ("started"
where nothing was done yet, "before-end" where everything was, a PV removal's
"vgreduce-done", whose label wipe is remove-vg's) are killed for real in
tests/unit/test_recovery.py (iSCSI, NFS: a child process SIGKILLs itself at the
point) or recovered there from the record they leave (LVM, on LVM-shaped reports).
"""

import asyncio
import os
import signal
from pathlib import Path

import pytest
from dbus_fast import Variant

from lab import host as labhost
from crash import NO_REPLY, crash_at
from labbus import IFACE, ROOT
from lab.host import (CHAP_PASSWORD, CHAP_TARGET, CHAP_USER, LOGS, iscsi_sessions,
                     lvm_report, mounted, run)
from solidice_storage import objpath
from test_lvm import (MANAGED_TAG, VG_NAME, MiB, call, luns, no_drift,  # noqa: F401
                      settled)
from test_nfs import BASE, V4_EXPORT, clean, mount  # noqa: F401 (fixtures)

INTENTS = Path("/var/lib/solidice-storage/intents")
HOST = f"{ROOT}/Host"
PORTAL = "127.0.0.2"            # the CHAP target's record there is made by the login


def outcome(point: str, text: str) -> None:
    with open(LOGS / "crash-outcomes.log", "a") as log:
        log.write(f"{point}: {text}\n")


async def killed_at(lab, point: str, work):
    """Run `work()` against a daemon armed to die at `point`; after the restart,
    no record of the change is left: it was finished or undone at start."""
    with crash_at(lab, point) as crash:
        reply = await work()
    assert crash.died and crash.status == -signal.SIGKILL, crash
    assert not list(INTENTS.glob("*.json")), "an intent record outlived the restart"
    return reply


def no_reply(reply) -> bool:
    return tuple(reply[:2]) == ("error", NO_REPLY)


def vg_rows() -> list[dict]:
    return [r for r in lvm_report("vgs", "-o", "vg_name,vg_uuid,pv_count,vg_tags")
            if r["vg_name"] == VG_NAME]


def is_pv(wwid: str) -> bool:
    return run("pvs", f"/dev/mapper/{wwid}", check=False).returncode == 0


async def create_vg(bus, wwids) -> str:
    (vg_path,) = await call(bus, HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}",
                            VG_NAME, list(wwids), {})
    return vg_path


# ---- volume groups ----

# The recovery decisions behind each point are also unit-tested without a kernel
# (tests/unit/lvm/, tests/unit/iscsi/, tests/unit/nfs/ test_recovery.py); here the
# daemon is really killed there and the host checked with LVM's own tools.
@pytest.mark.parametrize("point, completed", [
    ("create-vg:started", False),            # record written, nothing done
    ("create-vg:pvcreate-done", False),      # labels written, no VG: wiped at restart
    ("create-vg:vgcreate-done", True),       # the VG exists: kept, it is what was asked
    ("create-vg:before-end", True),
])
async def test_create_volume_group_killed_at_each_step_leaves_a_clean_host(
        lab, bus, luns, no_drift, point, completed):
    first, second = luns[:2]
    reply = await killed_at(lab, point, lambda: call(
        bus, HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}", VG_NAME,
        [first, second], {}))
    assert no_reply(reply), reply
    rows = vg_rows()
    if completed:
        (row,) = rows
        assert row["pv_count"] == "2" and MANAGED_TAG in row["vg_tags"]
        vg_path = objpath.path("VolumeGroup", row["vg_uuid"])
        await settled(bus, lambda o: vg_path in o, "the VG after the restart")
        assert await call(bus, vg_path, "VolumeGroup", "Remove", "a{sv}", {}) == []
    else:
        assert rows == []
    for wwid in (first, second):                          # no label nobody owns
        assert not is_pv(wwid), wwid
    outcome(point, "finished: the VG" if completed else "undone: no VG, no labels")


@pytest.mark.parametrize("point, completed", [
    ("remove-vg:started", False),            # nothing done: the VG stays, whole
    ("remove-vg:vgremove-done", True),       # VG gone, labels left: wiped at restart
])
async def test_remove_volume_group_killed_at_each_step_leaves_a_clean_host(
        lab, bus, luns, no_drift, point, completed):
    first, second = luns[:2]
    vg_path = await create_vg(bus, [first, second])
    reply = await killed_at(lab, point, lambda: call(bus, vg_path, "VolumeGroup",
                                                     "Remove", "a{sv}", {}))
    assert no_reply(reply), reply
    rows = vg_rows()
    if completed:
        assert rows == []
        assert not is_pv(first) and not is_pv(second)
        await settled(bus, lambda o: vg_path not in o, "the VG gone after the restart")
    else:
        (row,) = rows
        assert row["pv_count"] == "2" and objpath.path("VolumeGroup", row["vg_uuid"]) \
            == vg_path
        await settled(bus, lambda o: vg_path in o, "the VG after the restart")
    outcome(point, "finished: VG and labels gone" if completed
            else "undone: the VG as it was")


# ---- a PV removed with its data moved off (a job) ----

def pvmoves() -> list[str]:
    return [r["lv_name"] for r in lvm_report("lvs", "-a", "-o", "lv_name,lv_attr")
            if r["lv_attr"].startswith("p")]


@pytest.mark.parametrize("point, size, completed", [
    # mid-move: aborted (atomic: every extent back), or finished if pvmove, which
    # outlives the daemon, was done by then; the bigger LV is usually still moving
    ("remove-pv:moving", 40 * MiB, None),
    ("remove-pv:pvmove-done", 24 * MiB, True),    # moved, PV still in: reduced
])
async def test_remove_pv_with_its_data_moved_killed_at_each_step_loses_no_byte(
        lab, bus, luns, no_drift, point, size, completed):
    first, second = luns[:2]
    vg_path = await create_vg(bus, [first, second])
    await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "moved",
               size, {})
    pattern = os.urandom(MiB)
    with open(f"/dev/{VG_NAME}/moved", "r+b") as handle:
        handle.write(pattern)
        handle.seek(size - MiB)
        handle.write(pattern)
        handle.flush()
        os.fsync(handle.fileno())
    (pv,) = lvm_report("pvs", "-o", "pv_uuid,pv_used", "--", f"/dev/mapper/{first}")
    assert int(pv["pv_used"]) >= size                # the LV sits on the first PV
    reply = await killed_at(lab, point, lambda: call(
        bus, vg_path, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}",
        objpath.path("PhysicalVolume", pv["pv_uuid"]), {"move-data": Variant("b", True)}))
    # the job's path is the reply, unless the daemon died before it was sent
    assert no_reply(reply) or reply[0].startswith(f"{ROOT}/Job/"), reply
    assert pvmoves() == [], "a pvmove was left in the VG's metadata"
    (row,) = vg_rows()
    finished = row["pv_count"] == "1"
    assert finished == (not is_pv(first)), "the PV's label outlived its removal"
    if completed is not None:
        assert finished == completed, row
    with open("/proc/sys/vm/drop_caches", "w") as caches:
        caches.write("3\n")
    with open(f"/dev/{VG_NAME}/moved", "rb") as handle:
        assert handle.read(MiB) == pattern
        handle.seek(size - MiB)
        assert handle.read(MiB) == pattern
    pv_path = objpath.path("PhysicalVolume", pv["pv_uuid"])
    await settled(bus, lambda o: (pv_path in o) != finished, "the PV's object")
    outcome(point, "finished: PV out, label wiped, data on the other PV" if finished
            else "undone: PV in the VG with its data, no move left")


# ---- an LV snapshot: one lvcreate ----

@pytest.mark.parametrize("point, completed", [
    ("snapshot-lv:started", False),
    ("snapshot-lv:before-end", True),
])
async def test_snapshot_killed_before_and_after_its_lvcreate_is_whole_or_absent(
        lab, bus, luns, no_drift, point, completed):
    vg_path = await create_vg(bus, luns[:1])
    (origin_path,) = await call(bus, vg_path, "VolumeGroup", "CreateLogicalVolume",
                                "sta{sv}", "origin", 16 * MiB, {})
    reply = await killed_at(lab, point, lambda: call(
        bus, origin_path, "LogicalVolume", "Snapshot", "sta{sv}", "snap", 8 * MiB, {}))
    assert no_reply(reply), reply
    rows = {r["lv_name"]: r for r in lvm_report(
        "lvs", "-o", "lv_name,lv_uuid,origin_uuid", "--", VG_NAME)}
    if completed:
        origin = objpath.parse(origin_path)[1]
        assert rows["snap"]["origin_uuid"] == origin, rows
        snap_path = objpath.path("LogicalVolume", rows["snap"]["lv_uuid"])
        await settled(bus, lambda o: snap_path in o, "the snapshot after the restart")
    else:
        assert set(rows) == {"origin"}, rows
    outcome(point, "finished: the snapshot" if completed else "undone: no snapshot")


# ---- an iSCSI login with CHAP ----

def node_records() -> list[Path]:
    base = Path(f"/etc/iscsi/nodes/{CHAP_TARGET}")
    found = []
    for entry in base.glob(f"{PORTAL},3260*"):
        found.append(entry / "default" if entry.is_dir() else entry)
    return found


def exported_sessions(objects: dict) -> set[tuple[str, str]]:
    return {(props["Target"], props["Portal"].rsplit(":", 1)[0])
            for ifaces in objects.values()
            for name, props in ifaces.items() if name == IFACE + "IscsiSession"}


@pytest.fixture
async def chap_login(lab, bus):
    """No session to the CHAP target through PORTAL and no record for it (the
    login creates one); the same again after the test."""
    def forget() -> None:
        run("iscsiadm", "-m", "node", "-T", CHAP_TARGET, "-p", f"{PORTAL}:3260", "-o",
            "delete", check=False)
    forget()
    yield
    if (CHAP_TARGET, PORTAL) in iscsi_sessions():
        assert await bus.host("LogoutIscsi", "ssa{sv}", PORTAL, CHAP_TARGET, {}) == []
    forget()
    labhost.settle()


@pytest.mark.parametrize("point, completed", [
    ("iscsi-login:record-created", False),   # our record, no secret yet: deleted
    ("iscsi-login:settings-written", False),  # our record with the secret: deleted
    ("iscsi-login:logged-in", True),         # a session: kept, login bounds put back
])
async def test_iscsi_login_killed_at_each_step_leaves_no_secret_behind(
        lab, bus, chap_login, point, completed):
    chap = {"username": Variant("s", CHAP_USER), "password": Variant("s", CHAP_PASSWORD)}
    reply = await killed_at(lab, point, lambda: bus.host(
        "LoginIscsi", "ssa{sv}", PORTAL, CHAP_TARGET, chap))
    assert no_reply(reply), reply
    records = node_records()
    assert ((CHAP_TARGET, PORTAL) in iscsi_sessions()) == completed
    if completed:
        (record,) = records
        text = record.read_text()
        assert "node.session.initial_login_retry_max = 8" in text     # bounds back
        assert "node.conn[0].timeo.login_timeout = 15" in text
    else:
        assert records == [], "a node record was left for a login that did not happen"
        assert not [p for p in Path("/etc/iscsi").rglob("*") if p.is_file()
                    and f"{PORTAL}," in str(p)
                    and CHAP_PASSWORD in p.read_text(errors="replace")], \
            "our CHAP secret was left in iscsiadm's database"
    await settled(bus, lambda o: exported_sessions(o) == iscsi_sessions(),
                  "the exported sessions to match iscsiadm -m session")
    outcome(point, "finished: session, record with its bounds back" if completed
            else "undone: no session, no record, no secret")


# ---- an NFS mount ----

def nfs_mounted() -> set[str]:
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split(" - ", 1)[1].split()[0] in ("nfs", "nfs4")}


async def exported_mount_paths(bus) -> set[str]:
    return {props["LocalPath"] for ifaces in (await bus.objects()).values()
            for name, props in ifaces.items() if name == IFACE + "Mount"}


@pytest.mark.parametrize("point, persistent, completed", [
    ("nfs-mount:mountpoint-ready", False, False),   # directories made: removed again
    ("nfs-mount:mounted", False, True),             # mounted: kept
    ("nfs-mount:mountpoint-ready", True, True),     # recorded persistent: the keeper
])
async def test_nfs_mount_killed_at_each_step_leaves_no_mount_point_of_ours(
        lab, bus, clean, point, persistent, completed):
    top = f"{BASE}/nfs-crash"
    local = f"{top}/mnt"
    assert not Path(top).exists()
    reply = await killed_at(lab, point, lambda: mount(
        bus, local, V4_EXPORT, vers="4.2", create_mountpoint=True, persistent=persistent))
    assert no_reply(reply), reply
    if completed:
        for _ in range(240):          # a persistent one: made again once serving
            if mounted(local) is not None:
                break
            await asyncio.sleep(0.25)
        assert mounted(local)["source"].endswith(f":{V4_EXPORT}"), mounted(local)
    else:
        assert mounted(local) is None and not Path(top).exists(), \
            "a mount point directory of ours was left"
    for _ in range(40):
        if await exported_mount_paths(bus) == nfs_mounted():
            break
        await asyncio.sleep(0.25)
    assert await exported_mount_paths(bus) == nfs_mounted()
    outcome(point + (" (persistent)" if persistent else ""),
            "finished: mounted" if completed else "undone: no mount, no directory")

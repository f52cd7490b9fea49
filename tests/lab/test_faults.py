# SPDX-License-Identifier: LGPL-2.1-or-later
"""Faults the daemon must live through without a restart, each checked with the
system's own tools: every path of a multipathed PV lost while its LV is active and
in use, then restored; an iSCSI target deleted on the array during a login and
while logged in; an NFS server that dies before an unmount. Throughout, other
callers keep being answered (a reader polls the daemon and its worst latency is
bounded), and afterwards the exported objects agree with LVM, iscsiadm and
/proc/self/mountinfo. Latencies go to logs/faults.log for the issue's note."""

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from dbus_fast import Variant

from lab import host as labhost
from labbus import ERROR, IFACE, ROOT
from lab.host import (LOGS, NFS_ADDRESS, SILENT_PORTAL, TOP, iscsi_sessions, lvm,
                     lvm_report, mounted, multipath_maps, run, settle, wait_for)
from solidice_storage import objpath
from waits import iscsi_login_running

HOST = f"{ROOT}/Host"
POOL = IFACE + "StoragePool"
MiB = 1024**2
GONE = "iqn.2026-11.org.solidice.lab:gone"


def note(text: str) -> None:
    with open(LOGS / "faults.log", "a") as log:
        log.write(text + "\n")


class Reader:
    """Asks the daemon for its objects and a property, again and again, in the
    background; the latencies say whether the loop was ever held up."""

    def __init__(self, bus) -> None:
        self.bus = bus
        self.latencies: list[float] = []
        self.errors: list = []
        self._task = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            version = await self.bus.call(HOST, "Get", "ss", [IFACE + "Host", "Version"],
                                          interface="org.freedesktop.DBus.Properties",
                                          timeout=60)
            if version[0] == "error":
                self.errors.append(version)
            await self.bus.objects()
            self.latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.2)

    def __enter__(self) -> "Reader":
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()

    def check(self, what: str, bound: float = 5) -> None:
        assert not self._task.done() or self._task.cancelled(), self._task
        assert self.latencies and not self.errors, (self.latencies, self.errors)
        worst = max(self.latencies)
        note(f"{what}: {len(self.latencies)} Get+GetManagedObjects while it lasted, "
             f"worst {worst:.3f} s, median {sorted(self.latencies)[len(self.latencies) // 2]:.3f} s")
        assert worst < bound, f"{what}: a read took {worst:.2f} s"


async def until(check, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        await asyncio.sleep(0.25)


def set_state(device: str, state: str) -> None:
    Path(f"/sys/block/{device}/device/state").write_text(state + "\n")


@pytest.fixture
async def pv_on_a_lun(bus, lab):
    """A managed VG on one data LUN with an active 8 MiB LV full of a known pattern."""
    wwid = sorted(multipath_maps())[-1]
    (vg,) = await bus.call(HOST, "CreateVolumeGroup", "sasa{sv}",
                           ["faultvg", [wwid], {}], interface=POOL)
    (lv,) = await bus.call(vg, "CreateLogicalVolume", "sta{sv}", ["faultlv", 8 * MiB, {}],
                           interface=IFACE + "VolumeGroup")
    pattern = os.urandom(MiB)
    with open("/dev/faultvg/faultlv", "wb") as device:
        device.write(pattern)
        os.fsync(device.fileno())
    paths = [device for device, _ in multipath_maps()[wwid]]
    yield {"wwid": wwid, "vg": vg, "lv": lv, "pattern": pattern, "paths": paths}
    for device in paths:
        set_state(device, "running")
    wait_for(lab.data_paths_ready, "the paths to come back", 90)
    lvm("vgremove", "-y", "-f", "--", "faultvg", check=False)
    lvm("pvremove", "-y", "-ff", "--", f"/dev/mapper/{wwid}", check=False)
    run("wipefs", "-a", "--", f"/dev/mapper/{wwid}", check=False)
    run("udevadm", "trigger", "--settle", "--action=change", "--", f"/dev/mapper/{wwid}")
    settle()


async def test_every_path_of_a_pv_lost_with_its_lv_active_then_restored(
        bus, lab, pv_on_a_lun):
    wwid, lun = pv_on_a_lun["wwid"], objpath.path("Lun", pv_on_a_lun["wwid"])
    pid = lab.services["solidice-storaged"].pid
    holder = open("/dev/faultvg/faultlv", "rb")            # in use, as a VM's disk is
    try:
        with Reader(bus) as reader:
            started = time.monotonic()
            for device in pv_on_a_lun["paths"]:
                set_state(device, "offline")

            async def all_failed():
                objects = await bus.objects()
                return [s for _, s in objects[lun][IFACE + "Lun"]["Paths"]] == \
                    ["failed", "failed"]
            await until(all_failed, "both paths failed in Lun.Paths", 60)
            note(f"all paths lost: Lun.Paths says failed after "
                 f"{time.monotonic() - started:.2f} s")
            assert [state for _, state in multipath_maps()[wwid]] == ["failed", "failed"]
            # what LVM itself says now: the PV unreadable, the VG partial
            report = lvm("vgs", "--noheadings", "-o", "vg_attr", "--", "faultvg",
                         check=False, timeout=120)
            note(f"vgs with no path: exit {report.returncode}, "
                 f"attr {report.stdout.strip()!r}")
            info = await bus.host("GetBlockInfo", "sa{sv}", wwid, {}, timeout=60)
            assert info[0] != "error", info

            async def vg_partial():
                objects = await bus.objects()
                return objects[pv_on_a_lun["vg"]][IFACE + "VolumeGroup"]["Partial"]
            await until(vg_partial, "VolumeGroup.Partial with its LUN's paths gone", 30)
            # a report of the VG now (LVM sees no VG at all) loses nothing: its
            # metadata backup rewritten, as an outside change would, sets one off
            backup = Path("/etc/lvm/backup/faultvg")
            backup.write_text(backup.read_text())
            daemon_log = LOGS / "solidice-storaged.log"

            async def reported():
                return "faultvg: LVM cannot read them" in daemon_log.read_text()
            await until(reported, "the report of the VG with no path", 90)
            objects = await bus.objects()
            assert objects[pv_on_a_lun["vg"]][IFACE + "VolumeGroup"]["Partial"]
            assert objects[pv_on_a_lun["lv"]][IFACE + "LogicalVolume"]["Active"]
            reader.check("every path of a PV lost")

            restored = time.monotonic()
            for device in pv_on_a_lun["paths"]:
                set_state(device, "running")

            async def all_active():
                objects = await bus.objects()
                return [s for _, s in objects[lun][IFACE + "Lun"]["Paths"]] == \
                    ["active", "active"]
            await until(all_active, "both paths active again in Lun.Paths", 90)
            note(f"paths restored: Lun.Paths active after "
                 f"{time.monotonic() - restored:.2f} s")
            reader.check("every path of a PV lost, then restored")
        wait_for(lab.data_paths_ready, "multipath's paths to be active", 60)
        holder.seek(0)
        assert holder.read(MiB) == pv_on_a_lun["pattern"], "the LV's data changed"
    finally:
        holder.close()
    assert lab.services["solidice-storaged"].pid == pid, "the daemon was restarted"
    (row,) = lvm_report("lvs", "-o", "lv_name,lv_attr", "--", "faultvg/faultlv")
    assert row["lv_attr"][4] == "a" and row["lv_attr"][3] != "p"

    async def agrees():
        objects = await bus.objects()
        vg = objects[pv_on_a_lun["vg"]][IFACE + "VolumeGroup"]
        lv = objects[pv_on_a_lun["lv"]][IFACE + "LogicalVolume"]
        return not vg["Partial"] and lv["Active"] and objects[lun][IFACE + "Lun"][
            "PhysicalVolume"] in vg["PhysicalVolumes"]
    await until(agrees, "the VG whole again and the LV active, as LVM says", 60)


def targets_tool(*args: str) -> str:
    return run(sys.executable, str(TOP / "lab/iscsi_targets.py"), *args).stdout.strip()


@pytest.fixture
def gone_target(lab):
    """A one-LUN target on the spare portal, for deleting; whatever is left of it
    (sessions, records, the target) is cleared after."""
    maps_before = set(multipath_maps())
    targets_tool("setup", f"{GONE}:1", "--portals", SILENT_PORTAL, "--size-mib", "16")
    yield GONE
    if (GONE, SILENT_PORTAL) in iscsi_sessions():
        run("iscsiadm", "-m", "node", "-T", GONE, "-p", SILENT_PORTAL, "--logout",
            check=False, timeout=120)
    run("iscsiadm", "-m", "node", "-T", GONE, "-o", "delete", check=False)
    run(sys.executable, str(TOP / "lab/iscsi_targets.py"), "remove-target", GONE,
        check=False)
    # the gone LUN's map only: `multipath -F` would flush the data LUNs' maps too
    # (none is open between tests) and wait for all of them to be made again
    for name in set(multipath_maps()) - maps_before:
        run("multipath", "-f", name, check=False)
    settle()
    wait_for(lab.data_paths_ready, "the data paths", 90)


async def test_a_target_deleted_during_a_login_fails_it_and_leaves_nothing(
        bus, lab, silence, gone_target):
    silence(SILENT_PORTAL)                         # the login waits on a connect...
    with Reader(bus) as reader:
        started = time.monotonic()
        login = asyncio.ensure_future(bus.host(
            "LoginIscsi", "ssa{sv}", SILENT_PORTAL, GONE, {"timeout": Variant("u", 30)},
            timeout=120))
        await iscsi_login_running(GONE, SILENT_PORTAL)
        targets_tool("remove-target", GONE)        # ...while the array deletes the target
        lab.firewall.heal(SILENT_PORTAL)
        reply = await login
        took = time.monotonic() - started
        reader.check("LoginIscsi to a target deleted meanwhile")
    note(f"LoginIscsi to a target deleted during the login: {reply[:2]} after {took:.2f} s")
    assert reply[0] == "error" and reply[1].startswith(ERROR), reply
    assert reply[1] != ERROR + "Failed" or "Traceback" not in reply[2]
    assert took < 30 + 30
    assert (GONE, SILENT_PORTAL) not in iscsi_sessions()
    assert not Path(f"/etc/iscsi/nodes/{GONE}").exists(), "the failed login left its record"
    objects = await bus.objects()
    assert objpath.path("IscsiSession", f"{GONE}@{SILENT_PORTAL}:3260") not in objects


async def test_a_target_deleted_while_logged_in_then_logged_out(bus, lab, gone_target):
    (luns,) = await bus.host("EnumerateIscsiLuns", "ssa{sv}", SILENT_PORTAL, GONE, {},
                             timeout=180)
    assert len(luns) == 1
    session = objpath.path("IscsiSession", f"{GONE}@{SILENT_PORTAL}:3260")
    wwid = objpath.parse(luns[0])[1]
    with Reader(bus) as reader:
        deleted = time.monotonic()
        targets_tool("remove-target", GONE)

        async def failed():
            objects = await bus.objects()
            return luns[0] in objects and [s for _, s in objects[luns[0]][IFACE + "Lun"][
                "Paths"]] == ["failed"]
        await until(failed, "the gone target's LUN with its path failed", 90)
        note(f"target deleted while logged in: Lun.Paths failed after "
             f"{time.monotonic() - deleted:.2f} s")
        (enumerated,) = await bus.host("EnumerateLuns", "a{sv}", {}, timeout=60)
        assert luns[0] in enumerated
        info = await bus.host("GetBlockInfo", "sa{sv}", wwid, {}, timeout=60)
        assert info[0] != "error", info
        reader.check("a logged-in target deleted on the array")

        started = time.monotonic()
        reply = await bus.call(session, "Logout", "a{sv}", [{}],
                               interface=IFACE + "IscsiSession", timeout=180)
        note(f"Logout of the session to a deleted target: {reply} after "
             f"{time.monotonic() - started:.2f} s")
        reader.check("a logged-in target deleted, then logged out")
    assert reply == [], reply
    assert (GONE, SILENT_PORTAL) not in iscsi_sessions()

    async def gone():
        objects = await bus.objects()
        return session not in objects and luns[0] not in objects
    await until(gone, "the session and its LUN gone from the tree", 60)


async def test_an_nfs_server_dead_before_an_unmount(bus, lab, silence):
    local = "/mnt/lab/nfs-dead"
    reply = await bus.call(HOST, "MountNfs", "sssa{sv}",
                           [NFS_ADDRESS, "/srv/nfs/export", local,
                            {"vers": Variant("s", "3"),
                             "create-mountpoint": Variant("b", True)}], interface=POOL)
    assert reply == [objpath.path("Mount", local)], reply
    try:
        silence(NFS_ADDRESS)
        with Reader(bus) as reader:
            mount_props = await bus.call(objpath.path("Mount", local), "GetAll", "s",
                                         [IFACE + "Mount"],
                                         interface="org.freedesktop.DBus.Properties")
            assert mount_props[0] != "error", mount_props
            started = time.monotonic()
            plain = await bus.call(HOST, "Unmount", "sba{sv}", [local, False, {}],
                                   interface=POOL, timeout=180)
            took = time.monotonic() - started
            note(f"Unmount (no force) with the NFS server dead: {plain} after {took:.2f} s")
            reader.check("Unmount with the NFS server dead")
        # either it went (nothing to write back), or a named error and still there
        if plain == []:
            assert mounted(local) is None
        else:
            assert plain[0] == "error" and plain[1] in (ERROR + "Timeout", ERROR + "Busy"), \
                plain
            assert mounted(local) is not None
            assert await bus.call(HOST, "Unmount", "sba{sv}", [local, True, {}],
                                  interface=POOL, timeout=120) == []
            assert mounted(local) is None
        objects = await bus.objects()
        assert objpath.path("Mount", local) not in objects
    finally:
        lab.firewall.heal(NFS_ADDRESS)
        if mounted(local) is not None:
            run("umount", "-f", "-l", local, check=False)
        if Path(local).is_dir():
            Path(local).rmdir()

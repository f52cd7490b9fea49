# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real engine's iSCSI and rescans against the lab's LIO targets: discovery,
CHAP logins (wrong and right), automatic startup, logout, sessions ended behind the
daemon's back, a silent portal, and LUNs added and grown on the array. Checked with
iscsiadm, multipathd, LVM, sysfs and /proc, not only with the daemon's answers."""

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from dbus_fast import Variant

from lab import host as labhost
from labbus import IFACE, ROOT
from lab.host import (CHAP_PASSWORD, CHAP_TARGET, CHAP_USER, DATA_TARGET,
                     LUN_SIZE, MiB, SILENT_PORTAL, TOP, iscsi_sessions, lvm, lvm_report,
                     multipath_maps, run, settle, wait_for)
from waits import iscsi_login_running


def chap(user: str = CHAP_USER, password: str = CHAP_PASSWORD, **more) -> dict:
    return {"username": Variant("s", user), "password": Variant("s", password), **more}


def session_path(target: str, portal: str) -> str:
    from solidice_storage import objpath
    return objpath.path("IscsiSession", f"{target}@{portal}")


class CommandLines:
    """Every process's command line, sampled until stopped: secrets must not show."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        self.seen.add(Path(f"/proc/{pid}/cmdline").read_bytes()
                                      .replace(b"\0", b" ").decode(errors="replace"))
                    except OSError:
                        pass
            time.sleep(0.005)

    def __enter__(self) -> "CommandLines":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def chap_cleanup(lab):
    yield
    # only the CHAP LUN's map: `multipath -F` would flush the data LUNs' maps too
    # whenever none of them is open, and the tests after this one need them
    (wwn,) = lab.targets.wwns[CHAP_TARGET]
    chap_map = "36001405" + wwn.replace("-", "")[:25]
    for portal in labhost.PORTALS:
        if (CHAP_TARGET, portal) in iscsi_sessions():
            run("multipath", "-f", chap_map, check=False)
            labhost.iscsi_logout(CHAP_TARGET, portal)
        run("iscsiadm", "-m", "node", "-T", CHAP_TARGET, "-p", f"{portal}:3260", "-o",
            "update", "-n", "node.startup", "-v", "manual", check=False)
    settle()


async def test_discovery_lists_every_target_and_writes_no_record(bus):
    records = sorted(str(p) for p in Path("/etc/iscsi/nodes").rglob("*"))
    (found,) = await bus.host("DiscoverIscsiTargets", "sa{sv}", "127.0.0.1", {})
    expected = {(target, f"{address}:3260") for target in (DATA_TARGET, CHAP_TARGET)
                for address in (*labhost.PORTALS, SILENT_PORTAL)}
    assert {tuple(pair) for pair in found} == expected and len(found) == len(expected)
    assert sorted(str(p) for p in Path("/etc/iscsi/nodes").rglob("*")) == records
    started = time.monotonic()
    error = await bus.host("DiscoverIscsiTargets", "sa{sv}", "127.0.0.9:3260", {})
    assert error[:2] == ("error", "org.solidice.Storage.Error.Failed"), error
    assert "Connection refused" in error[2] and time.monotonic() - started < 30


async def test_chap_target_refuses_a_wrong_secret_and_takes_the_right_one(
        bus, lab, chap_cleanup):
    portal = "127.0.0.1:3260"
    with CommandLines() as lines:
        wrong = await bus.host("EnumerateIscsiLuns", "ssa{sv}", "127.0.0.1", CHAP_TARGET,
                               chap(password="wrong-secret-9"))
        assert wrong[:2] == ("error", "org.solidice.Storage.Error.Failed"), wrong
        assert "authorization failure" in wrong[2] and "wrong-secret-9" not in wrong[2]
        assert (CHAP_TARGET, "127.0.0.1") not in iscsi_sessions()
        assert not list(Path(f"/etc/iscsi/nodes/{CHAP_TARGET}").glob("127.0.0.1,3260")), \
            "the failed login left the record it made"
        (luns,) = await bus.host("EnumerateIscsiLuns", "ssa{sv}", "127.0.0.1", CHAP_TARGET,
                                 chap(**{"node-startup": Variant("s", "automatic")}))
    assert not [line for line in lines.seen
                if "wrong-secret-9" in line or CHAP_PASSWORD in line], \
        "a CHAP secret appeared on a command line"
    assert CHAP_PASSWORD not in (labhost.LOGS / "solidice-storaged.log").read_text()
    assert (CHAP_TARGET, "127.0.0.1") in iscsi_sessions()
    (wwn,) = lab.targets.wwns[CHAP_TARGET]
    wwid = "36001405" + wwn.replace("-", "")[:25]
    assert luns == [f"{ROOT}/Lun/{wwid}"]
    assert wwid in multipath_maps()
    objects = await bus.objects()
    assert CHAP_PASSWORD not in repr(objects), "a CHAP secret in a property"
    lun = objects[luns[0]][IFACE + "Lun"]
    assert lun["Device"] == f"/dev/mapper/{wwid}" and lun["Size"] == LUN_SIZE
    assert [state for _, state in lun["Paths"]] == ["active"]
    session = objects[session_path(CHAP_TARGET, portal)][IFACE + "IscsiSession"]
    assert (session["Target"], session["Portal"], session["Luns"]) == (
        CHAP_TARGET, portal, luns)
    shown = run("iscsiadm", "-m", "node", "-T", CHAP_TARGET, "-p", portal).stdout
    assert "node.startup = automatic" in shown
    assert "node.session.initial_login_retry_max = 8" in shown     # bounds put back

    # and out again: the session, its map and both objects are gone
    assert await bus.host("LogoutIscsi", "ssa{sv}", "127.0.0.1", CHAP_TARGET, {}) == []
    assert (CHAP_TARGET, "127.0.0.1") not in iscsi_sessions()
    assert wwid not in multipath_maps()
    objects = await bus.objects()
    assert luns[0] not in objects and session_path(CHAP_TARGET, portal) not in objects
    error = await bus.host("LogoutIscsi", "ssa{sv}", "127.0.0.1", CHAP_TARGET, {})
    assert error[1] == "org.solidice.Storage.Error.NotFound"


async def test_login_without_login_option_and_logout_as_the_session_object(
        bus, chap_cleanup):
    error = await bus.host("EnumerateIscsiLuns", "ssa{sv}", "127.0.0.2", CHAP_TARGET,
                           {"login": Variant("b", False)})
    assert error[1] == "org.solidice.Storage.Error.NotFound"
    (path,) = await bus.host("LoginIscsi", "ssa{sv}", "127.0.0.2", CHAP_TARGET, chap())
    assert path == session_path(CHAP_TARGET, "127.0.0.2:3260")
    assert (CHAP_TARGET, "127.0.0.2") in iscsi_sessions()
    (again,) = await bus.host("LoginIscsi", "ssa{sv}", "127.0.0.2", CHAP_TARGET, {})
    assert again == path                          # already there: nothing to do
    await bus.call(path, "Logout", "a{sv}", [{}], interface=IFACE + "IscsiSession")
    assert (CHAP_TARGET, "127.0.0.2") not in iscsi_sessions()


async def test_a_session_logged_out_behind_the_back_loses_its_object(
        bus, session_behind_the_back):
    path = session_path(DATA_TARGET, f"{labhost.PORTALS[1]}:3260")
    assert path in await bus.objects()
    session_behind_the_back()
    for _ in range(100):
        if path not in await bus.objects():
            break
        await asyncio.sleep(0.2)
    objects = await bus.objects()
    assert path not in objects
    assert any(m.member == "InterfacesRemoved" and m.body[0] == path for m in bus.signals)

    def one_path_each(objects):            # the path devices go a moment after the session
        return all(len(objects[f"{ROOT}/Lun/{wwid}"][IFACE + "Lun"]["Paths"]) == 1
                   for wwid in multipath_maps())
    for _ in range(100):
        if one_path_each(objects):
            break
        await asyncio.sleep(0.2)
        objects = await bus.objects()
    assert one_path_each(objects), "every data LUN should be down to one path"


async def test_a_silent_portal_times_out_and_leaves_no_login_behind(bus, lab, silence):
    silence(SILENT_PORTAL)
    started = time.monotonic()
    login = asyncio.ensure_future(bus.host("LoginIscsi", "ssa{sv}", SILENT_PORTAL,
                                           DATA_TARGET, {"timeout": Variant("u", 6)}))
    await iscsi_login_running(DATA_TARGET, SILENT_PORTAL)     # the login waits meanwhile
    answered = time.monotonic()
    (luns,) = await bus.host("EnumerateLuns", "a{sv}", {})      # others still answered
    assert len(luns) >= labhost.DATA_LUNS and time.monotonic() - answered < 10
    error = await login
    elapsed = time.monotonic() - started
    assert error[:2] == ("error", "org.solidice.Storage.Error.Timeout"), error
    assert elapsed < 6 + 15, elapsed
    assert (DATA_TARGET, SILENT_PORTAL) not in iscsi_sessions()
    lab.firewall.heal(SILENT_PORTAL)
    time.sleep(20)                 # longer than iscsid's default 15 s login try
    assert (DATA_TARGET, SILENT_PORTAL) not in iscsi_sessions(), \
        "iscsid kept retrying the login after the caller got Timeout"


def targets_tool(*args: str) -> str:
    return run(sys.executable, str(TOP / "lab/iscsi_targets.py"), *args).stdout.strip()


async def test_rescan_finds_a_new_lun_and_a_grown_one_with_its_pv(bus, lab):
    wwn = targets_tool("add-lun", DATA_TARGET, "4", "--size-mib", "64")
    wwid = "36001405" + wwn.replace("-", "")[:25]
    lun_path = f"{ROOT}/Lun/{wwid}"
    try:
        assert lun_path not in await bus.objects()
        assert await bus.host("Rescan", "a{sv}", {}) == []
        wait_for(lambda: len(multipath_maps().get(wwid, [])) == 2, "the new LUN's map", 30)
        lun = (await bus.objects())[lun_path][IFACE + "Lun"]
        assert lun["Size"] == LUN_SIZE and len(lun["Paths"]) == 2
        assert any(m.member == "InterfacesAdded" and m.body[0] == lun_path
                   for m in bus.signals)
        device = f"/dev/mapper/{wwid}"
        lvm("pvcreate", "-y", "--", device)
        targets_tool("grow", "data4", "--size-mib", "96")
        assert await bus.host("Rescan", "a{sv}", {}) == []
        lun = (await bus.objects())[lun_path][IFACE + "Lun"]
        assert lun["Size"] == 96 * MiB
        assert int(run("blockdev", "--getsize64", device).stdout) == 96 * MiB
        (pv,) = lvm_report("pvs", "-o", "pv_name,pv_size", "--", device)
        assert int(pv["pv_size"]) > 90 * MiB, pv
        assert any(m.member == "PropertiesChanged" and m.path == lun_path
                   and "Size" in m.body[1] for m in bus.signals)
    finally:
        lvm("pvremove", "-y", "--", f"/dev/mapper/{wwid}", check=False)
        paths = [dev for dev, _ in multipath_maps().get(wwid, [])]
        for _ in range(10):
            if run("multipath", "-f", wwid, check=False).returncode == 0 or \
                    wwid not in multipath_maps():
                break
            time.sleep(0.5)
        for dev in paths:
            Path(f"/sys/block/{dev}/device/delete").write_text("1\n")
        targets_tool("remove-lun", DATA_TARGET, "4")
        Path("/srv/lab/data4.img").unlink(missing_ok=True)
        settle()
        wait_for(lab.data_paths_ready, "the four data LUNs again", 60)


# ---- what a logout must not take away, CHAP on a live session, discovery's traces ----

PLAIN_TARGET = "iqn.2026-11.org.solidice.lab:plain"
PLAIN_WWN = "0badf00d-0000-4000-8000-000000000001"       # blacklisted in lab/multipath.conf
PLAIN_WWID = "36001405" + PLAIN_WWN.replace("-", "")[:25]


def vg_gone(name: str, device: str | None = None) -> None:
    """A test's VG and PV label removed, whatever state the test left them in."""
    lvm("vgremove", "-f", "-y", "--", name, check=False)
    if device is not None:
        lvm("pvremove", "-f", "-y", "--", device, check=False)


@pytest.fixture
def plain_target(lab):
    """A target on 127.0.0.1 whose one LUN multipathd ignores (its WWID is
    blacklisted): a LUN seen as a plain disk. Gone again after the test."""
    targets_tool("setup", f"{PLAIN_TARGET}:1", "--portals", "127.0.0.1", "--wwn", PLAIN_WWN,
                 "--size-mib", "32")
    yield PLAIN_TARGET
    if (PLAIN_TARGET, "127.0.0.1") in iscsi_sessions():
        labhost.iscsi_logout(PLAIN_TARGET, "127.0.0.1:3260")
    run("iscsiadm", "-m", "node", "-T", PLAIN_TARGET, "-o", "delete", check=False)
    targets_tool("remove-target", PLAIN_TARGET)
    Path("/srv/lab/plain0.img").unlink(missing_ok=True)
    settle()


async def test_logout_refuses_to_take_a_lun_without_multipath_that_holds_a_pv(
        bus, plain_target):
    (path,) = await bus.host("LoginIscsi", "ssa{sv}", "127.0.0.1", PLAIN_TARGET, {})
    lun = (await bus.objects())[f"{ROOT}/Lun/{PLAIN_WWID}"][IFACE + "Lun"]
    assert lun["Multipath"] is False and PLAIN_WWID not in multipath_maps(), lun
    device = lun["Device"]
    assert device.startswith("/dev/sd"), device
    try:
        lvm("pvcreate", "-y", "--", device)
        lvm("vgcreate", "-y", "labplain", device)
        lvm("vgchange", "-an", "labplain")
        settle()
        error = await bus.host("LogoutIscsi", "ssa{sv}", "127.0.0.1", PLAIN_TARGET, {})
        assert error[:2] == ("error", "org.solidice.Storage.Error.Busy"), error
        assert PLAIN_WWID in error[2] and "physical volume" in error[2], error
        assert (PLAIN_TARGET, "127.0.0.1") in iscsi_sessions()
        (pv,) = lvm_report("pvs", "-o", "pv_name,vg_name", "--", device)
        assert pv["vg_name"] == "labplain", pv
        assert path in await bus.objects()
    finally:
        vg_gone("labplain", device)


async def test_logout_refuses_to_take_the_last_path_of_a_map_holding_an_inactive_pv(
        bus, lab, chap_cleanup):
    (luns,) = await bus.host("EnumerateIscsiLuns", "ssa{sv}", "127.0.0.1", CHAP_TARGET,
                             chap())
    (wwn,) = lab.targets.wwns[CHAP_TARGET]
    wwid = "36001405" + wwn.replace("-", "")[:25]
    assert luns == [f"{ROOT}/Lun/{wwid}"] and len(multipath_maps()[wwid]) == 1
    device = f"/dev/mapper/{wwid}"
    try:
        lvm("pvcreate", "-y", "--", device)
        lvm("vgcreate", "-y", "labchap", device)
        lvm("vgchange", "-an", "labchap")
        settle()
        error = await bus.host("LogoutIscsi", "ssa{sv}", "127.0.0.1", CHAP_TARGET, {})
        assert error[:2] == ("error", "org.solidice.Storage.Error.Busy"), error
        assert wwid in error[2], error
        assert (CHAP_TARGET, "127.0.0.1") in iscsi_sessions()
        assert wwid in multipath_maps()
    finally:
        vg_gone("labchap", device)


def node_record_lines(target: str, portal: str) -> list[str]:
    """The lines of every record file iscsiadm keeps for target through portal."""
    address, port = portal.split(":")
    lines = []
    for entry in Path(f"/etc/iscsi/nodes/{target}").glob(f"{address},{port}*"):
        for record in [entry] if entry.is_file() else list(entry.glob("*")):
            lines += record.read_text().splitlines()
    return lines


def assert_record_has_the_right_chap(target: str, portal: str) -> None:
    lines = node_record_lines(target, portal)
    assert f"node.session.auth.password = {CHAP_PASSWORD}" in lines
    assert f"node.session.auth.username = {CHAP_USER}" in lines
    assert "node.session.auth.password = wrong-secret-7" not in lines
    shown = run("iscsiadm", "-m", "node", "-T", target, "-p", portal).stdout
    assert f"node.session.auth.username = {CHAP_USER}" in shown


async def logout_refused_why(bus, portal: str, target: str) -> list:
    """LogoutIscsi's answer; if refused, what the daemon and the host had then."""
    answer = await bus.host("LogoutIscsi", "ssa{sv}", portal, target, {})
    if answer and answer[0] == "error":
        objects = await bus.objects()
        seen = {path: {k: v for k, v in ifaces[iface].items()
                       if k in ("Device", "Status", "PhysicalVolume", "Lun", "Multipath")}
                for path, ifaces in objects.items()
                for iface in ifaces if iface.endswith(("Lun", "PhysicalVolume"))}
        return [answer, seen, multipath_maps(), lvm("pvs", "-a").stdout,
                run("lsblk", "-o", "NAME,FSTYPE,TYPE").stdout]
    return answer


async def test_other_chap_credentials_on_a_live_session_are_refused_and_not_stored(
        bus, chap_cleanup):
    portal = "127.0.0.2:3260"
    (path,) = await bus.host("LoginIscsi", "ssa{sv}", "127.0.0.2", CHAP_TARGET, chap())
    error = await bus.host("LoginIscsi", "ssa{sv}", "127.0.0.2", CHAP_TARGET,
                           chap(password="wrong-secret-7",
                                **{"node-startup": Variant("s", "automatic")}))
    assert error[:2] == ("error", "org.solidice.Storage.Error.Busy"), error
    assert "log out" in error[2] and "wrong-secret-7" not in error[2], error
    assert_record_has_the_right_chap(CHAP_TARGET, portal)
    assert "node.startup = automatic" not in node_record_lines(CHAP_TARGET, portal)
    assert await bus.host("LoginIscsi", "ssa{sv}", "127.0.0.2", CHAP_TARGET,
                          chap()) == [path]                  # the same ones: nothing to do
    # the stored secret still logs in
    assert await logout_refused_why(bus, "127.0.0.2", CHAP_TARGET) == []
    run("iscsiadm", "-m", "node", "-T", CHAP_TARGET, "-p", portal, "--login", timeout=90)
    assert (CHAP_TARGET, "127.0.0.2") in iscsi_sessions()
    settle()

    # a failed login on the record, with no session, leaves its CHAP values as they were
    assert await logout_refused_why(bus, "127.0.0.2", CHAP_TARGET) == []
    wrong = await bus.host("LoginIscsi", "ssa{sv}", "127.0.0.2", CHAP_TARGET,
                           chap(password="wrong-secret-7"))
    assert wrong[:2] == ("error", "org.solidice.Storage.Error.Failed"), wrong
    assert (CHAP_TARGET, "127.0.0.2") not in iscsi_sessions()
    assert_record_has_the_right_chap(CHAP_TARGET, portal)
    run("iscsiadm", "-m", "node", "-T", CHAP_TARGET, "-p", portal, "--login", timeout=90)
    assert (CHAP_TARGET, "127.0.0.2") in iscsi_sessions()
    settle()


def send_targets_text() -> str:
    return "\n".join(path.read_text(errors="replace")
                     for path in Path("/etc/iscsi/send_targets").rglob("*") if path.is_file())


async def test_discovery_with_chap_leaves_no_credentials_in_iscsids_database(bus):
    secret = "discovery-secret-5"
    options = {"username": Variant("s", "lab-discoverer"), "password": Variant("s", secret)}
    found = await bus.host("DiscoverIscsiTargets", "sa{sv}", "127.0.0.1", options)
    # LIO asks no discovery CHAP here: either answer will do, the traces are the point
    assert found[0] != "error" or found[1] == "org.solidice.Storage.Error.Failed", found
    assert secret not in send_targets_text() and "lab-discoverer" not in send_targets_text()
    error = await bus.host("DiscoverIscsiTargets", "sa{sv}", "127.0.0.9:3260", options)
    assert error[:2] == ("error", "org.solidice.Storage.Error.Failed"), error
    assert secret not in send_targets_text() and "lab-discoverer" not in send_targets_text()
    assert not Path("/etc/iscsi/send_targets/127.0.0.9,3260/st_config").exists()

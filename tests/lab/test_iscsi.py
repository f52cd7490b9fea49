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

import labhost
from labbus import IFACE, ROOT
from labhost import (CHAP_PASSWORD, CHAP_TARGET, CHAP_USER, DATA_TARGET,
                     LUN_SIZE, MiB, SILENT_PORTAL, TOP, iscsi_sessions, lvm, lvm_report,
                     multipath_maps, run, settle, wait_for)


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
    for portal in labhost.PORTALS:
        if (CHAP_TARGET, portal) in iscsi_sessions():
            run("multipath", "-F", check=False)
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
    await asyncio.sleep(1)
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

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's own behaviour: errors, floods, signals, shutdown, name handling."""

import asyncio
import configparser
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from dbus_fast import DBusError, Message, Variant
from dbus_fast.aio import MessageBus

import hostfacts
from conftest import DATA, NAME, NOBODY, POLKIT, TOP, Daemon, Polkit, _wait_for_name
from storage import ERROR, HOST, IFACE, ROOT, Storage

OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"


async def listen(bus, rule: str) -> list[Message]:
    """Collect the signals matching `rule` from now on."""
    received: list[Message] = []
    await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                           interface="org.freedesktop.DBus", member="AddMatch",
                           signature="s", body=[rule]))
    bus.add_message_handler(lambda m: received.append(m) if m.message_type.name == "SIGNAL"
                            and m.sender != "org.freedesktop.DBus" else None)
    return received


async def settle(received: list, quiet: float = 0.3, limit: float = 30) -> None:
    """Wait until no signal arrived for `quiet` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    count = -1
    while count != len(received) and loop.time() < end:
        count = len(received)
        await asyncio.sleep(quiet)


async def test_internal_error_sends_no_traceback(start_daemon, bus):
    daemon = start_daemon("--sim-fault", "create_logical_volume")
    storage = Storage(bus)
    vg = await storage.vg("vmstore")
    with pytest.raises(DBusError) as raised:
        await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "x",
                           1024**3, {})
    assert raised.value.type == ERROR + "Failed"
    assert raised.value.text == ("internal error in the storage service; its log has "
                                 "the details")
    assert await storage.host("EnumerateLuns", "a{sv}", {})     # still answering
    assert "Traceback" in daemon.output() and "injected fault" in daemon.output()


async def test_object_manager_signals_come_from_the_root_only(storage, bus):
    received = await listen(bus, "type='signal',sender='org.solidice.Storage'")
    vg = await storage.vg("vmstore")
    lv = await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "sig",
                            1024**3, {})
    await storage.call(lv, "LogicalVolume", "Remove", "a{sv}",
                       {"force": __import__("dbus_fast").Variant("b", True)})
    await settle(received)
    manager = [m for m in received if m.interface == OBJECT_MANAGER]
    assert [(m.path, m.member, m.body[0]) for m in manager] == [
        (ROOT, "InterfacesAdded", lv), (ROOT, "InterfacesRemoved", lv)]
    added = manager[0].body[1][IFACE + "LogicalVolume"]
    assert added["Name"].value == "sig" and added["Size"].value == 1024**3
    changed = [m.path for m in received if m.member == "PropertiesChanged"]
    assert changed.count(vg) == 2            # one per change of the VG, not per property


async def test_five_thousand_objects_and_signals(start_daemon, bus):
    start_daemon("--sim-lvs", "5000")
    storage = Storage(bus)
    objects = await storage.objects()        # the name came after the first scan
    assert sum(IFACE + "LogicalVolume" in i for i in objects.values()) == 5004
    received = await listen(bus, f"type='signal',sender='org.solidice.Storage',"
                                 f"interface='{OBJECT_MANAGER}'")
    await storage.pool("RemoveVolumeGroup", "sa{sv}", "bulk", {})
    await settle(received)
    removed = [m for m in received if m.member == "InterfacesRemoved"]
    assert len(removed) == 5000 + 2          # the LVs, the VG and its PV
    assert {m.path for m in removed} == {ROOT}
    assert len(await storage.host("EnumerateLuns", "a{sv}", {})) == 7
    assert sum(IFACE + "LogicalVolume" in i for i in (await storage.objects()).values()) == 4


async def test_sigint_stops_cleanly(start_daemon):
    daemon = start_daemon()
    assert daemon.stop(signal.SIGINT) == 0
    assert "stopped" in daemon.output()


async def test_replace_takes_the_name_over(start_daemon, bus):
    first = start_daemon()
    second = start_daemon("--replace")
    assert first.proc.wait(10) == 0          # lost the name: stops by itself
    assert "took org.solidice.Storage over" in first.output()
    third = start_daemon(wait=False)
    assert third.proc.wait(10) == 1
    assert "pass --replace" in third.output()
    third.expected_status = 1
    assert await Storage(bus).host("EnumerateLuns", "a{sv}", {})
    assert second.proc.poll() is None


def test_session_bus_needs_sim():
    result = subprocess.run([sys.executable, "-m", "solidice_storage.daemon", "--session"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "polkit" in result.stderr


async def _refused(call) -> DBusError:
    with pytest.raises(DBusError) as raised:
        await call
    return raised.value


async def test_without_sim_reads_this_host_and_says_what_is_missing(start_daemon, bus):
    """The real engine (HostEngine) on this host, its probes reading this host's
    /proc, /sys and /run: each missing piece logged once at start, and answered with
    NotSupported naming it; what the host has is served. What the host has is asked
    of its own tools (hostfacts.py), so the test holds here (no device-mapper, no
    udevd, no iscsi_tcp, no nfs) and on a host that has them."""
    daemon = start_daemon(sim=False)
    storage = Storage(bus)
    log = daemon.output()
    facts = {"device-mapper": hostfacts.device_mapper(), "udevd": hostfacts.udevd(),
             "the iscsi_tcp module": hostfacts.loadable("iscsi_tcp"),
             "iscsid": hostfacts.iscsid(), "the nfs filesystem": hostfacts.nfs()}
    for piece, present in facts.items():
        if present is not None:        # None: this host has no tool to ask
            assert log.count(f"not on this host: {piece} (") == (0 if present else 1), \
                f"{piece}: {'present' if present else 'missing'} here; the log:\n{log}"
    serving = next(line for line in log.splitlines() if "serving " in line)
    assert ("LVM" in serving.split(";")[1]) is bool(facts["device-mapper"]), serving
    assert ("NFS" in serving.split(";")[1]) is bool(facts["the nfs filesystem"]), serving

    # a plain disk is a LUN, on a host with or without multipath, and described
    luns = await storage.host("EnumerateLuns", "a{sv}", {})
    assert sorted(luns) == sorted((await storage.props(HOST, "Host"))["Luns"])
    devices = {(await storage.props(lun, "Lun"))["Device"] for lun in luns}
    if not (await storage.props(HOST, "Host"))["Multipath"]:
        for name, size in hostfacts.plain_disks().items():
            assert f"/dev/{name}" in devices, (name, devices)
            info = await storage.host("GetBlockInfo", "sa{sv}", f"/dev/{name}", {})
            assert (info["type"], info["size"], info["path"], info["name"]) == (
                "disk", size, f"/dev/{name}", name)
            if hostfacts.in_use(name):         # the root disk: never offered as free
                assert info["used-by"] != "", info
    # never a filesystem path, and no device udev or sysfs knows
    assert (await _refused(storage.host("GetBlockInfo", "sa{sv}", "/etc/passwd", {}))
            ).type == ERROR + "InvalidArgument"
    assert (await _refused(storage.host("GetBlockInfo", "sa{sv}", "/dev/stdin", {}))
            ).type == ERROR + "NotFound"
    vgs = await storage.host("EnumerateVolumeGroups", "a{sv}", {})
    assert sorted(vgs) == sorted((await storage.props(HOST, "Host"))["VolumeGroups"])

    refused = await _refused(storage.pool("CreateVolumeGroup", "sasa{sv}", "vg1",
                                          ["/dev/no-such-disk-solidice"], {}))
    assert refused.type == ERROR + "NotFound", refused.text    # resolved first
    if facts["device-mapper"] is False and luns:
        # a LUN that is there (only where LVM cannot touch it: no device-mapper)
        refused = await _refused(storage.pool("CreateVolumeGroup", "sasa{sv}", "vg1",
                                              [luns[0]], {}))
        assert refused.type == ERROR + "NotSupported", refused.text
        assert "LVM needs device-mapper" in refused.text

    refused = await _refused(storage.host(
        "EnumerateIscsiLuns", "ssa{sv}", "192.0.2.1", "iqn.2026-11.org.example:none",
        {"login": Variant("b", False)}))
    lacking = [piece for piece in ("the iscsi_tcp module", "iscsid") if facts[piece] is False]
    if lacking:
        assert refused.type == ERROR + "NotSupported", refused.text
        assert f"iSCSI needs {lacking[0]}" in refused.text
        refused = await _refused(storage.host("DiscoverIscsiTargets", "sa{sv}",
                                              "192.0.2.1", {}))
        assert refused.type == ERROR + "NotSupported" and lacking[0] in refused.text
    else:
        assert refused.type == ERROR + "NotFound", refused.text   # no session there

    refused = await _refused(storage.pool("MountNfs", "sssa{sv}", "192.0.2.1", "/export",
                                          "/mnt/no-such-dir-solidice", {}))
    if facts["the nfs filesystem"] is False:
        assert refused.type == ERROR + "NotSupported", refused.text
        assert "NFS needs the nfs filesystem" in refused.text
    elif facts["the nfs filesystem"]:
        assert refused.type == ERROR + "NotFound", refused.text   # looked at, not made
        assert "create-mountpoint" in refused.text
    assert not os.path.exists("/mnt/no-such-dir-solidice")
    assert (await _refused(storage.pool("Unmount", "sba{sv}", "/mnt/no-such-dir-solidice",
                                        False, {}))).type == ERROR + "NotFound"
    with open("/proc/self/mountinfo") as table:        # the host's own NFS mounts
        nfs = [line for line in table if line.split(" - ")[1].split()[0] in ("nfs", "nfs4")]
    assert len((await storage.props(HOST, "Host"))["Mounts"]) == len(nfs)


def gdbus_as_nobody(address: str, *args: str) -> subprocess.CompletedProcess:
    """gdbus call as uid 65534 (it names the D-Bus error, busctl does not)."""
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
         "gdbus", "call", "--system", "--timeout=60", "--dest", NAME, *args],
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}, capture_output=True,
        text=True, timeout=90)


async def test_sigterm_answers_calls_waiting_for_polkit_and_lets_work_finish(
        start_daemon, bus, polkit, system_bus):
    """SIGTERM with two calls pending: one held by a hanging polkit gets
    Error.Cancelled at once (nothing was done for it: not its timeout, not silence);
    one at work in the engine (a discovery of a portal that does not answer, 3 s)
    is let finish and gets its own answer. Then the daemon exits 0, no traceback."""
    daemon = start_daemon("--polkit-timeout", "60")
    await polkit.allow("org.solidice.storage.manage-lvm")
    await polkit.hang()
    storage = Storage(bus)
    vg = await storage.vg("vmstore")
    held = asyncio.ensure_future(asyncio.to_thread(
        gdbus_as_nobody, system_bus, "--object-path", vg, "--method",
        IFACE + "VolumeGroup.CreateLogicalVolume", "held", str(1024**3), "{}"))
    for _ in range(100):                       # until polkit holds the question
        if await polkit.checks():
            break
        await asyncio.sleep(0.05)
    assert await polkit.checks()
    working = asyncio.ensure_future(storage.host(
        "DiscoverIscsiTargets", "sa{sv}", "unreachable.invalid", {"timeout": Variant("u", 3)}))
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    stopping = asyncio.ensure_future(asyncio.to_thread(daemon.stop))
    result = await asyncio.wait_for(held, 10)
    assert loop.time() - started < 2 and not working.done()
    assert result.returncode != 0, result
    assert f"{ERROR}Cancelled: the storage service is shutting down" in result.stderr
    with pytest.raises(DBusError) as raised:
        await asyncio.wait_for(working, 10)
    assert raised.value.type == ERROR + "Timeout"      # its own answer, not Cancelled
    assert await stopping == 0
    assert 2.5 < loop.time() - started < 8
    assert "finishing 1 call(s) before stopping" in daemon.output()
    assert "Traceback" not in daemon.output() and "stopped" in daemon.output()


# ---- a bus of the test's own: it is killed, so not the session's `system_bus` ----

class PrivateBus:
    """A dbus-daemon like conftest's system_bus, for one test."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="solidice-ownbus-")
        os.chmod(self.dir, 0o755)
        config = Path(self.dir, "bus.conf")
        config.write_text((DATA / "system-bus.conf.in").read_text()
                          .replace("@LISTEN@", f"unix:path={self.dir}/socket")
                          .replace("@POLICY@", str(TOP / "dbus-conf/org.solidice.Storage.conf")))
        self.proc = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                                      "--print-address=1"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.address = self.proc.stdout.readline().strip()
        assert self.address, "dbus-daemon did not start"
        self.services: list[subprocess.Popen] = []

    def polkit(self) -> subprocess.Popen:
        """python-dbusmock's polkitd on this bus."""
        mock = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", "--system", "--template",
             str(DATA / "polkitd_challenge.py")],
            env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.services.append(mock)
        _wait_for_name(self.address, POLKIT)
        return mock

    def daemon(self, log: Path, *args: str) -> Daemon:
        daemon = Daemon(self.address, ["--sim", *args], log)
        _wait_for_name(self.address, NAME)
        return daemon

    async def connect(self) -> MessageBus:
        return await MessageBus(bus_address=self.address).connect()

    def close(self) -> None:
        for proc in [*self.services, self.proc]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir)


@pytest.fixture
def private_buses():
    """Make buses with `private_buses()`; all killed at the end."""
    made: list[PrivateBus] = []

    def make() -> PrivateBus:
        made.append(PrivateBus())
        return made[-1]

    yield make
    for bus in made:
        bus.close()


def unit_restarts_on(status: int) -> bool:
    """Whether the unit file has systemd restart the daemon when it exits `status`."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(TOP / "systemd/solidice-storaged.service")
    service = unit["Service"]
    clean = {"0", *service.get("SuccessExitStatus", "").split()}
    return (service.get("Restart") in ("on-failure", "always")
            and str(status) not in clean
            and str(status) not in service.get("RestartPreventExitStatus", "").split())


async def test_bus_restart_exits_for_the_unit_to_restart_and_a_new_daemon_serves(
        private_buses, tmp_path):
    """The bus dies with a call pending: the daemon exits promptly with the status
    its unit restarts on, without a traceback; started again on the new bus (as
    systemd would), it serves."""
    first = private_buses()
    first.polkit()
    daemon = first.daemon(tmp_path / "first.log", "--polkit-timeout", "60")
    client = await first.connect()
    polkit = Polkit(client)
    await polkit.allow("org.solidice.storage.manage-lvm")
    await polkit.hang()
    vg = await Storage(client).vg("vmstore")
    held = asyncio.ensure_future(asyncio.to_thread(
        gdbus_as_nobody, first.address, "--object-path", vg, "--method",
        IFACE + "VolumeGroup.CreateLogicalVolume", "held", str(1024**3), "{}"))
    for _ in range(100):
        if await polkit.checks():
            break
        await asyncio.sleep(0.05)
    assert await polkit.checks()
    first.proc.kill()                          # the bus goes, as dbus.service restarting
    started = time.monotonic()
    status = await asyncio.to_thread(daemon.proc.wait, 10)
    assert time.monotonic() - started < 5
    await held
    daemon.stop()
    assert status == 1 and unit_restarts_on(status)
    assert not unit_restarts_on(0)
    assert "lost the connection to the bus" in daemon.output()
    assert "Traceback" not in daemon.output(), daemon.output()

    second = private_buses()
    again = second.daemon(tmp_path / "second.log")
    client = await second.connect()
    assert await Storage(client).host("EnumerateLuns", "a{sv}", {})
    client.disconnect()
    assert again.stop() == 0 and "Traceback" not in again.output()


async def test_polkitd_gone_root_may_change_others_are_told_at_once(
        private_buses, tmp_path):
    """polkitd stops: uid 65534 gets NotAuthorized saying the authority is
    unavailable, well before the polkit timeout, and nothing changes; root still
    may. (With polkit there, the same call by 65534 succeeds: the mock allows it.)"""
    bus = private_buses()
    mock = bus.polkit()
    daemon = bus.daemon(tmp_path / "daemon.log", "--polkit-timeout", "30")
    client = await bus.connect()
    await Polkit(client).allow("org.solidice.storage.manage-lvm")
    storage = Storage(client)
    vg = await storage.vg("vmstore")
    create = ("--object-path", vg, "--method", IFACE + "VolumeGroup.CreateLogicalVolume")
    allowed = await asyncio.to_thread(gdbus_as_nobody, bus.address, *create, "while-up",
                                      str(1024**3), "{}")
    assert allowed.returncode == 0, allowed
    mock.terminate()
    mock.wait(10)
    before = await storage.objects()
    started = time.monotonic()
    denied = await asyncio.to_thread(gdbus_as_nobody, bus.address, *create, "while-gone",
                                     str(1024**3), "{}")
    assert time.monotonic() - started < 5                # not the 30 s timeout
    assert denied.returncode != 0
    assert f"{ERROR}NotAuthorized" in denied.stderr, denied
    assert "authority (polkit) is unavailable" in denied.stderr, denied
    assert await storage.objects() == before
    lv = await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "byroot",
                            1024**3, {})
    assert (await storage.props(lv, "LogicalVolume"))["Name"] == "byroot"
    client.disconnect()
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.output(), daemon.output()


# ---- the unit's sandbox (tools/unit_sandbox.py: what systemd would apply) ----

sys.path.insert(0, str(TOP / "tools"))
import unit_sandbox  # noqa: E402

UNIT = TOP / "systemd/solidice-storaged.service"
CAPS = {"sys_admin": 21, "dac_override": 1, "dac_read_search": 2, "ipc_lock": 14,
        "net_bind_service": 10}


def seccomp_denials(pid: int) -> list[str]:
    """The kernel's log of calls the filters refused process `pid` (--log-denials)."""
    log = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30)
    assert log.returncode == 0, log.stderr
    return [line for line in log.stdout.splitlines()
            if "type=1326" in line and f" pid={pid} " in line]


async def test_serves_under_the_units_capabilities_and_system_call_filter(
        system_bus, polkitd, bus, tmp_path):
    """The --sim daemon (Python, dbus-fast, pydantic: all of the daemon but the
    tools, which tests/lab/test_unit_sandbox.py runs) under the unit's bounding set,
    no_new_privs, system call filter, address families and W^X: it serves reads
    and changes, no call of it is refused, and it stops cleanly."""
    assert set(unit_sandbox.capability_names(unit_sandbox.service_section(UNIT))) == set(CAPS)
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            unit_sandbox.sandbox_command(UNIT, [sys.executable, "-m", "solidice_storage.daemon",
                                                "--sim", "--polkit-timeout", "2"],
                                         log_denials=True),
            env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": system_bus}, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        _wait_for_name(system_bus, NAME)
        status = dict(line.split(":\t", 1) for line in
                      Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                      if ":\t" in line)
        assert int(status["CapBnd"], 16) == sum(1 << bit for bit in CAPS.values())
        assert int(status["CapEff"], 16) == sum(1 << bit for bit in CAPS.values())
        assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
        assert int(status["Seccomp_filters"]) == 2
        storage = Storage(bus)
        vg = await storage.vg("vmstore")
        lv = await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
                                "sandboxed", 1024**3, {})
        await storage.call(lv, "LogicalVolume", "Remove", "a{sv}",
                           {"force": Variant("b", True)})
        assert lv not in await storage.objects()
        assert await storage.host("EnumerateLuns", "a{sv}", {})
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()
    assert seccomp_denials(proc.pid) == []

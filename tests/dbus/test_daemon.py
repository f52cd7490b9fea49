"""The daemon's own behaviour: errors, floods, signals, shutdown, name handling."""

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from dbus_fast import DBusError, Message, Variant

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


async def test_without_sim_reads_this_host_and_says_what_is_missing(start_daemon, bus):
    """The real engine on this host (no device-mapper, no NFS server): LUNs
    (read-only, from udev and sysfs), iSCSI, LVM and NFS answer, each refusing what
    is not there with the contract's error."""
    start_daemon(sim=False)
    storage = Storage(bus)
    luns = await storage.host("EnumerateLuns", "a{sv}", {})
    assert sorted(luns) == sorted((await storage.props(HOST, "Host"))["Luns"])
    with pytest.raises(DBusError) as raised:
        await storage.host("GetBlockInfo", "sa{sv}", "/etc/passwd", {})
    assert raised.value.type == ERROR + "NotFound"      # never a filesystem path
    with pytest.raises(DBusError) as raised:       # no session here, and no login asked
        await storage.host("EnumerateIscsiLuns", "ssa{sv}", "192.0.2.1",
                           "iqn.2026-11.org.example:none", {"login": Variant("b", False)})
    assert raised.value.type == ERROR + "NotFound"
    vgs = await storage.host("EnumerateVolumeGroups", "a{sv}", {})
    assert sorted(vgs) == sorted((await storage.props(HOST, "Host"))["VolumeGroups"])
    with pytest.raises(DBusError) as raised:
        await storage.pool("CreateVolumeGroup", "sasa{sv}", "vg1",
                           ["/dev/no-such-disk-solidice"], {})
    assert raised.value.type == ERROR + "NotFound"
    with pytest.raises(DBusError) as raised:
        await storage.pool("MountNfs", "sssa{sv}", "192.0.2.1", "/export",
                           "/mnt/no-such-dir-solidice", {})
    assert raised.value.type == ERROR + "NotFound"      # looked at, never created
    assert "create-mountpoint" in raised.value.text
    assert not os.path.exists("/mnt/no-such-dir-solidice")
    with pytest.raises(DBusError) as raised:
        await storage.pool("Unmount", "sba{sv}", "/mnt/no-such-dir-solidice", False, {})
    assert raised.value.type == ERROR + "NotFound"
    with open("/proc/self/mountinfo") as table:        # the host's own NFS mounts
        nfs = [line for line in table if line.split(" - ")[1].split()[0] in ("nfs", "nfs4")]
    assert len((await storage.props(HOST, "Host"))["Mounts"]) == len(nfs)

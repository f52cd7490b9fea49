# SPDX-License-Identifier: LGPL-2.1-or-later
"""interfaces/*.xml is the API reference: hold the running daemon's Introspect to it.

The daemon (--sim --session) runs on a private session bus this module starts. For
every org.solidice.Storage.* interface, the members it exports (methods with their
in and out args in order, properties with type and access, signals with their args,
annotations) must be exactly those of its file; comments are ignored, except that
every element of a file must carry one (the reference is documented).
"""

import asyncio
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import pytest_asyncio
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.introspection import Interface, Node

TOP = Path(__file__).resolve().parents[2]
INTERFACES = TOP / "interfaces"
NAME = "org.solidice.Storage"
ROOT = "/org/solidice/Storage"
PREFIX = "org.solidice.Storage."
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
DOCTYPE = ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
           '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">')
FILES = sorted(INTERFACES.glob("*.xml"))

# The tests share the module-scoped daemon and client, so they run on its loop.
module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def session_bus():
    """A private session bus of our own: this module's daemon is alone on it."""
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = bus.stdout.readline().strip()
    try:
        assert address, "dbus-daemon --session did not print its address"
        yield address
    finally:
        bus.terminate()
        bus.wait(10)
        bus.stdout.close()


@pytest.fixture(scope="module")
def daemon(session_bus, tmp_path_factory):
    """solidice-storaged --sim --session; must stop cleanly on SIGTERM."""
    log_path = tmp_path_factory.mktemp("introspection") / "daemon.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "solidice_storage.daemon", "--sim", "--session"],
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus},
            stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc, log_path
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(15)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    output = log_path.read_text()
    assert status == 0 and "Traceback" not in output, f"daemon exit {status}:\n{output}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(session_bus, daemon):
    """A client connection, once the daemon owns its name (i.e. has exported)."""
    proc, log_path = daemon
    bus = await MessageBus(bus_address=session_bus).connect()
    try:
        for _ in range(200):
            reply = await bus.call(Message(
                destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus", member="NameHasOwner",
                signature="s", body=[NAME]))
            if reply.body == [True]:
                break
            assert proc.poll() is None, "daemon died:\n" + log_path.read_text()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{NAME} did not appear:\n" + log_path.read_text())
        yield bus
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


async def _call(bus: MessageBus, path: str, interface: str, member: str,
                signature: str = "", *body) -> list:
    reply = await bus.call(Message(destination=NAME, path=path, interface=interface,
                                   member=member, signature=signature, body=list(body)))
    assert reply.message_type is MessageType.METHOD_RETURN, \
        f"{interface}.{member} on {path} failed: {reply.error_name} {reply.body}"
    return reply.body


async def _start_job(bus: MessageBus, objects: dict) -> str:
    """A running Job: a data move off the PV of VG vmstore that holds data (the
    simulated pvmove takes about 3 s). Returns the Job's path. Allowed because the
    tests run as root: there is no polkit to ask on a session bus."""
    vg_iface, pv_iface = PREFIX + "VolumeGroup", PREFIX + "PhysicalVolume"
    vg = next(path for path, ifaces in objects.items()
              if ifaces.get(vg_iface, {}).get("Name", Variant("s", "")).value == "vmstore")
    pvs = objects[vg][vg_iface]["PhysicalVolumes"].value
    used = [pv for pv in pvs
            if objects[pv][pv_iface]["FreeSize"].value < objects[pv][pv_iface]["Size"].value]
    assert used, "no PV of vmstore holds data: the simulated host changed"
    [job] = await _call(bus, vg, vg_iface, "RemovePhysicalVolume", "sa{sv}",
                        used[0], {"move-data": Variant("b", True)})
    assert job != "/", "RemovePhysicalVolume with move-data returned no Job"
    return job


async def _stop_job(bus: MessageBus, job: str) -> None:
    """Cancel the move (it leaves the data where it was) and wait until it is gone."""
    await _call(bus, job, PREFIX + "Job", "Cancel", "a{sv}", {})
    for _ in range(100):
        [objects] = await _call(bus, ROOT, OBJECT_MANAGER, "GetManagedObjects")
        if job not in objects:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"cancelled job {job} did not leave the bus")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def exported(client) -> dict[str, tuple[str, Interface]]:
    """Interface name → (object path, the Interface from that path's Introspect),
    for one object of every kind the daemon exports, a running Job included."""
    [objects] = await _call(client, ROOT, OBJECT_MANAGER, "GetManagedObjects")
    job = await _start_job(client, objects)
    try:
        paths = {name: path for path, ifaces in objects.items() for name in ifaces}
        paths[PREFIX + "Job"] = job
        found = {}
        for path in sorted(set(paths.values()), key=lambda p: p != job):  # job first
            node = await client.introspect(NAME, path)
            for interface in node.interfaces:
                if interface.name.startswith(PREFIX):
                    found.setdefault(interface.name, (path, interface))
    finally:
        await _stop_job(client, job)
    return found


def _file_interface(path: Path) -> Interface:
    node = Node.parse(path.read_text())
    assert len(node.interfaces) == 1, f"{path.name}: {len(node.interfaces)} interfaces, want 1"
    return node.interfaces[0]


def _args(args) -> list[tuple]:
    return [(arg.name, arg.signature, arg.direction.value if arg.direction else None)
            for arg in args]


def _drift(name: str, daemon: Interface, file: Interface) -> list[str]:
    """Every difference between the daemon's interface and its file, in words."""
    problems = []

    def members(kind: str, ours: list, theirs: list) -> dict:
        ours_by, theirs_by = {m.name: m for m in ours}, {m.name: m for m in theirs}
        for missing in sorted(ours_by.keys() - theirs_by.keys()):
            problems.append(f"{name}.{missing}: {kind} exported by the daemon, "
                            f"not in interfaces/{name}.xml")
        for extra in sorted(theirs_by.keys() - ours_by.keys()):
            problems.append(f"{name}.{extra}: {kind} in interfaces/{name}.xml, "
                            "not exported by the daemon")
        return {n: (ours_by[n], theirs_by[n]) for n in sorted(ours_by.keys() & theirs_by.keys())}

    def same(what: str, ours, theirs) -> None:
        if ours != theirs:
            problems.append(f"{name}.{what}: daemon has {ours!r}, file has {theirs!r}")

    same("<interface annotations>", daemon.annotations, file.annotations)
    for member, (ours, theirs) in members("method", daemon.methods, file.methods).items():
        same(f"{member} in args", _args(ours.in_args), _args(theirs.in_args))
        same(f"{member} out args", _args(ours.out_args), _args(theirs.out_args))
        same(f"{member} annotations", ours.annotations, theirs.annotations)
    for member, (ours, theirs) in members("property", daemon.properties,
                                          file.properties).items():
        same(f"{member} signature", ours.signature, theirs.signature)
        same(f"{member} access", ours.access.value, theirs.access.value)
        same(f"{member} annotations", ours.annotations, theirs.annotations)
    for member, (ours, theirs) in members("signal", daemon.signals, file.signals).items():
        same(f"{member} args", [a[:2] for a in _args(ours.args)],
             [a[:2] for a in _args(theirs.args)])
        same(f"{member} annotations", ours.annotations, theirs.annotations)
    return problems


@module_loop
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_interface_matches_its_file(path, exported):
    interface = _file_interface(path)
    assert interface.name in exported, \
        f"interfaces/{path.name}: the daemon exports no {interface.name}"
    object_path, ours = exported[interface.name]
    problems = _drift(interface.name, ours, interface)
    assert not problems, (f"{interface.name} (introspected at {object_path}) drifted "
                          "from its file:\n  " + "\n  ".join(problems))


@module_loop
async def test_every_exported_interface_has_a_file(exported):
    documented = {_file_interface(path).name for path in FILES}
    missing = sorted(set(exported) - documented)
    assert not missing, f"exported without a file in interfaces/: {', '.join(missing)}"


@module_loop
async def test_every_file_is_an_exported_interface(exported):
    stale = sorted(path.name for path in FILES if _file_interface(path).name not in exported)
    assert not stale, f"interfaces/ files the daemon does not export: {', '.join(stale)}"


@module_loop
async def test_root_carries_the_object_manager(client):
    node = await client.introspect(NAME, ROOT)
    names = [interface.name for interface in node.interfaces]
    assert OBJECT_MANAGER in names, f"{ROOT} introspects without {OBJECT_MANAGER}: {names}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_arg_of_a_file_is_named(path):
    """Return values and signal args too: a caller reading the introspection (d-feet,
    busctl introspect, gdbus introspect, generated bindings) sees what each one is,
    not `arg_1`. The daemon's names are held to these by the drift test above."""
    interface = _file_interface(path)
    unnamed = []
    for method in interface.methods:
        for kind, args in (("in", method.in_args), ("out", method.out_args)):
            unnamed += [f"{method.name} {kind} arg {n} ({arg.signature})"
                        for n, arg in enumerate(args) if not arg.name]
    for signal in interface.signals:
        unnamed += [f"{signal.name} arg {n} ({arg.signature})"
                    for n, arg in enumerate(signal.args) if not arg.name]
    assert not unnamed, f"{path.name}: unnamed args:\n  " + "\n  ".join(unnamed)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_file_is_a_documented_reference(path):
    """One <interface> named like the file, under the D-Bus DOCTYPE; a comment
    right before the interface and each of its members and args, and `@since:`
    in those of the interface and its members."""
    text = path.read_text()
    assert text.startswith(DOCTYPE), f"{path.name}: does not start with the D-Bus DOCTYPE"
    assert _file_interface(path).name == path.stem, \
        f"{path.name}: names interface {_file_interface(path).name}"
    root = ET.fromstring(text, ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    problems = []

    def check(parent: ET.Element, where: str) -> None:
        previous = None
        for child in parent:
            if child.tag in ("interface", "method", "property", "signal", "arg"):
                label = f"{where}{child.get('name') or '<' + child.tag + '>'}"
                if previous is None or previous.tag is not ET.Comment:
                    problems.append(f"{label}: no comment before it")
                elif child.tag != "arg" and "@since:" not in previous.text:
                    problems.append(f"{label}: its comment has no @since:")
                check(child, label + ("." if child.tag != "arg" else ""))
            previous = child

    check(root, "")
    assert not problems, f"{path.name} is not fully documented:\n  " + "\n  ".join(problems)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""A large host (the simulated daemon with 10,000 LVs) and callers who need no
authorization: nothing they send may hold the daemon's event loop. Each test
measures how long a root caller's small read waits while an unprivileged caller
(uid 65534, on its own connection) sends expensive ones: the bounds are far above
what the daemon needs and far below what a blocked loop costs (a GetManagedObjects
through dbus-fast's own handler took 1.1 s per call at this size, an Introspect of
the LogicalVolume node 0.13 s; a 21 MiB options dict took 1.5 s to unmarshal)."""

import asyncio
import signal
import time
from xml.etree import ElementTree

import pytest
from dbus_fast import DBusError, Message, MessageType

import caller
from conftest import NAME, NOBODY, Daemon, _wait_for_name
from storage import ERROR, HOST, IFACE, ROOT, Storage

LVS = 10_000
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
STALL_BOUND = 0.5          # seconds a root read may wait behind the others' calls


# the simulated engine makes its 10,000 LVs one by one at start: 15 s of CPU here
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def large_daemon(system_bus, polkitd, tmp_path_factory):
    """One daemon for the module: its start is the slow part."""
    daemon = Daemon(system_bus, ["--sim", "--sim-lvs", str(LVS)],
                    tmp_path_factory.mktemp("large") / "daemon.log")
    try:
        _wait_for_name(system_bus, NAME, timeout=240)
    except AssertionError:
        daemon.stop(signal.SIGKILL)
        raise AssertionError("daemon did not take its name:\n" + daemon.output())
    yield daemon
    assert daemon.stop() == 0, daemon.output()
    assert "Traceback" not in daemon.output(), daemon.output()


@pytest.fixture
async def large(large_daemon, bus):
    yield Storage(bus)
    assert large_daemon.proc.poll() is None, large_daemon.output()


def get_managed_objects(path: str, signature: str = "", body: list | None = None) -> dict:
    return {"path": path, "interface": OBJECT_MANAGER, "member": "GetManagedObjects",
            "signature": signature, "body": body or []}


async def flood(system_bus: str, calls: list[dict]):
    """The calls sent at once by uid 65534, and an event set when they are sent."""
    sending = asyncio.Event()
    return caller.running(caller.run_as(system_bus, NOBODY, calls, 60, sending)), sending


async def longest_wait_while(storage: Storage, task: asyncio.Future,
                             sending: asyncio.Event) -> float:
    """The longest a root Properties.Get waited, asked over and over from when
    the calls of `task` are sent until it is done."""
    while not (sending.is_set() or task.done()):
        await asyncio.sleep(0.01)
    longest = 0.0
    while not task.done():
        started = time.monotonic()
        await storage.call(HOST, "org.freedesktop.DBus.Properties", "Get", "ss",
                           IFACE + "Host", "Version")
        longest = max(longest, time.monotonic() - started)
        await asyncio.sleep(0.01)
    print(f"a root read waited at most {longest:.3f} s")
    return longest


async def raw(storage: Storage, path: str, signature: str = "", body: list | None = None):
    return await storage.bus.call(Message(
        destination="org.solidice.Storage", path=path, interface=OBJECT_MANAGER,
        member="GetManagedObjects", signature=signature, body=body or []))


async def test_get_managed_objects_on_any_path_is_the_subtree_from_the_cache(large):
    tree = await large.objects()
    lvs = {p: i for p, i in tree.items() if IFACE + "LogicalVolume" in i}
    assert len(lvs) == LVS + 4
    for path in ("/", "/org", "/org/solidice"):
        assert await large.call(path, OBJECT_MANAGER, "GetManagedObjects") == tree, path
    assert await large.call(ROOT + "/LogicalVolume", OBJECT_MANAGER,
                            "GetManagedObjects") == lvs
    some_lv = next(iter(lvs))
    for path in (HOST, some_lv, ROOT + "/Nothing", "/elsewhere"):
        assert await large.call(path, OBJECT_MANAGER, "GetManagedObjects") == {}, path
    for path in ("/", ROOT):
        reply = await raw(large, path, "s", ["x"])
        assert reply.message_type is MessageType.ERROR and reply.error_name == INVALID_ARGS
    assert (await raw(large, ROOT)).message_type is MessageType.METHOD_RETURN


async def test_expensive_reads_of_one_caller_do_not_hold_a_root_read(large, system_bus):
    calls = ([get_managed_objects("/")] * 20 + [get_managed_objects("/", "s", ["x"])] * 5
             + [get_managed_objects(ROOT + "/LogicalVolume")] * 5)
    await large.host("EnumerateLuns", "a{sv}", {})
    running, sending = await flood(system_bus, calls)
    async with running as calls_sent:
        longest = await longest_wait_while(large, calls_sent, sending)
        outcomes = [o["outcome"] for o in await calls_sent]
    assert longest < STALL_BOUND, (longest, outcomes)
    # every one answered: the tree, or Busy past the few one caller may have waiting
    assert set(outcomes[:20]) <= {"ok", ERROR + "Busy"} and "ok" in outcomes[:20]
    assert outcomes[20:25] == [INVALID_ARGS] * 5
    assert set(outcomes[25:]) <= {"ok", ERROR + "Busy"}


async def test_an_oversized_call_is_refused_before_it_holds_the_loop(large, system_bus):
    """29 MiB of options (1,200,000 small entries, under the bus's 32 MiB: what
    costs most to unmarshal, 0.7 s of dbus-fast's reader). The bus
    itself holds every caller while it takes in such a message: what the root read
    waits while the same message goes to a name nobody owns is the baseline."""
    huge = {f"k{n}": ["b", True] for n in range(1_200_000)}
    call = {"path": HOST, "interface": IFACE + "Host", "member": "EnumerateLuns",
            "signature": "a{sv}", "body": [huge]}
    waits: dict[str, float] = {}
    for destination in ("org.solidice.Nobody", "org.solidice.Storage"):
        running, sending = await flood(system_bus, [{**call, "destination": destination}])
        async with running as big:
            waits[destination] = await longest_wait_while(large, big, sending)
            [outcome] = await big
    assert waits["org.solidice.Storage"] < waits["org.solidice.Nobody"] + 0.3, waits
    assert outcome["outcome"] == ERROR + "InvalidArgument", outcome
    assert "too large" in outcome["message"]
    many = {f"k{n}": ["b", True] for n in range(100)}
    [outcome] = await caller.run_as(system_bus, NOBODY, [{**call, "body": [many]}])
    assert outcome["outcome"] == ERROR + "InvalidArgument", outcome
    assert "100 options" in outcome["message"]
    assert len(await large.host("EnumerateLuns", "a{sv}", {})) == 7   # still answering
    with pytest.raises(DBusError) as refused:
        await large.host("GetBlockInfo", "sa{sv}", "x" * 70_000, {})
    assert refused.value.type == ERROR + "InvalidArgument"


async def test_introspecting_a_path_with_many_children_does_not_hold_a_root_read(
        large, system_bus):
    lvs = ROOT + "/LogicalVolume"
    introspect = {"path": lvs, "interface": "org.freedesktop.DBus.Introspectable",
                  "member": "Introspect"}
    running, sending = await flood(system_bus, [introspect] * 20)
    async with running as calls_sent:
        longest = await longest_wait_while(large, calls_sent, sending)
        outcomes = {o["outcome"] for o in await calls_sent}
    assert longest < STALL_BOUND, longest
    assert outcomes == {"ok"}
    xml = await large.call(lvs, "org.freedesktop.DBus.Introspectable", "Introspect")
    children = {node.get("name") for node in ElementTree.fromstring(xml.split("\n", 2)[2])}
    tree = await large.objects()
    assert children == {p.rsplit("/", 1)[1] for p in tree if p.startswith(lvs + "/")}
    assert len(children) == LVS + 4

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Concurrent D-Bus clients for the load tests (tests/dbus/test_load.py, tests/lab/
test_load.py), each on its own bus connection: readers, LV writers and VG cyclers.
Every call is recorded (kind, start, latency, outcome) and bounded by a timeout,
so a deadlock shows as a call with no reply; each writer keeps a ledger of the
objects it made and removed. A monitor replays the daemon's ObjectManager and
PropertiesChanged signals onto a first GetManagedObjects, to hold the exported
tree to what the signals said. Only dbus-fast, no test framework: run as a module
(`python -m tests.busload`, a JSON config on stdin) it is the worker process of
tier 2's unprivileged clients.
"""

import asyncio
import copy
import json
import math
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from solidice_storage.client.convert import plain

NAME = "org.solidice.Storage"
ROOT = "/org/solidice/Storage"
HOST = ROOT + "/Host"
IFACE = "org.solidice.Storage."
PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
NO_REPLY = "no-reply"        # the outcome of a call that got no reply in time
# A read of an object another client removed meanwhile may end in these.
GONE = frozenset({"org.freedesktop.DBus.Error.UnknownObject",
                  "org.freedesktop.DBus.Error.UnknownMethod",
                  "org.freedesktop.DBus.Error.UnknownInterface",
                  IFACE.replace("Storage.", "Storage.Error.") + "NotFound"})
READS = ("GetManagedObjects", "GetAll", "Get", "EnumerateLuns", "EnumerateVolumeGroups",
         "ListLogicalVolumes", "GetBlockInfo")
MiB = 1024**2


@dataclass
class Call:
    kind: str
    client: str
    start: float            # time.monotonic(): one clock for every process here
    seconds: float
    outcome: str            # "ok", the error's name, or NO_REPLY
    message: str = ""
    volatile: bool = False  # on an object that another client may remove meanwhile


class Failed(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass
class Ledger:
    """What one client did to the object tree, by object path."""
    created: dict[str, str] = field(default_factory=dict)    # path → name
    removed: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)      # LV path → size it has now
    refused: list[str] = field(default_factory=list)         # names a create failed for
    uncertain: list[str] = field(default_factory=list)       # a change without a reply


class Client:
    """One bus connection; `call` records every call in the shared list."""

    def __init__(self, name: str, bus: MessageBus, calls: list[Call],
                 timeout: float) -> None:
        self.name, self.bus, self.calls, self.timeout = name, bus, calls, timeout

    @classmethod
    async def connect(cls, name: str, address: str | None, calls: list[Call],
                      timeout: float) -> "Client":
        if address:
            bus = await MessageBus(bus_address=address).connect()
        else:
            from dbus_fast import BusType
            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        return cls(name, bus, calls, timeout)

    async def call(self, kind: str, path: str, interface: str, member: str,
                   signature: str = "", *body: Any, volatile: bool = False) -> Any:
        start = time.monotonic()
        try:
            reply = await asyncio.wait_for(self.bus.call(Message(
                destination=NAME, path=path, interface=interface, member=member,
                signature=signature, body=list(body))), self.timeout)
        except asyncio.TimeoutError:
            self.calls.append(Call(kind, self.name, start, time.monotonic() - start,
                                   NO_REPLY, f"{member} on {path}", volatile))
            raise Failed(NO_REPLY, f"no reply within {self.timeout:g} s") from None
        seconds = time.monotonic() - start
        if reply.message_type is MessageType.ERROR:
            text = reply.body[0] if reply.body else ""
            self.calls.append(Call(kind, self.name, start, seconds, reply.error_name,
                                   text, volatile))
            raise Failed(reply.error_name, text)
        self.calls.append(Call(kind, self.name, start, seconds, "ok", "", volatile))
        return plain(reply.body[0]) if len(reply.body) == 1 else plain(reply.body)

    async def close(self) -> None:
        self.bus.disconnect()
        await self.bus.wait_for_disconnect()


async def _pause(rng: random.Random, think: tuple[float, float]) -> None:
    await asyncio.sleep(rng.uniform(*think))


async def reader(client: Client, stop: asyncio.Event, rng: random.Random,
                 think: tuple[float, float], stable: set[str]) -> None:
    """Reads of every kind, on objects picked from its last GetManagedObjects;
    a read of a path not in `stable` may find it gone (volatile)."""
    objects: dict = {}
    while not stop.is_set():
        kind = rng.choice(READS)
        try:
            if kind == "GetManagedObjects" or not objects:
                objects = await client.call("GetManagedObjects", ROOT, OBJECT_MANAGER,
                                            "GetManagedObjects")
            elif kind in ("GetAll", "Get"):
                path = rng.choice(sorted(objects))
                interface = rng.choice(sorted(objects[path]))
                if kind == "GetAll" or not objects[path][interface]:   # (StoragePool)
                    await client.call("GetAll", path, PROPERTIES, "GetAll", "s", interface,
                                      volatile=path not in stable)
                else:
                    prop = rng.choice(sorted(objects[path][interface]))
                    await client.call(kind, path, PROPERTIES, "Get", "ss", interface, prop,
                                      volatile=path not in stable)
            elif kind in ("EnumerateLuns", "EnumerateVolumeGroups"):
                await client.call(kind, HOST, IFACE + "Host", kind, "a{sv}", {})
            else:
                wanted = "VolumeGroup" if kind == "ListLogicalVolumes" else "Lun"
                found = sorted(p for p, i in objects.items() if IFACE + wanted in i)
                if found:
                    path = rng.choice(found)
                    if kind == "ListLogicalVolumes":
                        await client.call(kind, path, IFACE + "VolumeGroup", kind, "a{sv}",
                                          {}, volatile=path not in stable)
                    else:
                        await client.call(kind, HOST, IFACE + "Host", kind, "sa{sv}",
                                          path, {}, volatile=path not in stable)
        except Failed:
            pass                     # recorded; the test judges the outcomes
        await _pause(rng, think)


async def lv_writer(client: Client, vg: str, prefix: str, stop: asyncio.Event,
                    rng: random.Random, think: tuple[float, float], ledger: Ledger,
                    max_lvs: int = 3, max_size: int = 12 * MiB,
                    remove_options: dict | None = None) -> None:
    """Creates LVs `<prefix>-<n>` of 4 MiB in `vg`, extends them by 4 MiB (with
    expected-size, so the ledger's size is the truth) and removes them, keeping at
    most `max_lvs`. A refused change leaves the ledger as it was."""
    mine: list[str] = []
    number = 0
    while not stop.is_set():
        roll = rng.random()
        growable = [p for p in mine if ledger.sizes[p] < max_size]
        try:
            if len(mine) < max_lvs and (not mine or roll < 0.4):
                number += 1
                name = f"{prefix}-{number}"
                try:
                    path = await client.call(
                        "CreateLogicalVolume", vg, IFACE + "VolumeGroup",
                        "CreateLogicalVolume", "sta{sv}", name, 4 * MiB, {})
                except Failed as failed:
                    (ledger.uncertain if failed.name == NO_REPLY else ledger.refused
                     ).append(name)
                    raise
                ledger.created[path] = name
                ledger.sizes[path] = 4 * MiB
                mine.append(path)
            elif growable and roll < 0.7:
                path = rng.choice(growable)
                try:
                    await client.call("LogicalVolume.Extend", path, IFACE + "LogicalVolume",
                                      "Extend", "ta{sv}", 4 * MiB,
                                      {"expected-size": Variant("t", ledger.sizes[path])})
                except Failed as failed:
                    if failed.name == NO_REPLY:
                        ledger.uncertain.append(path)
                        mine.remove(path)
                    raise
                ledger.sizes[path] += 4 * MiB
            elif mine:
                path = rng.choice(mine)
                try:
                    await client.call("LogicalVolume.Remove", path, IFACE + "LogicalVolume",
                                      "Remove", "a{sv}", remove_options or {})
                except Failed as failed:
                    if failed.name == NO_REPLY:
                        ledger.uncertain.append(path)
                        mine.remove(path)
                    raise
                ledger.removed.append(path)
                del ledger.sizes[path]
                mine.remove(path)
        except Failed:
            pass
        await _pause(rng, think)


async def vg_cycler(client: Client, name: str, devices: list[str], stop: asyncio.Event,
                    rng: random.Random, think: tuple[float, float],
                    ledger: Ledger) -> None:
    """Creates VG `name` on `devices`, an LV in it, extends that, then removes the
    VG (its LVs and PV labels with it); again until stopped."""
    while not stop.is_set():
        try:
            vg = await client.call("CreateVolumeGroup", HOST, IFACE + "StoragePool",
                                   "CreateVolumeGroup", "sasa{sv}", name, devices, {})
        except Failed as failed:
            (ledger.uncertain if failed.name == NO_REPLY else ledger.refused).append(name)
            await _pause(rng, think)
            continue
        ledger.created[vg] = name
        inside = []
        try:
            lv = await client.call("CreateLogicalVolume", vg, IFACE + "VolumeGroup",
                                   "CreateLogicalVolume", "sta{sv}", "inside", 4 * MiB, {})
            ledger.created[lv] = "inside"
            inside.append(lv)
            await client.call("LogicalVolume.Extend", lv, IFACE + "LogicalVolume",
                              "Extend", "ta{sv}", 4 * MiB, {})
        except Failed:
            pass
        await _pause(rng, think)
        try:
            await client.call("RemoveVolumeGroup", HOST, IFACE + "StoragePool",
                              "RemoveVolumeGroup", "sa{sv}", vg, {})
            ledger.removed += [vg, *inside]
        except Failed:
            ledger.uncertain.append(vg)
            return                   # the VG may still be there: stop cycling
        await _pause(rng, think)


class Monitor:
    """A connection that replays the daemon's InterfacesAdded/Removed and
    PropertiesChanged onto its first GetManagedObjects. `objects()` returns a
    fresh GetManagedObjects with the replayed tree as it was when that reply
    arrived (the bus keeps one sender's messages in order)."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.state: dict | None = None
        self.problems: list[str] = []
        self.added: Counter = Counter()
        self.removed: Counter = Counter()
        self.signals = 0
        self._owner = ""
        self._waiting: dict[int, Any] = {}
        bus.add_message_handler(self._handle)

    @classmethod
    async def connect(cls, address: str | None) -> "Monitor":
        client = await Client.connect("monitor", address, [], 60)
        monitor = cls(client.bus)
        reply = await monitor._bus_call("GetNameOwner", "s", NAME)
        monitor._owner = reply.body[0]
        await monitor._bus_call("AddMatch", "s", f"type='signal',sender='{NAME}'")
        await monitor.objects()
        return monitor

    async def _bus_call(self, member: str, signature: str, *body: Any) -> Message:
        reply = await self.bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member=member, signature=signature,
            body=list(body)))
        assert reply.message_type is MessageType.METHOD_RETURN, reply.body
        return reply

    async def objects(self) -> tuple[dict, dict]:
        """(GetManagedObjects now, the replayed tree at its reply)."""
        serial = self.bus.next_serial()
        self._waiting[serial] = None
        reply = await self.bus.call(Message(
            destination=NAME, path=ROOT, interface=OBJECT_MANAGER,
            member="GetManagedObjects", serial=serial))
        assert reply.message_type is MessageType.METHOD_RETURN, reply.body
        return plain(reply.body[0]), self._waiting.pop(serial)

    def _handle(self, message: Message) -> None:
        if (message.message_type is MessageType.METHOD_RETURN
                and message.reply_serial in self._waiting):
            if self.state is None:       # the first: the replay starts from here
                self.state = plain(message.body[0])
            self._waiting[message.reply_serial] = copy.deepcopy(self.state)
        elif (message.message_type is MessageType.SIGNAL and self.state is not None
              and message.sender == self._owner):
            self.signals += 1
            self._apply(message)

    def _apply(self, message: Message) -> None:
        state, body = self.state, message.body
        if message.member == "InterfacesAdded":
            path, interfaces = body[0], plain(body[1])
            if message.path != ROOT:
                self.problems.append(f"InterfacesAdded for {path} from {message.path}")
            if set(interfaces) & set(state.get(path, {})):
                self.problems.append(f"InterfacesAdded for {path}, already there")
            state.setdefault(path, {}).update(interfaces)
            self.added[path] += 1
        elif message.member == "InterfacesRemoved":
            path, interfaces = body
            if message.path != ROOT:
                self.problems.append(f"InterfacesRemoved for {path} from {message.path}")
            if path not in state or not set(interfaces) <= set(state[path]):
                self.problems.append(f"InterfacesRemoved for {path}, not there")
            for interface in interfaces:
                state.get(path, {}).pop(interface, None)
            if not state.get(path, True):
                del state[path]
            self.removed[path] += 1
        elif message.member == "PropertiesChanged" and message.interface == PROPERTIES:
            interface, changed, _ = body
            known = state.get(message.path, {}).get(interface)
            if known is None:
                self.problems.append(f"PropertiesChanged for {message.path} {interface}, "
                                     "not there")
            else:
                known.update(plain(changed))

    async def close(self) -> None:
        self.bus.disconnect()
        await self.bus.wait_for_disconnect()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def stats(calls: list[Call]) -> dict:
    """Count, outcomes and latency (ms) of some calls."""
    seconds = [c.seconds for c in calls]
    return {"calls": len(calls), "ok": sum(c.outcome == "ok" for c in calls),
            "outcomes": dict(Counter(c.outcome for c in calls if c.outcome != "ok")),
            "p50_ms": round(percentile(seconds, 0.5) * 1000, 1),
            "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
            "max_ms": round(max(seconds, default=0) * 1000, 1)}


def summary(calls: list[Call], windows: dict[str, tuple[float, float]] | None = None
            ) -> dict:
    """Per kind, all reads, all writes; and the reads that started in each window."""
    reads = [c for c in calls if c.kind in READS]
    writes = [c for c in calls if c.kind not in READS]
    result = {"reads": stats(reads), "writes": stats(writes),
              "by_kind": {kind: stats([c for c in calls if c.kind == kind])
                          for kind in sorted({c.kind for c in calls})}}
    for name, (start, end) in (windows or {}).items():
        for label, some in (("reads", reads), ("writes", writes)):
            result[f"{label} while {name}"] = stats([c for c in some
                                                     if start <= c.start < end])
    return result


def table(result: dict) -> str:
    """The summary as lines a person reads."""
    lines = [f"{'':32} {'calls':>7} {'ok':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
             "  other outcomes"]
    rows = [(k, v) for k, v in result.items() if isinstance(v, dict) and "calls" in v]
    rows += [(f"  {k}", v) for k, v in result.get("by_kind", {}).items()]
    for label, row in rows:
        other = ", ".join(f"{name.rsplit('.', 1)[-1]} {count}"
                          for name, count in sorted(row["outcomes"].items()))
        lines.append(f"{label:32} {row['calls']:>7} {row['ok']:>7} {row['p50_ms']:>8} "
                     f"{row['p99_ms']:>8} {row['max_ms']:>8}  {other}")
    return "\n".join(lines)


# ---- the worker process (tier 2's unprivileged clients) ----

async def _worker(config: dict) -> dict:
    """Readers and LV writers as configured; 'ready' on stdout once connected, then
    runs from 'go' on stdin for config['seconds']; the calls and ledgers as JSON."""
    calls: list[Call] = []
    clients = [await Client.connect(f"{config['prefix']}{n}", config["address"], calls,
                                    config["timeout"])
               for n in range(config["readers"] + config["writers"])]
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    stop = asyncio.Event()
    ledgers = {client.name: Ledger() for client in clients[config["readers"]:]}
    think = tuple(config["think"])
    tasks = [reader(client, stop, random.Random(f"{client.name}"), think,
                    set(config["stable"])) for client in clients[:config["readers"]]]
    tasks += [lv_writer(client, config["vg"], client.name, stop,
                        random.Random(client.name), tuple(config["write_think"]),
                        ledgers[client.name], max_lvs=config["max_lvs"])
              for client in clients[config["readers"]:]]
    loop.call_later(config["seconds"], stop.set)
    await asyncio.gather(*tasks)
    for client in clients:
        await client.close()
    return {"calls": [asdict(c) for c in calls],
            "ledgers": {name: asdict(ledger) for name, ledger in ledgers.items()}}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_worker(json.loads(sys.stdin.readline())))), flush=True)

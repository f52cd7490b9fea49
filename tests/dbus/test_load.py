# SPDX-License-Identifier: LGPL-2.1-or-later
"""Load: 50 clients on 50 bus connections, reading and changing the simulated host
at once for LOAD_SECONDS, while polkit hangs for the first HANG_SECONDS. 40 are
root in this process (readers, LV writers in vmstore, VG cyclers on the free
LUNs); 10 are uid 65534 in a worker process (tests/busload.py), so their changes
go through polkit: while it hangs, each is denied when the daemon's polkit timeout
(2 s here) passes (or, beyond the 4 checks one uid may have waiting, refused as
Busy after half a second), and a late "yes" released after that must change nothing; after
that polkit answers at once (manage-lvm allowed, remove not). Proven after: every
call got a reply; the tree is what the clients did, each object once; the signals
replayed onto the first GetManagedObjects give the last one; GetAll of every object
agrees with GetManagedObjects; and reads stayed fast throughout. The figures are
printed and written to test-results/load-tier2.json."""

import asyncio
import json
import os
import random
import sys
import time
from collections import Counter

import pytest
from dbus_fast import Variant

from conftest import NOBODY, TOP
from storage import IFACE
from tests.busload import (GONE, HOST, NO_REPLY, READS, Call, Client, Ledger, Monitor,
                           lv_writer, reader, summary, table, vg_cycler)

MANAGE_LVM = "org.solidice.storage.manage-lvm"
REMOVE = "org.solidice.storage.remove"
NOT_AUTHORIZED = "org.solidice.Storage.Error.NotAuthorized"
BUSY = "org.solidice.Storage.Error.Busy"
POLKIT_TIMEOUT = 2.0                  # the daemon fixture's --polkit-timeout
LOAD_SECONDS = 24
HANG_SECONDS = 14
ROOT_READERS, ROOT_WRITERS, VG_CYCLERS = 28, 9, 3
NOBODY_READERS, NOBODY_WRITERS = 4, 6
CALL_TIMEOUT = 15                     # a call without a reply by then: a deadlock
READ_THINK = (0.0, 0.02)              # seconds between a client's calls
WRITE_THINK = (0.0, 0.05)
# The bounds. Measured on the 2-core development machine, where everything here
# shares the two cores (dbus-daemon, the daemon, polkit's mock, 50 clients in two
# Python processes; about 2,000 reads and 400 writes a second): read p99 14-70 ms
# (max 0.4 s), root's writes p99 60 ms; with a second copy of this test running
# at once, read p99 110-300 ms (max 0.7 s), root's writes p99 260-410 ms. A loop
# blocked by the hanging polkit would hold every read for the 2 s polkit timeout
# (a 0.5 s blocking sleep in auth.py made read p99 3 s): 1 s is clear of both.
READ_P99_BOUND = 1.0
ROOT_WRITE_P99_BOUND = 1.5


async def start_nobody_worker(address: str, vg: str, stable: set[str]):
    """tests/busload.py as uid 65534: its clients connected, waiting for "go"."""
    worker = await asyncio.create_subprocess_exec(
        "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
        sys.executable, "-m", "tests.busload", cwd=TOP,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    config = {"address": address, "prefix": "nobody", "vg": vg, "stable": sorted(stable),
              "readers": NOBODY_READERS, "writers": NOBODY_WRITERS, "max_lvs": 3,
              "seconds": LOAD_SECONDS, "timeout": CALL_TIMEOUT, "think": READ_THINK,
              "write_think": WRITE_THINK}
    worker.stdin.write(json.dumps(config).encode() + b"\n")
    await worker.stdin.drain()
    ready = await asyncio.wait_for(worker.stdout.readline(), 60)
    assert ready == b"ready\n", ready
    return worker


async def finish_nobody_worker(worker) -> tuple[list[Call], dict[str, Ledger]]:
    out = await asyncio.wait_for(worker.stdout.read(), LOAD_SECONDS + 60)
    assert await worker.wait() == 0
    result = json.loads(out)
    return ([Call(**c) for c in result["calls"]],
            {name: Ledger(**ledger) for name, ledger in result["ledgers"].items()})


def kinds(objects: dict, kind: str) -> dict:
    return {path: ifaces[IFACE + kind] for path, ifaces in objects.items()
            if IFACE + kind in ifaces}


@pytest.mark.timeout(LOAD_SECONDS + 120)
async def test_fifty_clients_read_and_write_while_polkit_hangs(
        daemon, storage, polkit, system_bus, capsys):
    await polkit.allow(MANAGE_LVM)   # what a hung call would say, once released late
    await polkit.hang()
    monitor = await Monitor.connect(system_bus)
    initial, _ = await monitor.objects()
    stable = set(initial)            # nothing here removes what was there before
    vg = await storage.vg("vmstore")
    free = sorted(path for path, lun in kinds(initial, "Lun").items()
                  if lun["Status"] == "free")
    assert len(free) >= VG_CYCLERS, free
    worker = await start_nobody_worker(system_bus, vg, stable)

    calls: list[Call] = []
    root = [await Client.connect(f"root{n}", system_bus, calls, CALL_TIMEOUT)
            for n in range(ROOT_READERS + ROOT_WRITERS + VG_CYCLERS)]
    readers, writers = root[:ROOT_READERS], root[ROOT_READERS:ROOT_READERS + ROOT_WRITERS]
    cyclers = root[ROOT_READERS + ROOT_WRITERS:]
    ledgers = {client.name: Ledger() for client in writers + cyclers}
    stop = asyncio.Event()
    tasks = [reader(c, stop, random.Random(c.name), READ_THINK, stable) for c in readers]
    force = {"force": Variant("b", True)}     # vmstore was not made by the service
    tasks += [lv_writer(c, vg, c.name, stop, random.Random(c.name), WRITE_THINK,
                        ledgers[c.name], remove_options=force) for c in writers]
    tasks += [vg_cycler(c, f"load{n}", [free[n]], stop, random.Random(c.name), WRITE_THINK,
                        ledgers[c.name]) for n, c in enumerate(cyclers)]

    worker.stdin.write(b"go\n")
    await worker.stdin.drain()
    started = time.monotonic()
    running = asyncio.gather(*tasks)
    await asyncio.sleep(HANG_SECONDS)
    answered = time.monotonic()      # polkit answers from here on
    await polkit.hang(False)
    await polkit.release()           # the hung calls: late for most, in time for some
    await asyncio.sleep(started + LOAD_SECONDS - time.monotonic())
    stop.set()
    await asyncio.wait_for(running, CALL_TIMEOUT * 2)
    ended = time.monotonic()
    nobody_calls, nobody_ledgers = await finish_nobody_worker(worker)
    for client in root:
        await client.close()

    await asyncio.sleep(0.5)         # the late polkit answers are in by now
    final, replayed = await monitor.objects()
    everything = calls + nobody_calls
    result = summary(everything, {"polkit hangs": (started, answered),
                                  "polkit answers": (answered, ended)})
    result["root writes"] = summary([c for c in calls if c.kind not in READS])["writes"]
    result["unprivileged writes"] = summary(
        [c for c in nobody_calls if c.kind not in READS])["writes"]
    result["clients"] = {"root": len(root), "uid 65534": NOBODY_READERS + NOBODY_WRITERS}
    result["seconds"] = {"load": round(ended - started, 1), "polkit hangs": HANG_SECONDS}
    result["objects"] = {"before": len(initial), "after": len(final),
                         "signals": monitor.signals}
    (TOP / "test-results").mkdir(exist_ok=True)
    (TOP / "test-results/load-tier2.json").write_text(json.dumps(result, indent=1) + "\n")
    with capsys.disabled():
        print(f"\n{table(result)}\nclients {result['clients']} seconds {result['seconds']} "
              f"objects {result['objects']}")

    # every call got a reply; no read failed but of an object removed meanwhile
    assert [c for c in everything if c.outcome == NO_REPLY] == []
    assert [c for c in everything if c.kind in READS and c.outcome != "ok"
            and not (c.volatile and c.outcome in GONE)] == []
    assert [c for c in calls if c.kind not in READS and c.outcome != "ok"] == []
    # the unprivileged: a change is denied for the polkit timeout while it hangs,
    # allowed (manage-lvm) or refused (remove) at once after; never a remove
    for call in nobody_calls:
        if call.kind in READS:
            continue
        if call.outcome == BUSY:
            # past the checks one uid may have waiting on polkit (dbus/auth.py):
            # 6 writers of one uid, 4 checks at a time, while polkit hangs
            assert "too many authorization requests" in call.message, call
            assert call.start < answered + 1, call
            continue
        if call.kind == "LogicalVolume.Remove":
            assert call.outcome == NOT_AUTHORIZED, call
        if call.start + call.seconds < answered:
            assert call.outcome == NOT_AUTHORIZED and "timed out" in call.message, call
            assert call.seconds >= POLKIT_TIMEOUT * 0.95, call
        elif call.start > answered + 0.5:
            assert (call.outcome == "ok") == (call.kind != "LogicalVolume.Remove"), call
    assert any(c.kind == "CreateLogicalVolume" and c.outcome == "ok" for c in nobody_calls)

    # the tree: what the clients did, each object once
    assert monitor.problems == []
    assert replayed == final
    for path, interfaces in final.items():
        for interface, props in interfaces.items():
            assert await storage.props(path, interface.removeprefix(IFACE)) == props, path
    all_ledgers = {**ledgers, **nobody_ledgers}
    created = {p: n for ledger in all_ledgers.values() for p, n in ledger.created.items()}
    removed = [p for ledger in all_ledgers.values() for p in ledger.removed]
    assert not [ledger.uncertain for ledger in all_ledgers.values() if ledger.uncertain]
    assert len(removed) == len(set(removed))
    lvs = kinds(final, "LogicalVolume")
    expected = (set(kinds(initial, "LogicalVolume")) | set(created)) - set(removed)
    assert set(lvs) == expected
    assert {p: lvs[p]["Name"] for p in created if p in lvs} == \
        {p: n for p, n in created.items() if p in lvs}
    sizes = {p: s for ledger in all_ledgers.values() for p, s in ledger.sizes.items()}
    assert {p: lvs[p]["Size"] for p in sizes} == sizes
    names = Counter((lv["VolumeGroup"], lv["Name"]) for lv in lvs.values())
    assert [key for key, count in names.items() if count > 1] == []
    refused = {n for ledger in nobody_ledgers.values() for n in ledger.refused}
    assert refused and not refused & {lv["Name"] for lv in lvs.values()}
    for kind in ("VolumeGroup", "PhysicalVolume", "Lun", "Mount", "IscsiSession"):
        assert kinds(final, kind).keys() == kinds(initial, kind).keys(), kind
    host = final[HOST][IFACE + "Host"]
    assert sorted(host["VolumeGroups"]) == sorted(kinds(final, "VolumeGroup"))
    assert sorted(host["Luns"]) == sorted(kinds(final, "Lun"))
    listed = await storage.call(vg, "VolumeGroup", "ListLogicalVolumes", "a{sv}", {})
    assert sorted(listed) == sorted(p for p, lv in lvs.items() if lv["VolumeGroup"] == vg)
    # one InterfacesAdded for each object made, one InterfacesRemoved for each removed
    assert {p: monitor.added[p] for p in created} == {p: 1 for p in created}
    assert {p: monitor.removed[p] for p in removed} == {p: 1 for p in removed}
    assert sum(len(ledger.created) for ledger in ledgers.values()) > 100

    # reads stayed fast while polkit hung and writes ran
    assert result["reads while polkit hangs"]["p99_ms"] < READ_P99_BOUND * 1000
    assert result["reads"]["p99_ms"] < READ_P99_BOUND * 1000
    assert result["root writes"]["p99_ms"] < ROOT_WRITE_P99_BOUND * 1000
    await monitor.close()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Signals that look like the service's but come from another connection: the bus
delivers a signal addressed to a connection whatever its match rules, and lets any
user send one. solidice-storagectl must not take a forged Job.Completed for the
end of a data move."""

import asyncio
import subprocess
import sys
import time

from dbus_fast import Message, MessageType

from storage import IFACE, ROOT

FREE = ["36001405d0e1f2a3b4c5d6e7f80910003", "36001405d0e1f2a3b4c5d6e7f80910004"]
COMMAND = [sys.executable, "-m", "solidice_storage.cli"]


def ctl(address, *args):
    return subprocess.run([*COMMAND, "--address", address, *args], capture_output=True,
                          text=True, timeout=60)


async def forge_completions(bus, storage, stop: asyncio.Event) -> int:
    """Job.Completed(true, "") for every job on the bus, to every connection and to
    everyone, over and over until `stop`; how many were sent."""
    sent = 0
    while not stop.is_set():
        names = (await bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member="ListNames"))).body[0]
        jobs = [path for path in await storage.objects() if path.startswith(ROOT + "/Job/")]
        for job in jobs:
            for destination in [n for n in names if n.startswith(":")] + [None]:
                await bus.send(Message(message_type=MessageType.SIGNAL, path=job,
                                       destination=destination, interface=IFACE + "Job",
                                       member="Completed", signature="bs",
                                       body=[True, ""]))
                sent += 1
        await asyncio.sleep(0.05)
    return sent


async def test_storagectl_waits_for_the_services_own_completion(storage, bus, system_bus):
    await asyncio.to_thread(ctl, system_bus, "vg", "create", "vg0", *FREE)
    await asyncio.to_thread(ctl, system_bus, "lv", "create", "vg0", "big", "40G")
    stop = asyncio.Event()
    forger = asyncio.create_task(forge_completions(bus, storage, stop))
    started = time.monotonic()
    try:
        result = await asyncio.to_thread(ctl, system_bus, "pv", "remove", "vg0", FREE[0],
                                         "--move-data")
    finally:
        stop.set()
        sent = await forger
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert sent > 0
    vg = await storage.vg("vg0")
    # it returned when the data had moved: the PV has left the VG
    assert len((await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"]) == 1, took
    lines = [line for line in result.stderr.splitlines() if line.startswith("pv-move:")]
    assert lines[-1] == "pv-move: 100%"
    await asyncio.to_thread(ctl, system_bus, "vg", "remove", "vg0")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""`solidice-storagectl monitor` against the daemon: one JSON schema for every event,
objects named as people name them, and the service going away and coming back
(issue 18, points 3, 10 and 11). The monitor is stopped with SIGKILL here: how it
takes Ctrl-C is test_storagectl.py's test_monitor_prints_changes."""

import asyncio
import json
import signal
import subprocess
import threading

import pytest

from solidice_storage.client import events
from test_storagectl import COMMAND, FREE, ctl

BOUND = 30          # seconds for an event to be printed, on a loaded machine
COMMON = ["event", "kind", "object_path", "key"]


class Monitor:
    """A running `monitor`; its stdout lines as they come, read in a thread."""

    def __init__(self, address: str, *args: str) -> None:
        self.process = subprocess.Popen([*COMMAND, "--address", address, "monitor", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: list[str] = []
        self._new = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._new:
                self.lines.append(line.rstrip("\n"))
                self._new.notify_all()
        with self._new:
            self._new.notify_all()

    def _wait_for(self, wanted, start: int) -> int:
        with self._new:
            found = self._new.wait_for(
                lambda: any(wanted(line) for line in self.lines[start:])
                or self.process.poll() is not None, BOUND)
            hits = [i for i, line in enumerate(self.lines) if i >= start and wanted(line)]
        assert found and hits, f"not printed within {BOUND} s: {self.lines}"
        return hits[0]

    async def ready(self) -> None:
        """Return once the monitor says it is watching (later changes are shown)."""
        line = await asyncio.to_thread(self.process.stderr.readline)
        assert line.startswith("watching"), line

    async def until(self, wanted, start: int = 0) -> int:
        """The index of the first line from `start` on for which `wanted` holds."""
        return await asyncio.to_thread(self._wait_for, wanted, start)

    def finished(self) -> int:
        """Its exit code, once it has exited and all it printed is read."""
        code = self.process.wait(BOUND)
        self._reader.join(BOUND)
        return code

    def json(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(BOUND)
        self._reader.join(BOUND)
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def monitor(system_bus):
    started: list[Monitor] = []

    def start(*args: str) -> Monitor:
        started.append(Monitor(system_bus, *args))
        return started[-1]

    yield start
    for running in started:
        running.kill()


def event_of(kind: str, name: str, event: str):
    def wanted(line: str) -> bool:
        data = json.loads(line)
        return (data["event"], data["kind"], data.get("name")) == (event, kind, name)
    return wanted


async def command(address: str, *args: str) -> None:
    result = await asyncio.to_thread(ctl, address, *args)
    assert result.returncode == 0, result.stderr


async def test_one_schema_for_every_event(daemon, system_bus, monitor):
    watching = monitor("--json")
    await watching.ready()
    await command(system_bus, "vg", "create", "vg0", *FREE)
    await command(system_bus, "lv", "snapshot", "vmstore/templates", "tsnap", "1G")
    await command(system_bus, "lv", "remove", "vmstore/tsnap", "--force")
    await command(system_bus, "vg", "remove", "vg0")
    await watching.until(event_of("VolumeGroup", "vg0", "removed"))
    await watching.until(lambda line: json.loads(line)["event"] == "completed")
    seen = watching.json()
    for data in seen:
        assert list(data)[:4] == COMMON, data
    [added] = [e for e in seen if e["event"] == "added" and e["kind"] == "VolumeGroup"]
    [removed] = [e for e in seen if e["event"] == "removed" and e["kind"] == "VolumeGroup"]
    assert (added["object_path"], added["key"]) == (removed["object_path"],
                                                     removed["key"])
    assert added["key"] == added["uuid"] and removed["name"] == "vg0"
    [completed] = [e for e in seen if e["event"] == "completed"]
    [job] = [e for e in seen if e["event"] == "added" and e["kind"] == "Job"]
    assert (completed["object_path"], completed["key"], completed["id"]) == (
        job["object_path"], job["key"], job["id"])
    assert completed["success"] is True
    changed = [e for e in seen if e["event"] == "changed"]
    assert changed and all(e["changed"] and e["key"] for e in changed)
    assert {e["event"] for e in seen} >= {"added", "changed", "removed", "completed",
                                          "host-changed"}


async def test_text_names_objects_as_people_do(daemon, system_bus, monitor):
    watching = monitor()
    await watching.ready()
    await command(system_bus, "vg", "create", "vg0", *FREE)
    await command(system_bus, "lv", "create", "vg0", "disk0", "1G")
    await watching.until(lambda line: line == "added    LogicalVolume /dev/vg0/disk0")
    await command(system_bus, "vg", "remove", "vg0", "--yes")
    await watching.until(lambda line: line == "removed  VolumeGroup vg0")
    assert "added    VolumeGroup vg0" in watching.lines
    assert any(line.startswith("changed  VolumeGroup vg0 free_size=") and "GiB" in line
               for line in watching.lines)


lost_and_back = pytest.mark.skipif(
    not hasattr(events, "ServiceLost"),
    reason="the client's watch(resume=True) is not there yet (issue 18, point 3)")


@lost_and_back
async def test_the_service_stopping_and_coming_back(start_daemon, system_bus, monitor):
    first = start_daemon()
    watching = monitor("--json")
    await watching.ready()
    await command(system_bus, "vg", "create", "vg0", *FREE)
    added = await watching.until(event_of("VolumeGroup", "vg0", "added"))
    vg = watching.json()[added]
    await asyncio.to_thread(first.stop)
    lost = await watching.until(lambda line: json.loads(line)["event"] == "service-lost",
                                added)
    start_daemon()                          # a fresh simulated host: vg0 is gone
    back = await watching.until(lambda line: json.loads(line)["event"] == "service-back",
                                lost)
    # What changed while the service was away is told after it is back.
    gone = await watching.until(event_of("VolumeGroup", "vg0", "removed"), back)
    assert (watching.json()[gone]["object_path"], watching.json()[gone]["key"]) == (
        vg["object_path"], vg["key"])
    assert watching.process.poll() is None          # and it keeps watching
    await command(system_bus, "vg", "create", "vg1", *FREE)
    await watching.until(event_of("VolumeGroup", "vg1", "added"), gone)


@lost_and_back
async def test_exit_on_loss(start_daemon, system_bus, monitor):
    first = start_daemon()
    watching = monitor("--exit-on-loss")
    await watching.ready()
    await asyncio.to_thread(first.stop)
    code = await asyncio.to_thread(watching.finished)
    assert code == 3
    assert watching.lines[-1:] == ["service stopped"]
    err = watching.process.stderr.read()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err

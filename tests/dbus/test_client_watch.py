# SPDX-License-Identifier: LGPL-2.1-or-later
"""The client follows the service across its going away: watch() raises at once
when the service's owner or the bus goes, or with resume=True says so (ServiceLost,
ServiceBack) and then yields what changed meanwhile, so that a caller's view built
from the events is the service's tree, with nothing missed; handles stay current
from the signals."""

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time

import pytest

from solidice_storage import client as sc, models
from solidice_storage.client import GiB, StorageClient

FREE_LUNS = ["36001405d0e1f2a3b4c5d6e7f80910003", "36001405d0e1f2a3b4c5d6e7f80910004"]
WAIT = 20            # seconds: a generous bound on what the test waits for


@pytest.fixture(autouse=True)
async def no_error_left_on_the_loop():
    """Nothing the client leaves behind fails unseen: no "Future exception was never
    retrieved", no task that failed unawaited."""
    loop = asyncio.get_running_loop()
    errors: list = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    yield
    gc.collect()                  # an unretrieved exception is reported when collected
    loop.set_exception_handler(None)
    assert errors == []


class Watcher:
    """watch() run in a task: every event, and the caller's view of the tree (path
    → model) built from them alone."""

    def __init__(self, client: StorageClient, resume: bool) -> None:
        self.events: list = []
        self.view: dict = {}
        self.error: BaseException | None = None
        self._client, self._resume = client, resume
        self._changed = asyncio.Condition()
        self._ready = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def start(self) -> "Watcher":
        """The watcher, once watch() is ready, its view the tree then."""
        await asyncio.wait_for(self._ready.wait(), WAIT)
        try:
            self.view = await tree_of(self._client)
        except sc.ServiceUnavailableError:
            self.view = {}                    # not running: nothing to see yet
        return self

    async def _run(self) -> None:
        try:
            resume = {"resume": True} if self._resume else {}
            async for event in self._client.watch(self._ready, **resume):
                self.events.append(event)
                if isinstance(event, (sc.ObjectAdded, sc.ObjectChanged)):
                    self.view[event.path] = event.object.state
                elif isinstance(event, sc.ObjectRemoved):
                    self.view.pop(event.path, None)
                async with self._changed:
                    self._changed.notify_all()
        except BaseException as error:
            self.error = error
            raise

    async def until(self, condition) -> None:
        """Return once `condition()` holds (checked at every event)."""
        async def wait():
            async with self._changed:
                await self._changed.wait_for(condition)
        await asyncio.wait_for(wait(), WAIT)

    def saw(self, kind: type) -> bool:
        return any(isinstance(event, kind) for event in self.events)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def tree_of(client: StorageClient) -> dict:
    return {o.object_path: o.state for o in await client.objects()}


async def test_watch_raises_when_the_daemon_is_killed(start_daemon, system_bus):
    first = start_daemon()
    first.expected_status = -signal.SIGKILL
    async with StorageClient.connect(address=system_bus) as client:
        watcher = await Watcher(client, resume=False).start()
        first.proc.kill()
        with pytest.raises(sc.ServiceUnavailableError, match="stopped"):
            await asyncio.wait_for(watcher.task, WAIT)


async def test_watch_resumes_across_a_kill_and_a_restart(start_daemon, system_bus):
    first = start_daemon()
    first.expected_status = -signal.SIGKILL
    async with StorageClient.connect(address=system_bus) as client:
        watcher = await Watcher(client, resume=True).start()
        vg = await client.create_volume_group("vg0", FREE_LUNS)
        await vg.create_logical_volume("disk0", 10 * GiB)
        await watcher.until(lambda: vg.object_path in watcher.view)
        first.proc.kill()
        await watcher.until(lambda: watcher.saw(sc.ServiceLost))
        # A different host comes back: vg0 is gone, a VG 'bulk' with 3 LVs is there.
        await asyncio.to_thread(start_daemon, "--sim-lvs", "3")
        await watcher.until(lambda: watcher.saw(sc.ServiceBack))
        vg = await client.create_volume_group("vg1", FREE_LUNS)     # right after
        lv = await vg.create_logical_volume("disk1", 8 * GiB)
        now = await tree_of(client)
        await watcher.until(lambda: watcher.view == now)
        await watcher.stop()
    kinds = [type(e) for e in watcher.events]
    assert kinds.count(sc.ServiceLost) == kinds.count(sc.ServiceBack) == 1
    assert kinds.index(sc.ServiceLost) < kinds.index(sc.ServiceBack)
    after = watcher.events[kinds.index(sc.ServiceBack):]
    assert after[0].owner.startswith(":")
    # The view built from the events alone is the service's tree (checked above):
    # vg0 went with the first daemon, 'bulk' came with the second.
    names = {m.name for m in watcher.view.values() if isinstance(m, models.VolumeGroup)}
    assert "vg0" not in names and {"bulk", "vg1"} <= names
    assert any(isinstance(e, sc.ObjectChanged) and e.path == vg.object_path
               and "free_size" in e.changed for e in after)
    assert now[vg.object_path].free_size == vg.free_size       # the handle is current
    assert now[lv.object_path].size == 8 * GiB


async def test_handles_follow_the_service_without_a_read(client):
    vg = await client.create_volume_group("vg0", FREE_LUNS)
    free = vg.free_size
    for number in range(5):
        await vg.create_logical_volume(f"disk{number}", 8 * GiB)
        assert vg.free_size == free - (number + 1) * 8 * GiB
    lv = await client.logical_volume("vg0/disk0")
    other = await client.logical_volume("vg0/disk0")
    await lv.extend(by=GiB)
    assert other.size == lv.size == 9 * GiB              # any handle on it
    await lv.remove()
    assert lv.size == 9 * GiB and lv.name == "disk0"    # its last state
    with pytest.raises(sc.NotFoundError, match="disk0|left the bus"):
        await lv.refresh()


async def test_watch_started_before_the_service_hears_it_come(start_daemon, system_bus):
    async with StorageClient.connect(address=system_bus) as client:
        watcher = await Watcher(client, resume=True).start()
        assert watcher.view == {}
        await watcher.until(lambda: watcher.saw(sc.ServiceLost))
        await asyncio.to_thread(start_daemon)
        await watcher.until(lambda: watcher.saw(sc.ServiceBack))
        now = await tree_of(client)
        await watcher.until(lambda: watcher.view == now)
        await watcher.stop()
    assert "not running" in watcher.events[0].reason
    assert [type(e) for e in watcher.events[:2]] == [sc.ServiceLost, sc.ServiceBack]


@pytest.fixture
async def client(daemon, system_bus):
    async with StorageClient.connect(address=system_bus) as connected:
        yield connected


class SessionHost:
    """A bus of its own at a fixed address with `solidice-storaged --sim --session`
    on it, as `make run-sim` gives: both can be killed and started again."""

    def __init__(self, tmp_path) -> None:
        self.address = f"unix:path={tmp_path}/bus"
        self.bus = self.daemon = None

    def start(self) -> None:
        self.bus = subprocess.Popen(
            ["dbus-daemon", "--session", f"--address={self.address}", "--nofork",
             "--print-address=1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        self.bus.stdout.readline()
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.address}
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "solidice_storage.daemon", "--sim", "--session"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if subprocess.run(["busctl", "--user", "status", "org.solidice.Storage"],
                              env=env, capture_output=True).returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError("the simulated service did not take its name")

    def kill(self) -> None:
        for proc in (self.bus, self.daemon):        # the bus first: it goes
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                proc.wait(10)
        if self.bus is not None:
            self.bus.stdout.close()
        self.bus = self.daemon = None


@pytest.fixture
def session_host(tmp_path):
    host = SessionHost(tmp_path)
    host.start()
    yield host
    host.kill()


async def test_watch_raises_when_the_bus_goes(session_host):
    async with StorageClient.connect(address=session_host.address) as client:
        watcher = await Watcher(client, resume=False).start()
        await asyncio.to_thread(session_host.kill)
        with pytest.raises(sc.ServiceUnavailableError, match="connection to the bus"):
            await asyncio.wait_for(watcher.task, WAIT)


async def test_watch_resumes_when_the_bus_comes_back(session_host):
    async with StorageClient.connect(address=session_host.address) as client:
        watcher = await Watcher(client, resume=True).start()
        vg = await client.create_volume_group("vg0", FREE_LUNS)
        await watcher.until(lambda: vg.object_path in watcher.view)
        await asyncio.to_thread(session_host.kill)
        await watcher.until(lambda: watcher.saw(sc.ServiceLost))
        await asyncio.to_thread(session_host.start)
        await watcher.until(lambda: watcher.saw(sc.ServiceBack))
        now = await tree_of(client)            # the client is connected again
        await watcher.until(lambda: watcher.view == now)
        await watcher.stop()
    assert vg.object_path not in now           # the new host has no vg0
    assert any(isinstance(e, sc.ObjectRemoved) and e.path == vg.object_path
               for e in watcher.events)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tier 2: the real daemon (--sim) on a private system bus that loads OUR policy
file, with python-dbusmock's polkitd; clients are dbus-fast, busctl and gdbus."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from blockbuster import blockbuster_ctx
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from storage import Storage, plain

TOP = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
NAME = "org.solidice.Storage"
POLKIT = "org.freedesktop.PolicyKit1"
NOBODY = 65534


@pytest.fixture(autouse=True)
def blockbuster():
    """A test fails (BlockingError) when our code in this process blocks the event
    loop thread on file or socket I/O, a sleep or a lock: here that is the client
    library (solidice_storage.client) and whatever of ours a test calls. The daemon
    runs in a child process, out of this guard's reach: the unit tier watches its
    code. The log may block (it is not ours to judge)."""
    with blockbuster_ctx("solidice_storage") as watch:
        for function in watch.functions.values():
            function.can_block_in("logging/__init__.py", {"emit", "flush"})
        yield watch


@pytest.fixture(scope="session")
def system_bus():
    """A private system bus: Debian's default policy, our policy file included."""
    tmp = tempfile.mkdtemp(prefix="solidice-bus-")
    os.chmod(tmp, 0o755)                       # other uids must reach the socket
    config = Path(tmp, "bus.conf")
    config.write_text((DATA / "system-bus.conf.in").read_text()
                      .replace("@LISTEN@", f"unix:path={tmp}/socket")
                      .replace("@POLICY@", str(TOP / "dbus-conf/org.solidice.Storage.conf")))
    bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                            "--print-address=1"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    address = bus.stdout.readline().strip()
    assert address, "dbus-daemon did not start"
    yield address
    bus.terminate()
    bus.wait(10)
    bus.stdout.close()
    shutil.rmtree(tmp)


@pytest.fixture(scope="session")
def polkitd(system_bus):
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": system_bus}
    mock = subprocess.Popen([sys.executable, "-m", "dbusmock", "--system", "--template",
                             str(DATA / "polkitd_challenge.py")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_name(system_bus, POLKIT)
    yield mock
    mock.terminate()
    mock.wait(10)


def _wait_for_name(address: str, name: str, timeout: float = 20) -> None:
    """Blocking on purpose: fixtures start services before a test's loop runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owner = busctl(address, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                       "org.freedesktop.DBus", "NameHasOwner", "s", name)
        if owner.stdout.strip() == "b true":
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} did not appear on the bus")


class Daemon:
    """solidice-storaged --sim as a subprocess; its log kept for the assertions."""

    def __init__(self, address: str, args: list[str], log: Path) -> None:
        self.address = address
        self.log = log
        self.expected_status = 0
        self._log_file = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "solidice_storage.daemon", "--polkit-timeout", "2",
             *args],
            env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address},
            stdout=self._log_file, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log_file.close()


@pytest.fixture
def start_daemon(system_bus, polkitd, tmp_path):
    """Start a daemon with extra arguments; each is stopped with SIGTERM at the end
    and must exit 0 without a traceback in its log (unless the test expected one)."""
    started: list[Daemon] = []

    def start(*args: str, wait: bool = True, sim: bool = True) -> Daemon:
        args = ("--sim", *args) if sim else args
        daemon = Daemon(system_bus, list(args), tmp_path / f"daemon{len(started)}.log")
        started.append(daemon)
        if wait:
            try:
                _wait_for_name(system_bus, NAME)
            except AssertionError:
                daemon.stop(signal.SIGKILL)
                raise AssertionError("daemon did not take its name:\n" + daemon.output())
        return daemon

    yield start
    for daemon in started:
        assert daemon.stop() == daemon.expected_status, daemon.output()
        if "--sim-fault" not in daemon.proc.args:
            assert "Traceback" not in daemon.output(), daemon.output()


@pytest.fixture
def daemon(start_daemon):
    daemon = start_daemon()
    yield daemon
    assert daemon.proc.poll() is None, "the daemon died during the test:\n" + daemon.output()


@pytest.fixture
async def bus(system_bus):
    """A root client connection to the private system bus."""
    connection = await MessageBus(bus_address=system_bus).connect()
    yield connection
    connection.disconnect()
    await connection.wait_for_disconnect()


@pytest.fixture
async def storage(daemon, bus):
    return Storage(bus)


@pytest.fixture
async def polkit(polkitd, bus):
    """Controls the polkitd mock; reset to deny-everything for each test."""
    control = Polkit(bus)
    await control.reset()
    yield control
    await control.reset()


class Polkit:
    PATH = "/org/freedesktop/PolicyKit1/Authority"
    MOCK = "org.freedesktop.DBus.Mock"

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus

    async def _call(self, member: str, signature: str = "", body: list | None = None):
        reply = await self._bus.call(Message(destination=POLKIT, path=self.PATH,
                                             interface=self.MOCK, member=member,
                                             signature=signature, body=body or []))
        assert reply.message_type is MessageType.METHOD_RETURN, reply.body
        return reply.body

    async def reset(self) -> None:
        await self._call("ReleaseHangingCalls")
        await self.allow()
        await self.challenge()
        await self._call("SetDelay", "d", [0.0])
        await self._call("SimulateHang", "b", [False])
        await self._call("ClearCalls")

    async def allow(self, *actions: str) -> None:
        await self._call("SetAllowed", "as", [list(actions)])

    async def challenge(self, *actions: str) -> None:
        await self._call("SetChallenge", "as", [list(actions)])

    async def delay(self, seconds: float) -> None:
        await self._call("SetDelay", "d", [seconds])

    async def hang(self, on: bool = True) -> None:
        await self._call("SimulateHang", "b", [on])

    async def release(self) -> None:
        await self._call("ReleaseHangingCalls")

    async def checks(self) -> list:
        """(subject, action, details, flags) of every CheckAuthorization so far."""
        calls = (await self._call("GetMethodCalls", "s", ["CheckAuthorization"]))[0]
        return [plain(args) for _, args in calls]


def busctl(address: str, *args: str, user: int | None = None,
           timeout: float = 30) -> subprocess.CompletedProcess:
    """busctl against the private bus, as root or as another uid."""
    command = ["busctl", f"--address={address}", "--timeout=25", *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                   "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def run_busctl(system_bus):
    return lambda *args, **kwargs: busctl(system_bus, *args, **kwargs)

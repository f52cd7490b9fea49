# SPDX-License-Identifier: LGPL-2.1-or-later
"""Nothing but the service measured: the lab's own daemon stopped and restarted,
lvmdbusd kept out, D-Bus activation masked, and natively a private system bus."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from dbus_fast import BusType
from dbus_fast.aio import MessageBus

from lab import host as labhost
from lab.host import BUS_NAME, LabError, name_owner, run

from .bus import bus_driver
from .common import LVMDBUS_ACTIVATION, alive, get, log


def stop_lab_daemon() -> int | None:
    """Stop the lab's solidice-storaged, if one runs; its PID, or None. It is not our
    child (labhost's `up` started it and exited): wait until its name is gone and the
    process has exited; SIGKILL after 30 s, as labhost.Service.stop does after 20."""
    pid = name_owner(BUS_NAME)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        labhost.wait_for(lambda: not alive(pid), f"solidice-storaged ({pid}) to exit", 30)
    except LabError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        labhost.wait_for(lambda: not alive(pid), f"solidice-storaged ({pid}) to die", 30)
    labhost.wait_for(lambda: name_owner(BUS_NAME) is None, f"{BUS_NAME} to be free", 30)
    return pid


def restart_lab_daemon() -> None:
    """The lab's daemon back as labhost starts it (--debug included), after the bench
    VG is gone, so the lab host is left as it was found."""
    try:
        labhost.start_daemon()
    except LabError as error:
        print(f"the lab's solidice-storaged did not start again: {error}", file=sys.stderr)


def lvmdbusd_pids() -> list[int]:
    """Running lvmdbusd processes (`python3 /sbin/lvmdbusd ...`), however started:
    D-Bus activation, the bench, or an administrator."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:2]
        except OSError:
            continue
        if any(arg.rsplit(b"/", 1)[-1] == b"lvmdbusd" for arg in argv) and \
                alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def stop_lvmdbusd() -> list[int]:
    """Stop every running lvmdbusd (SIGTERM, SIGKILL after 30 s); the PIDs stopped."""
    pids = lvmdbusd_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        labhost.wait_for(lambda: not any(alive(pid) for pid in pids), "lvmdbusd to exit", 30)
    except LabError:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        labhost.wait_for(lambda: not any(alive(pid) for pid in pids), "lvmdbusd to die", 30)
    return pids


def keep_lvmdbusd_out(results: dict, args) -> None:
    """Before anything is measured: refuse to run where LVM would D-Bus-activate
    lvmdbusd, and stop one that runs already. Natively the private bus activates
    nothing, and an lvmdbusd of the host's is refused, not stopped."""
    checks = results.setdefault("lvmdbusd_checks", {"stopped_before": [], "seen_during": []})
    if args.native:
        if lvmdbusd_pids():
            raise LabError(f"an lvmdbusd runs on this host ({lvmdbusd_pids()}); not touching it")
        return
    if os.path.exists(LVMDBUS_ACTIVATION) and get(results, "environment",
                                                  "notify_dbus") != "0":
        raise LabError("global/notify_dbus is not 0 while lvm2-dbusd is installed: LVM "
                       "would D-Bus-activate lvmdbusd under the measurements (the lab's "
                       "lvmlocal.conf sets notify_dbus = 0)")
    checks["stopped_before"] = stop_lvmdbusd()
    if checks["stopped_before"]:
        log(f"stopped an lvmdbusd that was running: {checks['stopped_before']}")


def lvmdbusd_ran_during(results: dict, phase: str, args) -> None:
    """After a phase that must run without lvmdbusd: none may be running. One that
    is marks the run (its figures carry lvmdbusd's load) and is stopped."""
    pids = lvmdbusd_pids() if args.native else stop_lvmdbusd()
    if pids:
        results["lvmdbusd_checks"]["seen_during"].append({"phase": phase, "pids": pids})
        log(f"lvmdbusd ran during {phase} (pids {pids}): those figures carry its load")


MASKED_ACTIVATION = ("com.redhat.lvmdbus1.service", "org.freedesktop.UDisks2.service",
                     "org.freedesktop.login1.service")
SYSTEM_SERVICES = Path("/usr/share/dbus-1/system-services")


class MaskedActivation:
    """In the guest, the bus's activation directory without lvmdbus1, UDisks2 and
    login1 (the anchor's set-up): a copy of it bind-mounted over it, the bus told to
    reload. The host's /usr is read-only in the guest, so nothing is deleted."""

    def __init__(self) -> None:
        self.copy: Path | None = None

    async def __aenter__(self) -> "MaskedActivation":
        self.copy = Path(tempfile.mkdtemp(prefix="bench-services-", dir="/tmp"))
        for path in SYSTEM_SERVICES.iterdir():
            if path.name not in MASKED_ACTIVATION:
                (self.copy / path.name).write_bytes(path.read_bytes())
        run("mount", "--bind", "--", str(self.copy), str(SYSTEM_SERVICES))
        await self._reload()
        return self

    async def __aexit__(self, *exc) -> None:
        run("umount", "--", str(SYSTEM_SERVICES), check=False)
        with contextlib.suppress(Exception):
            await self._reload()

    async def _reload(self) -> None:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            await bus_driver(bus, "ReloadConfig", "", [])
        finally:
            bus.disconnect()


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """A dbus-daemon of the bench's own, as the system bus of everything it starts
    (DBUS_SYSTEM_BUS_ADDRESS): root may own and call anything, nothing is activated."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bench-bus-", dir="/tmp"))
        self.process: subprocess.Popen | None = None
        self.saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")

    def __enter__(self) -> "PrivateBus":
        config = self.directory / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.directory / "socket"))
        self.process = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
             "--print-address=1"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True)
        address = self.process.stdout.readline().strip()
        if not address:
            raise LabError("the private dbus-daemon printed no address")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
        if self.saved is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.saved
        for path in self.directory.iterdir():
            path.unlink(missing_ok=True)
        self.directory.rmdir()

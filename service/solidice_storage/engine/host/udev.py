# SPDX-License-Identifier: LGPL-2.1-or-later
"""udev: its block device and iSCSI session events, turned into one debounced rescan on
the event loop; and the one place that runs `udevadm` (settle, trigger).

The monitor's socket is read with `loop.add_reader`, draining with pyudev's
non-blocking receive (`Monitor.poll(0)` spins after a netlink overflow
without reading). ENOBUFS means events were lost: that is one more reason to
rescan, never an error. A burst of events (a path failing touches the map and the
path) gives one rescan, 100 ms after the last event; a scan running when events
arrive is followed by exactly one more.
"""

import asyncio
import errno
import logging
from typing import Awaitable, Callable

import pyudev

from ..debounce import Debounced
from .runner import Runner

log = logging.getLogger(__name__)

SETTLE_TIMEOUT = 30         # seconds udev's queue may take to drain after a change


async def settle(runner: Runner) -> None:
    """udev's event queue has drained (or SETTLE_TIMEOUT passed): the links and
    properties of what changed before the call are in place."""
    if runner.has("udevadm"):
        await runner.run("udevadm", "settle", f"--timeout={SETTLE_TIMEOUT}",
                         timeout=SETTLE_TIMEOUT + 5)


async def probe_again(runner: Runner, devices: list[str]) -> None:
    """udev has probed `devices` again and its queue has drained: nothing else tells
    it of a label written or wiped (a multipath map is not watched for writes)."""
    if devices and runner.has("udevadm"):
        await runner.run("udevadm", "trigger", "--action=change", "--settle",
                         "--", *devices, timeout=SETTLE_TIMEOUT * 2)


class UdevWatch:
    def __init__(self, on_change: Callable[[], Awaitable[None]], delay: float = 0.1) -> None:
        self._rescan = Debounced(on_change, delay, "rescan after udev events")
        self._monitor: pyudev.Monitor | None = None

    def start(self) -> None:
        monitor = pyudev.Monitor.from_netlink(pyudev.Context())
        monitor.filter_by("block")
        monitor.filter_by("iscsi_session")   # a session with no LUN has no block event
        monitor.start()                     # non-blocking from here on
        self._monitor = monitor
        asyncio.get_running_loop().add_reader(monitor.fileno(), self._drain)

    def _drain(self) -> None:
        seen = False
        while True:
            try:
                device = self._monitor._receive_device()
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    log.warning("reading udev events failed: %s; rescanning", error)
                    seen = True
                    break
                log.info("udev events were lost (ENOBUFS); rescanning")
                seen = True
                continue
            if device is None:
                break
            seen = True
        if seen:
            self._rescan.poke()

    def close(self) -> None:
        if self._monitor is not None:
            asyncio.get_running_loop().remove_reader(self._monitor.fileno())
            self._monitor = None
        self._rescan.cancel()

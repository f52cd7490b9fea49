# SPDX-License-Identifier: LGPL-2.1-or-later
"""What every part of the bench shares: the names and bounds it works with, its log,
and the small measurements of the machine and of one process (from /proc)."""

import asyncio
import os
import statistics
import subprocess
import time
from pathlib import Path

from lab.host import LabError, settle


VG = "benchvg"
MiB = 1024**2
IMAGE_SIZE = 8 * 1024**3             # the anchor's; more when N needs it (sparse anyway)
LV_SIZE = 4 * MiB                     # one extent
IDLE_SHARE, IDLE_WINDOW, IDLE_TIMEOUT = 0.08, 1.0, 300
COMMAND_TIMEOUT = 600                 # s, any one command
CALL_TIMEOUT = 120                    # s, any one D-Bus call: past it "did not finish"
OUTSIDE_TIMEOUT = 60                  # s, an outside lvcreate until its InterfacesAdded
START_TIMEOUT = 600                   # s, a daemon's start until ready
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
OURS = "org.solidice.Storage."
LVMDBUSD = "/usr/sbin/lvmdbusd"
LVMDBUS_ACTIVATION = "/usr/share/dbus-1/system-services/com.redhat.lvmdbus1.service"
LVMDBUS_NAME = "com.redhat.lvmdbus1"
LVMDBUS_ROOT = "/com/redhat/lvmdbus1"
LVMDBUS = "com.redhat.lvmdbus1."
UDISKSD = "/usr/libexec/udisks2/udisksd"
UDISKS_NAME = "org.freedesktop.UDisks2"
UDISKS_ROOT = "/org/freedesktop/UDisks2"
UDISKS = "org.freedesktop.UDisks2."
RAW_REPORTS = {                       # key → what an administrator types
    "fullreport": ("lvm", "fullreport", "--reportformat", "json"),
    "lvs": ("lvs", "--reportformat", "json"),
    "version": ("lvm", "version"),
}
DID_NOT_FINISH = "did not finish"
NATIVE = False                        # --native: on a host, no udevd, no device-mapper
STARTED = time.monotonic()


def log(message: str) -> None:
    """Progress with the time of day and the minutes since the start."""
    elapsed = (time.monotonic() - STARTED) / 60
    print(f"[{time.strftime('%H:%M:%S')} +{elapsed:5.1f} min] {message}", flush=True)


def settle_udev() -> None:
    """udevadm settle in the guest; natively no udevd runs to wait for."""
    if not NATIVE:
        settle()


def summary(runs: list[float]) -> dict:
    """Median, min and max of some timings, and the runs themselves for the JSON."""
    if not runs:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs),
            "runs": runs}


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot: idle and iowait are not busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def wait_idle() -> bool:
    """Wait until the machine is under IDLE_SHARE busy for IDLE_WINDOW s, as the anchor
    did: a daemon's refresh after one change must not land in the next measurement.
    False if it never got there within IDLE_TIMEOUT (the caller counts those)."""
    deadline = time.monotonic() + IDLE_TIMEOUT
    while time.monotonic() < deadline:
        busy, total = cpu_ticks()
        await asyncio.sleep(IDLE_WINDOW)
        busy2, total2 = cpu_ticks()
        if (busy2 - busy) < IDLE_SHARE * max(1, total2 - total):
            return True
    return False


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (the peak) of a process, in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of a process itself and of its reaped children (the `lvm` runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return {"own": (int(fields[11]) + int(fields[12])) / tick,
            "children": (int(fields[13]) + int(fields[14])) / tick}


def alive(pid: int) -> bool:
    """Whether a process runs: a zombie has exited (nobody may ever reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def timed(*argv: str, env: dict | None = None) -> float:
    """Seconds `argv` takes from start to exit; a failure stops the bench. Blocking on
    purpose: nothing else runs meanwhile, and a thread hop would only add to it."""
    started = time.perf_counter()
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=COMMAND_TIMEOUT,
                            env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return seconds


def get(results: dict, *keys: str):
    """results[k1][k2]...; None where a step is missing (a phase that failed)."""
    value = results
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"

# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the bench runs on: kernel, emulation, CPU, memory, LVM and package
versions, recorded with the figures; and whether this is the lab guest."""

import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from lab.host import run

from . import common


def acceleration(cpuinfo: str) -> str:
    """KVM or TCG, from what the guest can see: KVM offers the kvm-clock clock source,
    TCG does not; both set the `hypervisor` CPU flag."""
    flags = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M)
    clocks = Path("/sys/devices/system/clocksource/clocksource0/available_clocksource")
    available = clocks.read_text().split() if clocks.exists() else []
    if "kvm-clock" in available:
        return "KVM (kvm-clock available)"
    if flags and "hypervisor" in flags[1].split():
        return "TCG (likely: a hypervisor flag but no kvm-clock)"
    return "no hypervisor seen (bare metal?)"


def environment() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    memory = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)
    version = run("lvm", "version", timeout=60).stdout
    notify = run("lvmconfig", "--typeconfig", "full", "global/notify_dbus", check=False,
                 timeout=60).stdout.strip()
    return {
        "kernel": os.uname().release,
        "acceleration": acceleration(cpuinfo),
        "cpu_model": model[1].strip() if model else "?",
        "cpus": os.cpu_count(),
        "memory_mib": int(memory[1]) // 1024 if memory else None,
        "lvm_version": next((line.strip() for line in version.splitlines()
                             if "LVM version" in line), version.strip()),
        "python": sys.version.split()[0],
        "notify_dbus": notify.partition("=")[2] or "?",
        "emulation": "native" if common.NATIVE else acceleration(cpuinfo).split()[0],
        "hostname": os.uname().nodename,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "packages": package_versions(),
    }


DEBIAN_PACKAGES = ("lvm2", "lvm2-dbusd", "udisks2", "udisks2-lvm2", "libblockdev-lvm2",
                   "dbus-daemon", "python3-dbus", "linux-image-amd64")


def package_versions() -> dict[str, str | None]:
    """Debian package versions (None: not installed), dbus-fast's and Python's."""
    versions: dict[str, str | None] = {}
    for package in DEBIAN_PACKAGES:
        result = run("dpkg-query", "-W", "-f", "${Version}", "--", package, check=False,
                     timeout=60)
        versions[package] = result.stdout.strip() or None if result.returncode == 0 else None
    from importlib.metadata import version
    versions["dbus-fast"] = version("dbus-fast")
    versions["python"] = sys.version.split()[0]
    return versions


def in_lab_guest() -> bool:
    """The lab guest exports LAB_RESULTS (lab/guest.sh) and boots with virtme's
    kernel parameters; anywhere else this script would touch a real machine."""
    return bool(os.environ.get("LAB_RESULTS")) or \
        "virtme" in Path("/proc/cmdline").read_text()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""What this host really offers, asked of the system's own tools and the kernel,
independently of the daemon's probe (engine/host/probe.py reads files; these ask
dmsetup, udevadm, modprobe and iscsid's socket). None: the tool to ask is missing."""

import os
import shutil
import socket
import subprocess


def _succeeds(*argv: str) -> bool | None:
    if shutil.which(argv[0]) is None:
        return None
    return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0


def device_mapper() -> bool | None:
    """The kernel's driver answers (dmsetup opens /dev/mapper/control and asks it)."""
    return _succeeds("dmsetup", "version")


def udevd() -> bool | None:
    return _succeeds("udevadm", "control", "--ping")


def loadable(module: str) -> bool | None:
    """Loaded, built in, or a module the running kernel can load (a dry run)."""
    return _succeeds("modprobe", "--dry-run", "--quiet", module)


def iscsid() -> bool:
    """Something (iscsid, or systemd for it) accepts iscsiadm's connections."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect("\0ISCSIADM_ABSTRACT_NAMESPACE")
        except OSError:
            return False
    return True


def nfs() -> bool | None:
    with open("/proc/filesystems") as table:
        if any(line.split()[-1] == "nfs" for line in table if line.split()):
            return True
    return loadable("nfs")


def plain_disks() -> dict[str, int]:
    """Kernel name → size in bytes of each whole disk that is no loop, RAM, optical,
    network, MD or device-mapper device, from /sys/block."""
    disks = {}
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram", "sr", "nbd", "md", "dm-")):
            continue
        with open(f"/sys/block/{name}/size") as size:
            disks[name] = int(size.read()) * 512
    return disks


def in_use(name: str) -> bool:
    """Whether disk `name` or one of its partitions is mounted (/proc/self/mountinfo
    by device number, /sys/block for the partitions)."""
    def dev_t(directory: str) -> str:
        with open(f"{directory}/dev") as number:
            return number.read().strip()
    numbers = {dev_t(f"/sys/block/{name}")}
    numbers |= {dev_t(f"/sys/block/{name}/{part}") for part in os.listdir(f"/sys/block/{name}")
                if part.startswith(name) and os.path.exists(f"/sys/block/{name}/{part}/dev")}
    with open("/proc/self/mountinfo") as table:
        return any(line.split()[2] in numbers for line in table if len(line.split()) > 2)

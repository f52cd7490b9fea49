"""The believable host the simulated engine starts with.

Two iSCSI portals offer two targets: `data` (logged in on both portals, four LUNs,
each a multipath map over two paths, two of them holding the VG `vmstore`) and
`backup` (only discoverable; CHAP user `backup`, password `backup-secret`). Three
local disks: a partitioned virtio system disk, a free NVMe disk and an ATA disk with a
filesystem. One NFS mount made outside the service. Addresses are from TEST-NET-1
and example.com: the simulated engine never touches the network or the filesystem.
"""

import random
from dataclasses import dataclass, field

GiB = 1024**3
MiB = 1024**2

PORTALS = ("192.0.2.10:3260", "192.0.2.11:3260")
DATA_TARGET = "iqn.2003-01.org.linux-iscsi.sim.example:data"
BACKUP_TARGET = "iqn.2003-01.org.linux-iscsi.sim.example:backup"
UNREACHABLE = "unreachable.invalid"
INITIATOR = "iqn.1993-08.org.debian:01:simhost"


@dataclass
class SimLun:
    """A LUN behind a target; its paths come and go with the sessions."""

    wwid: str
    size: int
    model: str
    serial: str
    path_devices: dict[str, str]          # portal → sdX
    failed_paths: set[str] = field(default_factory=set)


@dataclass
class SimTarget:
    portals: tuple[str, ...]
    luns: list[SimLun]
    chap: tuple[str, str] | None = None


def _lio_lun(number: int, size: int, devices: tuple[str, str], failed=()) -> SimLun:
    wwid = f"36001405d0e1f2a3b4c5d6e7f8091{number:04x}"
    return SimLun(wwid=wwid, size=size, model=f"sim-lun{number}",
                  serial=wwid[8:], path_devices=dict(zip(PORTALS, devices)),
                  failed_paths=set(failed))


def targets() -> dict[str, SimTarget]:
    return {
        DATA_TARGET: SimTarget(PORTALS, [
            _lio_lun(1, 100 * GiB, ("sda", "sdb")),
            _lio_lun(2, 100 * GiB, ("sdc", "sdd")),
            _lio_lun(3, 50 * GiB, ("sde", "sdf")),
            _lio_lun(4, 50 * GiB, ("sdg", "sdh"), failed={"sdh"}),
        ]),
        BACKUP_TARGET: SimTarget(PORTALS, [
            _lio_lun(0x101, 20 * GiB, ("sdj", "sdk")),
            _lio_lun(0x102, 20 * GiB, ("sdl", "sdm")),
        ], chap=("backup", "backup-secret")),
    }


LOCAL_DISKS = [
    # (key, device, size, vendor, model, serial, transport, status)
    ("pci-0000:00:04.0", "/dev/vda", 40 * GiB, "", "", "", "virtio", "partitioned"),
    ("eui.0025388b91c2d3e4", "/dev/nvme0n1", 512 * GiB, "", "SAMSUNG MZVL2512HCJQ",
     "S6YNNX0T123456", "nvme", "free"),
    ("35000c500a1b2c3d4", "/dev/sdi", 4000 * GiB, "ATA", "ST4000NM0035", "ZC1A2B3C",
     "ata", "filesystem"),
]
SYSTEM_DISK = "pci-0000:00:04.0"   # holds / : refused even with `wipe`

VMSTORE = {
    "name": "vmstore", "pvs": [_lio_lun(1, 0, ("", "")).wwid, _lio_lun(2, 0, ("", "")).wwid],
    # (name, size, active, open, origin name)
    "lvs": [("vm-101-disk-0", 32 * GiB, True, True, None),
            ("vm-102-disk-0", 16 * GiB, True, False, None),
            ("templates", 8 * GiB, False, False, None),
            ("vm-102-snap", 2 * GiB, True, False, "vm-102-disk-0")],
}

EXISTING_DIRS = {"/mnt", "/mnt/iso", "/srv", "/srv/nfs", "/var/lib/images"}
EXISTING_MOUNT = ("nfs.example.com", "/export/iso", "/mnt/iso",
                  "ro,nosuid,nodev,relatime,vers=4.2,soft,proto=tcp,timeo=100,"
                  "retrans=3,sec=sys")


class UuidSource:
    """LVM-style UUIDs (6-4-4-4-4-4-6), the same sequence on every start."""

    _CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    def __init__(self, seed: int = 0x501D1CE) -> None:
        self._random = random.Random(seed)

    def __call__(self) -> str:
        text = "".join(self._random.choice(self._CHARS) for _ in range(32))
        parts, at = [], 0
        for width in (6, 4, 4, 4, 4, 4, 6):
            parts.append(text[at:at + width])
            at += width
        return "-".join(parts)

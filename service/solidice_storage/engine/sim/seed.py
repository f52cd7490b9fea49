# SPDX-License-Identifier: LGPL-2.1-or-later
"""The believable host the simulated engine starts with, and its seeding.

Two iSCSI portals offer two targets: `data` (logged in on both portals, four LUNs,
each a multipath map over two paths, two of them holding the VG `vmstore`) and
`backup` (only discoverable; CHAP user `backup`, password `backup-secret`). Three
local disks: a partitioned virtio system disk, a free NVMe disk and an ATA disk with a
filesystem. One NFS mount made outside the service. Addresses are from TEST-NET-1
and example.com: the simulated engine never touches the network or the filesystem.

The array has changed since the host last looked, as arrays do: it mapped a fifth
LUN on `data` and grew LUN 2 (a PV of `vmstore`) from 100 to 120 GiB. The host sees
neither until it rescans (`Host.Rescan`), as a host without automatic scanning would.
"""

import itertools
import random
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...models import LogicalVolume, Lun, Mount, VolumeGroup
from ...options import CreateLogicalVolumeOptions, CreateVolumeGroupOptions

if TYPE_CHECKING:       # the domains import this module; seeding only drives them
    from .iscsi import SimIscsi
    from .lvm import SimLvm
    from .nfs import SimNfs

GiB = 1024**3
MiB = 1024**2

STEP = 0.1   # seconds per step of a simulated long operation
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
    grown_to: int | None = None           # the array's size, until the host rescans


@dataclass
class SimTarget:
    portals: tuple[str, ...]
    luns: list[SimLun]                    # the LUNs the host has found
    chap: tuple[str, str] | None = None
    unscanned: list[SimLun] = field(default_factory=list)   # mapped, not yet found


def _lio_lun(number: int, size: int, devices: tuple[str, ...], failed=(),
             grown_to: int | None = None) -> SimLun:
    wwid = f"36001405d0e1f2a3b4c5d6e7f8091{number:04x}"
    return SimLun(wwid=wwid, size=size, model=f"sim-lun{number}",
                  serial=wwid[8:], path_devices=dict(zip(PORTALS, devices)),
                  failed_paths=set(failed), grown_to=grown_to)


def map_new_lun(targets: dict[str, SimTarget], target: str, size: int) -> SimLun:
    """The array maps a new LUN of `size` bytes on `target`: the next LUN number
    there, the next free sdX names for its paths. The host finds it on a rescan."""
    sim_target = targets[target]
    known = sim_target.luns + sim_target.unscanned
    number = max(int(lun.wwid[-4:], 16) for lun in known) + 1
    used = {device.removeprefix("/dev/") for _, device, *_ in LOCAL_DISKS}
    used |= {device for t in targets.values() for lun in t.luns + t.unscanned
             for device in lun.path_devices.values()}
    names = (name for name in _disk_names() if name not in used)
    sim_lun = _lio_lun(number, size, tuple(itertools.islice(names, len(PORTALS))))
    sim_target.unscanned.append(sim_lun)
    return sim_lun


def _disk_names():
    """sda … sdz, sdaa … sdzz, as the kernel names SCSI disks."""
    for length in (1, 2):
        for letters in itertools.product(string.ascii_lowercase, repeat=length):
            yield "sd" + "".join(letters)


def targets() -> dict[str, SimTarget]:
    return {
        DATA_TARGET: SimTarget(PORTALS, [
            _lio_lun(1, 100 * GiB, ("sda", "sdb")),
            _lio_lun(2, 100 * GiB, ("sdc", "sdd"), grown_to=120 * GiB),
            _lio_lun(3, 50 * GiB, ("sde", "sdf")),
            _lio_lun(4, 50 * GiB, ("sdg", "sdh"), failed={"sdh"}),
        ], unscanned=[_lio_lun(5, 200 * GiB, ("sdn", "sdo"))]),
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
# beyond those: one with contents (a mount there is Busy) and one a user owns (no
# mount point in or below it, as on a real host: engine/host/nfs/mount_point.py)
MORE_DIRS = {"/mnt/archive", "/mnt/archive/2025"}
USER_DIRS = {"/srv/upload": 1000}
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



async def seed(iscsi: "SimIscsi", lvm: "SimLvm", nfs: "SimNfs", bulk_lvs: int) -> None:
    """The host as described above is in the store: local disks, the sessions to
    `data` with their LUNs, `vmstore` and its LVs, the mount on /mnt/iso (in use);
    with `bulk_lvs`, a VG `bulk` on the NVMe disk with that many small LVs."""
    for key, device, size, vendor, model, serial, transport, status in LOCAL_DISKS:
        iscsi.store.publish([Lun(wwid=key, device=device, size=size, vendor=vendor,
                                 model=model, serial=serial, transport=transport,
                                 status=status)])
    for portal in PORTALS:
        iscsi.set_session(DATA_TARGET, portal, True)
    await _seed_vmstore(lvm)
    if bulk_lvs:
        uuid = await lvm.create_volume_group("bulk", ["eui.0025388b91c2d3e4"],
                                             CreateVolumeGroupOptions())
        for number in range(bulk_lvs):
            await lvm.create_logical_volume(uuid, f"lv{number:05d}", 4 * MiB,
                                            CreateLogicalVolumeOptions())
    nfs.add_existing(Mount(server=EXISTING_MOUNT[0], remote_path=EXISTING_MOUNT[1],
                           local_path=EXISTING_MOUNT[2], options=EXISTING_MOUNT[3]))


async def _seed_vmstore(lvm: "SimLvm") -> None:
    """vmstore, made outside the service (unmanaged), with its LVs and snapshot."""
    store = lvm.store
    uuid = await lvm.create_volume_group(VMSTORE["name"], VMSTORE["pvs"],
                                         CreateVolumeGroupOptions())
    vg = store.get(VolumeGroup, uuid)
    store.publish([vg.model_copy(update={"managed": False, "tags": ()})])
    by_name = {}
    for name, size, active, is_open, origin in VMSTORE["lvs"]:
        if origin is None:
            lv = await lvm.create_logical_volume(
                uuid, name, size, CreateLogicalVolumeOptions(activate=active))
        else:
            lv = await lvm.make_snapshot(store.get(LogicalVolume, by_name[origin]),
                                         name, size, NoJob())
        by_name[name] = lv
        if is_open:
            model = store.get(LogicalVolume, lv)
            attrs = model.attributes
            store.publish([model.model_copy(
                update={"attributes": attrs[:5] + "o" + attrs[6:]})])


class NoJob:
    """Stands in for a job while seeding."""

    def progress(self, fraction: float) -> None:
        pass

    def check(self) -> None:
        pass

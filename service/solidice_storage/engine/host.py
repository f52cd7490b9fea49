"""The real host engine, as far as it goes: LUN discovery (multipath-aware) and
block device information. iSCSI, LVM and NFS answer `NotSupported` (from
`unavailable.UnavailableEngine`) until their engines land.

Discovery reads udev's database and sysfs (blockdev.py) and device-mapper's view of
each path (`dmsetup status`); nothing is opened, and everything runs off the event
loop. udev events (udev_watch.py) trigger a rescan, so reads answer from memory.
"""

import asyncio
import logging
import os

from .. import __version__, objpath
from ..errors import InvalidArgument, NotFound
from ..models import Lun
from . import blockdev
from .base import BlockInfo
from .multipath import parse_dm_status
from .runner import Runner
from .shared import wwid_candidates
from .udev_watch import UdevWatch
from .unavailable import UnavailableEngine

log = logging.getLogger(__name__)
SCAN_TIMEOUT = 60
INITIATOR_NAME_FILE = "/etc/iscsi/initiatorname.iscsi"


class HostEngine(UnavailableEngine):
    description = f"this host (solidice-storage {__version__}; LUN discovery only so far)"

    def __init__(self, runner: Runner | None = None) -> None:
        super().__init__()
        self.runner = runner or Runner()
        self.multipath = False
        self.iscsi_initiator_name = ""
        self._disks: list[blockdev.Disk] = []
        self._watch = UdevWatch(self.scan)
        self._scan_lock = asyncio.Lock()

    async def start(self) -> None:
        if missing := self.runner.missing():
            log.info("not installed here: %s", ", ".join(missing))
        self.iscsi_initiator_name = await asyncio.to_thread(_initiator_name)
        self._watch.start()                # before the scan: no event falls in between
        await self.scan()
        log.warning("iSCSI, LVM and NFS on this host are not available in this build "
                    "yet: those calls answer NotSupported")

    async def close(self) -> None:
        self._watch.close()

    async def scan(self) -> None:
        """Read the disks and the paths' states; publish what changed. Scans run one
        at a time, so a slow one never overwrites a newer one."""
        async with self._scan_lock:
            disks = await asyncio.wait_for(asyncio.to_thread(blockdev.scan), SCAN_TIMEOUT)
            states = await self._path_states()
            self.multipath = await self._multipathd_running()
            self._disks = disks
            by_name = {disk.name: disk for disk in disks}
            luns = [self._lun(disk, by_name, states.get(disk.node.rsplit("/", 1)[1], {}))
                    for disk in disks if disk.path_of is None]
            gone = [("Lun", key) for key in self.store.all(Lun)
                    if key not in {lun.wwid for lun in luns}]
            self.store.publish(luns, gone)

    async def _path_states(self) -> dict[str, dict[str, str]]:
        """Map name → {maj:min → state}, from device-mapper (`dmsetup status`)."""
        if "dmsetup" in self.runner.missing():
            return {}
        result = await self.runner.run("dmsetup", "status", "--target", "multipath",
                                       timeout=15)
        return parse_dm_status(result.stdout) if result.ok else {}

    async def _multipathd_running(self) -> bool:
        if "multipathd" in self.runner.missing():
            return False
        result = await self.runner.run("multipathd", "show", "daemon", timeout=15)
        return result.ok and "pid" in result.stdout

    @staticmethod
    def _lun(disk: blockdev.Disk, by_name: dict[str, blockdev.Disk],
             states: dict[str, str]) -> Lun:
        paths = tuple((slave, states.get(by_name[slave].dev_t, "unknown")
                       if slave in by_name else "unknown") for slave in disk.slaves)
        return Lun(wwid=disk.wwid, device=disk.node, size=disk.size, vendor=disk.vendor,
                   model=disk.model, serial=disk.serial, transport=disk.transport,
                   multipath=disk.multipath, paths=paths, status=disk.status)

    def enumerate_luns(self) -> list[str]:
        return list(self.store.all(Lun))

    async def get_block_info(self, name_or_uuid: str) -> BlockInfo:
        disk = await asyncio.to_thread(self._find, name_or_uuid)   # resolves /dev links
        if disk.path_of is not None:
            used_by = f"multipath:{self._by_wwid(disk.path_of).node}"
        else:
            used_by = {"free": "", "partitioned": "partition-table"}.get(disk.status,
                                                                           disk.status)
        return BlockInfo(uuid=disk.wwid, size=disk.size, path=disk.node,
                         type="multipath" if disk.multipath else "disk", used_by=used_by,
                         name=disk.name)

    def _by_wwid(self, wwid: str) -> blockdev.Disk:
        return next(d for d in self._disks if d.wwid == wwid and d.path_of is None)

    def _find(self, ref: str) -> blockdev.Disk:
        """A disk by object path, WWID (any spelling), kernel name or /dev path.
        Never looks at paths outside /dev."""
        if ref.startswith("/org/"):
            parsed = objpath.parse(ref)
            if parsed is None or parsed[0] != "Lun":
                raise InvalidArgument(f"{ref} is not the object path of a LUN")
            ref = parsed[1]
        luns = [d for d in self._disks if d.path_of is None]
        for candidate in wwid_candidates(ref):
            for disk in luns:
                if disk.wwid == candidate:
                    return disk
        name = ref
        if ref.startswith("/dev/"):
            resolved = os.path.realpath(ref)
            if not resolved.startswith("/dev/"):
                raise NotFound(f"no device {ref}")
            name = os.path.basename(resolved)
        elif "/" in ref:
            raise NotFound(f"no device, LUN or volume {ref!r}")
        for disk in self._disks:
            if disk.name == name:
                return disk
        raise NotFound(f"no device, LUN or volume {ref!r}")


def _initiator_name() -> str:
    try:
        with open(INITIATOR_NAME_FILE) as handle:
            for line in handle:
                if line.startswith("InitiatorName="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""




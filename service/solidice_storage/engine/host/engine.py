# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real host engine: the LUN, iSCSI, LVM and NFS domains composed, started in
order, each Engine-protocol operation handed to its domain.

What the host lacks (probe.py: device-mapper, udevd, iscsi_tcp, iscsid, the nfs
filesystem) is logged at start, one line each, and the calls of a domain that cannot
work here answer `NotSupported` naming it, before any tool runs.

Start-up order: the iSCSI logins a dead daemon left half-done first (they change
the LUNs), then the udev watch and the first scan, then LVM (its model, and its
own recovery), a scan again (the LUNs with their PV links), then NFS (the mount
table, and the MountNfs calls to finish or undo). udev events (udev.py) trigger a
rescan, so reads answer from memory and changes made outside show up by themselves.
"""

import asyncio
import logging
from pathlib import Path
from typing import Callable

from ... import __version__
from ...config import Config
from ...models import Lun
from ...options import (DiscoveryOptions, EnumerateIscsiLunsOptions, LoginOptions,
                        MountNfsOptions, Options)
from ..reads import Reads
from ..intents import Intents, by_owner
from ..jobs import Jobs
from ..protocol import BlockInfo
from ..store import StateStore
from .iscsi.iscsi import Iscsi
from .iscsi.records import ISCSI_DIR
from .iscsi.recovery import ISCSI_KINDS
from .iscsi.sessions import SYSFS
from .luns.block_info import block_info
from .luns.luns import Luns, Reading, read_host
from .luns.rescan import rescan
from .lvm.engine import LVM_KINDS, LvmEngine
from .nfs.mounts import NfsMounts
from .nfs.recovery import NFS_KINDS, recover_mounts
from .probe import DOMAIN_NEEDS, Support, probe
from .runner import Runner
from .threads import off_loop
from .udev import UdevWatch

log = logging.getLogger(__name__)
INITIATOR_NAME_FILE = "/etc/iscsi/initiatorname.iscsi"


class HostEngine:
    """This host. `sysfs`, `read_host`, `iscsi_dir`: where the LUN index and the
    iSCSI domain read; `probe_host`: what the host offers, asked at start (the
    host's own by default; a test's stand-ins)."""

    def __init__(self, runner: Runner | None = None, sysfs: Path = SYSFS,
                 state_dir: Path | None = None, config: Config | None = None,
                 read: Callable[[Path], Reading] = read_host,
                 iscsi_dir: Path = ISCSI_DIR,
                 probe_host: Callable[[], Support] = probe) -> None:
        self._probe = probe_host
        self.support = Support()            # nothing known missing until start()
        self.config = config or Config()
        self.state_dir = state_dir
        self.store = StateStore()
        self.intents = Intents(state_dir)   # multi-step changes in progress (intents.py)
        self.runner = runner or Runner()
        self.runner.set_limit("lvm", self.config.lvm_concurrency)
        self.jobs = Jobs(self.store)
        self.iscsi_initiator_name = ""
        self.luns = Luns(self.runner, self.store, sysfs, read)
        self.iscsi = Iscsi(self.luns, self.jobs, self.intents, iscsi_dir)
        self.nfs = NfsMounts(self.runner, self.store, self.jobs, state_dir, self.intents,
                             self.config)
        self._watch = UdevWatch(self.scan)
        self.lvm = LvmEngine(self.runner, self.store, self.jobs, self.intents, self.luns)
        self.luns.lvm = self.lvm            # the LVM domain hears of each scan
        self.reads = Reads(self.store, self.luns.resolve_device)

    @property
    def multipath(self) -> bool:
        return self.luns.multipath

    @property
    def description(self) -> str:
        """What is served, for the daemon's "serving" line."""
        served = ["LUNs", *(["multipath"] if self.support.has("device-mapper") else []),
                  *(domain for domain, pieces in DOMAIN_NEEDS.items()
                    if all(self.support.has(piece) for piece in pieces))]
        lacking = ", ".join(self.support.missing)
        return (f"this host (solidice-storage {__version__}; {', '.join(served)}"
                + (f"; without {lacking}: see above)" if lacking else ")"))

    async def _require(self, domain: str) -> None:
        """Returns when this host has what `domain` needs (probe.DOMAIN_NEEDS); else
        NotSupported naming what is missing. Asked again before refusing: iscsid,
        say, may have been started since."""
        if any(not self.support.has(piece) for piece in DOMAIN_NEEDS[domain]):
            self.support = await off_loop(self._probe)
        self.support.require(domain)

    async def start(self) -> None:
        self.support = await off_loop(self._probe)
        for line in self.support.log_lines():
            log.warning("%s", line)
        if missing := self.runner.missing():
            log.info("not installed here: %s", ", ".join(missing))
        self.iscsi_initiator_name = await asyncio.to_thread(_initiator_name)
        # changes a daemon that died left half-done: each to the domain that owns
        # its kind, finished or undone before anyone is answered
        pending = by_owner(await self.intents.pending(), {
            "iscsi": ISCSI_KINDS, "lvm": LVM_KINDS, "nfs": NFS_KINDS})
        await self.iscsi.recover(pending["iscsi"])     # first: they change the LUNs
        self._watch.start()                # before the scan: no event falls in between
        started = asyncio.get_running_loop().time()
        await self.scan()
        log.info("first scan: %d LUNs, %d block devices, %d iSCSI sessions in %.3f s",
                 len(self.store.all(Lun)), len(self.luns.disks), len(self.luns.sessions),
                 asyncio.get_running_loop().time() - started)
        await self.lvm.start(pending["lvm"])
        await self.scan()                  # the LUNs again, with their PV links
        await self.nfs.start()
        await recover_mounts(self.nfs, pending["nfs"])

    def serving(self) -> None:
        self.nfs.serving()

    async def close(self) -> None:
        self._watch.close()
        self.iscsi.close()
        await self.nfs.close()
        await self.lvm.close()

    async def scan(self) -> None:
        """The LUNs and sessions read again and published (Luns.scan)."""
        await self.luns.scan()

    # ---- LUNs ----

    async def get_block_info(self, name_or_uuid: str) -> BlockInfo:
        return await off_loop(block_info, self.luns.disks, name_or_uuid)

    def resolve_device(self, ref: str) -> Lun:
        return self.luns.resolve_device(ref)

    async def rescan(self, opts: Options) -> None:
        await rescan(self.luns, self.lvm.resize_pv)

    # ---- iSCSI ----

    async def discover_iscsi_targets(self, portal: str, opts: DiscoveryOptions,
                                     uid: int = 0) -> list[tuple[str, str]]:
        await self._require("iSCSI")
        return await self.iscsi.discover(portal, opts, uid)

    async def login_iscsi(self, portal: str, target: str, opts: LoginOptions,
                          uid: int) -> str:
        await self._require("iSCSI")
        return await self.iscsi.login(portal, target, opts, uid)

    async def logout_iscsi(self, portal: str, target: str, opts: Options,
                           uid: int = 0) -> None:
        await self._require("iSCSI")
        await self.iscsi.logout(portal, target, opts, uid)

    async def enumerate_iscsi_luns(self, portal: str, target: str,
                                   opts: EnumerateIscsiLunsOptions,
                                   uid: int | None) -> list[str]:
        await self._require("iSCSI")
        return await self.iscsi.enumerate_luns(portal, target, opts, uid)

    # ---- NFS ----

    async def mount_nfs(self, server: str, remote_path: str, local_path: str,
                        opts: MountNfsOptions, uid: int) -> str:
        await self._require("NFS")
        return await self.nfs.mount(server, remote_path, local_path, opts, uid)

    async def unmount(self, local_path: str, force: bool, opts: Options) -> None:
        await self.nfs.unmount(local_path, force)

    # ---- LVM (lvm/engine.py) ----

    async def create_volume_group(self, name: str, devices: list[str], opts) -> str:
        await self._require("LVM")
        return await self.lvm.create_volume_group(name, devices, opts)

    async def remove_volume_group(self, vg: str, opts) -> None:
        await self._require("LVM")
        await self.lvm.remove_volume_group(vg, opts)

    async def extend_volume_group(self, vg: str, devices: list[str], opts) -> None:
        await self._require("LVM")
        await self.lvm.extend_volume_group(vg, devices, opts)

    async def remove_physical_volume(self, vg: str, pv: str, opts, uid: int) -> int | None:
        await self._require("LVM")
        return await self.lvm.remove_physical_volume(vg, pv, opts, uid)

    async def create_logical_volume(self, vg: str, name: str, size: int, opts) -> str:
        await self._require("LVM")
        return await self.lvm.create_logical_volume(vg, name, size, opts)

    async def extend_logical_volume(self, lv: str, size: int, opts) -> None:
        await self._require("LVM")
        await self.lvm.extend_logical_volume(lv, size, opts)

    async def remove_logical_volume(self, lv: str, opts) -> None:
        await self._require("LVM")
        await self.lvm.remove_logical_volume(lv, opts)

    async def snapshot_logical_volume(self, lv: str, name: str, size: int, opts,
                                      uid: int) -> str:
        await self._require("LVM")
        return await self.lvm.snapshot_logical_volume(lv, name, size, opts, uid)

    async def activate_logical_volume(self, lv: str, opts) -> None:
        await self._require("LVM")
        await self.lvm.activate_logical_volume(lv, opts)

    async def deactivate_logical_volume(self, lv: str, opts) -> None:
        await self._require("LVM")
        await self.lvm.deactivate_logical_volume(lv, opts)

    async def resize_logical_volume(self, lv: str, size: int, opts) -> None:
        await self._require("LVM")
        await self.lvm.resize_logical_volume(lv, size, opts)

    async def rename_logical_volume(self, lv: str, name: str, opts) -> None:
        await self._require("LVM")
        await self.lvm.rename_logical_volume(lv, name, opts)

    async def rename_volume_group(self, vg: str, name: str, opts) -> None:
        await self._require("LVM")
        await self.lvm.rename_volume_group(vg, name, opts)

    async def add_tags(self, kind: str, key: str, tags: list[str], opts) -> None:
        await self._require("LVM")
        await self.lvm.add_tags(kind, key, tags, opts)

    async def remove_tags(self, kind: str, key: str, tags: list[str], opts) -> None:
        await self._require("LVM")
        await self.lvm.remove_tags(kind, key, tags, opts)

    def cancel_job(self, job_id: int) -> None:
        self.lvm.cancel_job(job_id)


def _initiator_name() -> str:
    try:
        with open(INITIATOR_NAME_FILE) as handle:
            for line in handle:
                if line.startswith("InitiatorName="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""

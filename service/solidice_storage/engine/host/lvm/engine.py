# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real host's LVM engine: volume groups, physical and logical volumes, composed
of the model refresh (refresh.py, report.py), device admission (devices.py), the
changes (volume_groups.py, logical_volumes.py; resizes, renames and tags: changes.py)
and crash recovery (recovery.py), each running LVM through commands.py only.

Reads answer from the store and never run LVM. The host engine owns it, hands it
the LUN index (`LunIndex`), and calls its hooks from each host scan.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Protocol

from ....models import Lun
from .... import options
from ...intents import Intent, Intents
from ...jobs import Jobs
from ...store import StateStore
from ..runner import Runner
from .changes import LvmChanges
from .commands import LvmCommands
from .devices import Devices
from .locks import VgLocks
from .logical_volumes import LogicalVolumes
from .recovery import LVM_KINDS, Recovery
from .refresh import BACKUP_DIR, DEBOUNCE, Refresher
from .volume_groups import VolumeGroups


__all__ = ["LVM_KINDS", "LunIndex", "LvmEngine"]
log = logging.getLogger(__name__)


class LunIndex(Protocol):
    """What the LVM engine needs of the host's LUNs (the host engine is one)."""

    def lun_for_device(self, device: str) -> str | None:
        """The WWID of the LUN a device node is (a map or an unpathed disk), or None
        for a path of a map or no LUN at all."""

    def device_for_wwid(self, wwid: str) -> str:
        """The node to use for LUN `wwid` (its map's when multipathed); NotFound."""

    async def scan(self) -> None:
        """The LUNs read again (their status, their PV links) and published."""


class LvmEngine:
    """Keyword arguments, for tests: `backup_dir` (LVM's metadata backups, watched),
    `debounce` (seconds an outside change waits for the next), `hints_file`
    (LVM's, removed after a global change), `device_exists` (a device node there)."""

    def __init__(self, runner: Runner, store: StateStore, jobs: Jobs, intents: Intents,
                 luns: LunIndex, *, backup_dir: Path = BACKUP_DIR,
                 debounce: float = DEBOUNCE, hints_file: str | None = None,
                 device_exists: Callable[[str], bool] = os.path.exists) -> None:
        self.runner = runner
        self.store = store
        self.jobs = jobs
        self.commands = LvmCommands(runner, hints_file)
        locks = VgLocks()
        self.refresher = Refresher(self.commands, store, luns, locks, backup_dir, debounce)
        self.devices = Devices(self.commands, store, intents, luns, device_exists)
        self.recovery = Recovery(self.commands, store, intents, self.devices, self.refresher)
        self.volume_groups = VolumeGroups(runner, self.commands, store, jobs, intents, luns,
                                          locks, self.devices, self.refresher, self.recovery)
        self.logical_volumes = LogicalVolumes(runner, self.commands, store, jobs, intents,
                                              locks, self.refresher)
        self.changes = LvmChanges(runner, self.commands, store, locks, self.refresher,
                                  intents)
        self.locks = locks

    async def start(self, pending: list[Intent]) -> None:
        """The model read, the changes a daemon that died left recorded (`pending`)
        finished or undone, and outside changes watched from then on."""
        if not self.runner.has("lvm"):
            log.info("lvm is not installed: no volume groups")
            if pending:
                log.error("%d LVM intent records left in place: no lvm to recover "
                          "them with", len(pending))
            return
        await self.commands.probe()
        await self.refresh()
        await self.recovery.recover(pending)
        self.refresher.watch()

    async def close(self) -> None:
        self.refresher.close()
        self.volume_groups.close()

    # ---- the model, and the host scan's hooks ----

    async def refresh(self, vg_names: list[str] | None = None) -> None:
        """Read LVM again (everything, or only `vg_names`) and publish the difference."""
        await self.refresher.refresh(vg_names)

    def link_lun(self, lun: Lun) -> Lun:
        """A LUN from a host scan, with the PV link the LVM model knows."""
        return self.refresher.link_lun(lun)

    def paths_changed(self) -> None:
        """A VG is partial while a LUN under one of its PVs has no path left."""
        self.refresher.paths_changed()

    def labels_seen(self, labelled: set[str]) -> None:
        """The WWIDs of the LUNs udev's probe finds a PV label on."""
        self.refresher.labels_seen(labelled)

    def devices_changed(self, active_lvs: dict[str, bool],
                        read_at: float | None = None) -> None:
        """LV UUID → active, as device-mapper had them at `read_at`."""
        self.refresher.devices_changed(active_lvs, read_at)

    async def resize_pv(self, device: str) -> None:
        """The PV on `device` takes its LUN's new size (a failure is logged)."""
        await self.volume_groups.resize_pv(device)

    # ---- changes (the Engine protocol's) ----

    async def create_volume_group(self, name: str, devices: list[str],
                                  opts: options.CreateVolumeGroupOptions) -> str:
        return await self.volume_groups.create(name, devices, opts)

    async def remove_volume_group(self, vg: str, opts: options.RemoveOptions) -> None:
        await self.volume_groups.remove(vg, opts)

    async def extend_volume_group(self, vg: str, devices: list[str],
                                  opts: options.ExtendVolumeGroupOptions) -> None:
        await self.volume_groups.extend(vg, devices, opts)

    async def remove_physical_volume(self, vg: str, pv: str,
                                     opts: options.RemovePhysicalVolumeOptions,
                                     uid: int) -> int | None:
        return await self.volume_groups.remove_physical_volume(vg, pv, opts, uid)

    async def create_logical_volume(self, vg: str, name: str, size: int,
                                    opts: options.CreateLogicalVolumeOptions) -> str:
        return await self.logical_volumes.create(vg, name, size, opts)

    async def extend_logical_volume(self, lv: str, size: int,
                                    opts: options.ExtendLogicalVolumeOptions) -> None:
        await self.logical_volumes.extend(lv, size, opts)

    async def remove_logical_volume(self, lv: str, opts: options.RemoveOptions) -> None:
        await self.logical_volumes.remove(lv, opts)

    async def snapshot_logical_volume(self, lv: str, name: str, size: int,
                                      opts: options.Options, uid: int) -> str:
        return await self.logical_volumes.snapshot(lv, name, size, uid)

    async def activate_logical_volume(self, lv: str, opts: options.Options) -> None:
        await self.logical_volumes.set_active(lv, True)

    async def deactivate_logical_volume(self, lv: str, opts: options.Options) -> None:
        await self.logical_volumes.set_active(lv, False)

    async def resize_logical_volume(self, lv: str, size: int,
                                    opts: options.ResizeLogicalVolumeOptions) -> None:
        await self.changes.resize(lv, size, opts)

    async def rename_logical_volume(self, lv: str, name: str, opts: options.Options) -> None:
        await self.changes.rename_logical_volume(lv, name)

    async def rename_volume_group(self, vg: str, name: str, opts: options.Options) -> None:
        await self.changes.rename_volume_group(vg, name)

    async def add_tags(self, kind: str, key: str, tags: list[str],
                       opts: options.Options) -> None:
        await self.changes.change_tags(kind, key, tags, [])

    async def remove_tags(self, kind: str, key: str, tags: list[str],
                          opts: options.Options) -> None:
        await self.changes.change_tags(kind, key, [], tags)

    def cancel_job(self, job_id: int) -> None:
        self.jobs.cancel(job_id)

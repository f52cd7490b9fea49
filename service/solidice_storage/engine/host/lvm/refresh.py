# SPDX-License-Identifier: LGPL-2.1-or-later
"""The LVM model kept current (udisks2's udiskslinuxmodulelvm2.c): reports read and
diffed into the store, and changes made outside the service noticed without polling.

After a change, exactly the VG it touched is read again with one report and diffed
into the store (report.py), so each object gets at most one PropertiesChanged.
LVM rewrites /etc/lvm/backup/<vg> on every metadata change (an inotify watch sees
that), and udev reports activations (the host engine's scan calls
`devices_changed`). Refreshes run one at a time, the newest last, so a slow one
never overwrites a newer one; an outside change is refreshed once, debounced.
"""

import asyncio
import logging
import os
from pathlib import Path

from asyncinotify import Inotify, Mask

from ....errors import NotFound
from ....models import Lun, LogicalVolume, Model, PhysicalVolume, VolumeGroup
from ...debounce import Debounced
from ...store import StateStore
from .commands import LvmCommands
from .locks import VgLocks
from .report import Report, View, diff, link_lun, partial_by_paths

log = logging.getLogger(__name__)
BACKUP_DIR = Path("/etc/lvm/backup")
DEBOUNCE = 0.2


def _backup_stamp(backup_dir: Path, vg_name: str) -> tuple | None:
    try:
        stat = os.stat(backup_dir / vg_name)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _listdir(directory: Path) -> list[str]:
    try:
        return [name for name in os.listdir(directory) if not name.startswith(".")]
    except OSError:
        return []


class Refresher:
    """`luns`: the host's LUN index (engine.LunIndex): the LUN under each PV."""

    def __init__(self, commands: LvmCommands, store: StateStore, luns, locks: VgLocks,
                 backup_dir: Path = BACKUP_DIR, debounce: float = DEBOUNCE) -> None:
        self._commands = commands
        self._store = store
        self._luns = luns
        self._locks = locks
        self._backup_dir = backup_dir
        self._lock = asyncio.Lock()
        self._queued: set[str] = set()        # VG names; "": everything
        self._later = Debounced(self._refresh_queued, debounce,
                                "refreshing LVM after an outside change")
        self._deferred: dict[str, asyncio.Task] = {}
        self._watch: asyncio.Task | None = None
        self._watching = False
        self._label_disagreement: frozenset[str] = frozenset()
        self._backups_read: dict[str, tuple | None] = {}
        self._reported_at: dict[str, float] = {}   # VG name → when its last report began
        self._lvm_partial: dict[str, bool] = {}    # VG UUID → partial, as LVM last said

    def watch(self) -> None:
        """From now on, outside changes are refreshed: the backups are watched, and
        labels udev sees are compared with the model."""
        self._watching = True
        self._watch = asyncio.ensure_future(self._watch_backups())

    def close(self) -> None:
        for task in (self._watch, *self._deferred.values()):
            if task is not None:
                task.cancel()
        self._later.cancel()

    @property
    def deferred(self) -> frozenset[str]:
        """The VGs whose outside change waits for one of our changes to end."""
        return frozenset(self._deferred)

    # ---- reading reports ----

    async def refresh(self, vg_names: list[str] | None = None) -> None:
        """Read LVM again (everything, or only `vg_names`) and publish the difference.
        Logged (debug) once published: tests wait for that line, not for a time."""
        await self._refresh(vg_names)
        what = ("everything" if vg_names is None
                else ", ".join(sorted(set(vg_names))) or "no volume group")
        log.debug("LVM refreshed: %s read and published", what)

    async def _refresh(self, vg_names: list[str] | None) -> None:
        async with self._lock:
            # before the report: a backup written after this stat is a change the
            # report may miss, and its event must not be taken for our own echo
            self._note_backups(vg_names)
            now = asyncio.get_running_loop().time()
            for name in (vg_names if vg_names is not None else
                         [vg.name for vg in self._store.all(VolumeGroup).values()]):
                self._reported_at[name] = now
            if vg_names is not None:
                vg_names = sorted(set(vg_names))
                present = self._present(vg_names)
                try:
                    report, _ = await self._commands.report(present) if present \
                        else (Report(), None)
                except NotFound:                    # every one of them is gone
                    report = Report()
                if not self._loses_objects(report, vg_names):
                    self.apply(report, vg_names)
                    return
                # A VG or PV left those VGs: its PVs may live on as orphans, which
                # only a full report shows. Rare (a removal), so one more report.
            report, _ = await self._commands.report()
            self.apply(report, None)

    async def publish(self, upserts: list[Model],
                      removals: list[tuple[str, str]] = ()) -> None:
        """A change's state known without a report (derive.py), published after any
        refresh under way: that refresh's report may have been read before the
        change, and applied after the change's state it would undo it."""
        async with self._lock:
            self._store.publish(upserts, removals)

    def _present(self, vg_names: list[str]) -> list[str]:
        """Those of `vg_names` that LVM or the model still has."""
        return [n for n in vg_names if os.path.exists(self._backup_dir / n)
                or any(vg.name == n for vg in self._store.all(VolumeGroup).values())]

    def _note_backups(self, vg_names: list[str] | None) -> None:
        """Remember each VG's metadata backup as this refresh reads it, so that the
        inotify event of a backup we already read (the echo of our own change) runs
        no second report. /etc is local: a stat here cannot hang."""
        names = set(vg_names) if vg_names is not None else {
            vg.name for vg in self._store.all(VolumeGroup).values()} | set(
            _listdir(self._backup_dir))
        for name in names:
            self._backups_read[name] = _backup_stamp(self._backup_dir, name)

    def _loses_objects(self, report: Report, vg_names: list[str]) -> bool:
        names = set(vg_names)
        known_vgs = {vg.uuid for vg in self._store.all(VolumeGroup).values()
                     if vg.name in names}
        reported_pvs = {row.get("pv_uuid") for row in report.pvs}
        return bool(known_vgs - {row.get("vg_uuid") for row in report.vgs}) or any(
            pv.volume_group in known_vgs and pv.uuid not in reported_pvs
            for pv in self._store.all(PhysicalVolume).values())

    def _view(self) -> View:
        return View(self._store.all(VolumeGroup), self._store.all(PhysicalVolume),
                    self._store.all(LogicalVolume), self._store.all(Lun))

    def apply(self, report: Report, vg_names: list[str] | None = None) -> None:
        """Publish what `report` (of everything, or of `vg_names`) changes."""
        lun_of = {row.get("pv_name", ""): self._luns.lun_for_device(row.get("pv_name", ""))
                  for row in report.pvs}
        found = diff(report, self._view(), vg_names, lun_of)
        self._lvm_partial.update(found.lvm_partial)
        if found.cut_off:
            log.warning("volume groups %s: LVM cannot read them, their LUNs have no "
                        "path left; kept as partial", ", ".join(found.cut_off))
        self._store.publish(found.upserts, found.removals)

    def link_lun(self, lun: Lun) -> Lun:
        """A LUN from a host scan, with the PV link the LVM model knows."""
        return link_lun(lun, self._store.all(PhysicalVolume))

    # ---- changes made outside the service ----

    async def _watch_backups(self) -> None:
        """LVM writes /etc/lvm/backup/<vg> on each metadata change (create, remove,
        rename, tag, an inactive LV): refresh that VG, debounced."""
        try:
            await asyncio.to_thread(self._backup_dir.mkdir, parents=True, exist_ok=True)
            with Inotify() as inotify:
                inotify.add_watch(self._backup_dir, Mask.CLOSE_WRITE | Mask.MOVED_TO
                                  | Mask.DELETE | Mask.MOVED_FROM | Mask.CREATE)
                async for event in inotify:
                    if event.name is not None and not str(event.name).startswith("."):
                        self.later(str(event.name))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watching %s failed; outside LVM changes show on udev events "
                          "only", self._backup_dir)

    def later(self, vg_name: str | None) -> None:
        """Queue a refresh of one VG (None: everything), debounced."""
        self._queued.add(vg_name or "")
        self._later.poke()

    async def _refresh_queued(self) -> None:
        names, self._queued = self._queued, set()
        # a VG one of our own changes holds: that change refreshes it when its
        # command is done; look at the backup again only then
        for name in names - {""}:
            lock = self._locks.held(name)
            if lock is not None and name not in self._deferred:
                self._deferred[name] = asyncio.ensure_future(self._after_lock(name, lock))
        names = {name for name in names if name not in self._deferred and (
            not name or name not in self._backups_read
            or self._backups_read[name] != _backup_stamp(self._backup_dir, name))}
        if names:                        # else: only backups the last refresh read
            await self.refresh(None if "" in names else sorted(names))

    async def _after_lock(self, name: str, lock: asyncio.Lock) -> None:
        try:
            async with lock:
                pass
        finally:
            del self._deferred[name]
        self.later(name)

    def paths_changed(self) -> None:
        """From a host scan: a VG is partial while a LUN under one of its PVs has
        no path left, and back to what LVM says when a path returns."""
        if changed := partial_by_paths(self._view(), self._lvm_partial):
            self._store.publish(changed)

    def labels_seen(self, labelled: set[str]) -> None:
        """From a host scan: the WWIDs of the LUNs udev's probe finds a PV label on.
        A label written or wiped by hand (pvcreate, pvremove, wipefs) touches no VG's
        metadata; when udev and the model disagree, read everything again, once per
        disagreement (udev can lag: the same disagreement is not chased again)."""
        if not self._watching:
            return
        modelled = {pv.lun for pv in self._store.all(PhysicalVolume).values() if pv.lun}
        disagreement = frozenset(labelled ^ modelled)
        if disagreement and disagreement != self._label_disagreement:
            self.later(None)
        self._label_disagreement = disagreement

    def devices_changed(self, active_lvs: dict[str, bool],
                        read_at: float | None = None) -> None:
        """From a host scan: LV UUID → active, as device-mapper had them at `read_at`
        (the loop's clock). VGs whose LVs differ from the model are refreshed
        (activation writes no metadata) unless the model is the newer view: one of
        our changes holds the VG (its own refresh comes next), or a report of it
        started after device-mapper was read."""
        stale = set()
        for lv in self._store.all(LogicalVolume).values():
            if active_lvs.get(lv.uuid, False) != lv.active:
                vg = self._store.get(VolumeGroup, lv.volume_group)
                if vg is not None:
                    stale.add(vg.name)
        for name in stale:
            if self._locks.held(name) is not None or (
                    read_at is not None and self._reported_at.get(name, -1.0) >= read_at):
                continue
            self._backups_read.pop(name, None)      # activation: no backup written
            self.later(name)

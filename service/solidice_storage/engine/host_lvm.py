"""The LVM half of the real host engine: volume groups, physical and logical volumes.

Reads answer from the store and never run LVM. After a change, exactly the VG it
touched is read again with one report (`lvm.Lvm.report`) and diffed into the store,
so each object gets at most one PropertiesChanged; creating, extending and removing
a plain LV reply after their one LVM command instead, with the state derived from
the kernel's map (lvm_derive.py), and the report follows the reply. Changes made outside the service
show up without polling: LVM rewrites /etc/lvm/backup/<vg> on every metadata change
(an inotify watch sees that), and udev reports activations (the host engine's
udev watch calls `lvm_devices_changed`). Refreshes run one at a time, the newest
last, so a slow one never overwrites a newer one. Operations on one VG are
serialized; reads and other VGs never wait for them.
"""

import asyncio
import contextlib
import logging
import os
import re
from pathlib import Path

from .. import validation
from ..errors import (AlreadyExists, Busy, Failed, InvalidArgument, NoSpace, NotFound,
                      NotSupported, StorageError)
from ..models import Lun, LogicalVolume, PhysicalVolume, VolumeGroup
from ..validation import Options
from . import blockdev, lvm_derive, resolve
from .host import dm, udev
from .protocol import MANAGED_TAG
from .intents import Intent
from .lvm import Lvm, Report, error_for, extents, parse_report

log = logging.getLogger(__name__)
BACKUP_DIR = Path("/etc/lvm/backup")
MOVE_TIMEOUT = 24 * 3600          # a pvmove of a big PV takes hours; cancel is the way
_MOVED = re.compile(r"Moved:\s*([0-9.]+)%")
DEBOUNCE = 0.2
# the intent kinds this engine records and recovers (intents.py)
LVM_KINDS = frozenset({"create-vg", "extend-vg", "remove-vg", "remove-pv", "snapshot-lv"})


_exists = os.path.exists


def _backup_stamp(vg_name: str) -> tuple | None:
    try:
        stat = os.stat(BACKUP_DIR / vg_name)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _listdir(directory: Path) -> list[str]:
    try:
        return [name for name in os.listdir(directory) if not name.startswith(".")]
    except OSError:
        return []


def _same_pv(row: dict[str, str], pvs: dict[str, str | None] | None) -> bool:
    """Whether a report row's PV is the one recorded for its device (no record of
    one, or no UUID recorded: any). A PV relabelled since is left alone, logged."""
    expected = (pvs or {}).get(row.get("pv_name", ""))
    if expected is None or row.get("pv_uuid") == expected:
        return True
    log.warning("%s carries PV %s, not the recorded %s: left alone", row.get("pv_name"),
                row.get("pv_uuid"), expected)
    return False


def _int(value: str) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


class LvmMixin:
    """Mixed into HostEngine, which provides store, runner, jobs and the LUN rules
    (`lun_for_device`, `device_for_wwid`) and calls `_lvm_start`/`_lvm_close`."""

    def _lvm_init(self) -> None:
        self.lvm = Lvm(self.runner)
        self._vg_locks: dict[str, asyncio.Lock] = {}
        # one VG creation at a time on the host: from the name's check to vgcreate
        self._vg_create_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        self._backup_task: asyncio.Task | None = None
        self._pending_vgs: set[str] = set()
        self._pending_task: asyncio.Task | None = None
        self._moves: set[asyncio.Task] = set()
        self._label_disagreement: frozenset[str] = frozenset()
        self._lvm_started = False
        self._backups_read: dict[str, tuple | None] = {}
        self._deferred: dict[str, asyncio.Task] = {}
        self._reported_at: dict[str, float] = {}   # VG name → when its last report began
        self._lvm_partial: dict[str, bool] = {}    # VG UUID → partial, as LVM last said

    async def _lvm_start(self, pending: list[Intent]) -> None:
        """`pending`: the LVM changes a daemon that died left recorded."""
        if not self.runner.has("lvm"):
            log.info("lvm is not installed: no volume groups")
            if pending:
                log.error("%d LVM intent records left in place: no lvm to recover "
                          "them with", len(pending))
            return
        await self.lvm.probe()
        await self.refresh_lvm()
        await self._recover(pending)
        self._lvm_started = True
        self._backup_task = asyncio.ensure_future(self._watch_backups())

    async def _lvm_close(self) -> None:
        for task in (self._backup_task, self._pending_task, *self._moves,
                     *self._deferred.values()):
            if task is not None:
                task.cancel()

    # ---- the model ----

    async def refresh_lvm(self, vg_names: list[str] | None = None) -> None:
        """Read LVM again (everything, or only `vg_names`) and publish the difference."""
        async with self._refresh_lock:
            # before the report: a backup written after this stat is a change the
            # report may miss, and its event must not be taken for our own echo
            self._note_backups(vg_names)
            now = asyncio.get_running_loop().time()
            for name in (vg_names if vg_names is not None else
                         [vg.name for vg in self.store.all(VolumeGroup).values()]):
                self._reported_at[name] = now
            if vg_names is not None:
                vg_names = sorted(set(vg_names))
                present = [n for n in vg_names if os.path.exists(BACKUP_DIR / n)
                           or any(vg.name == n for vg in self.store.all(VolumeGroup).values())]
                try:
                    report, _ = await self.lvm.report(present) if present else (Report(), None)
                except NotFound:                    # every one of them is gone
                    report = Report()
                if not self._loses_objects(report, vg_names):
                    self._apply_report(report, vg_names)
                    return
                # A VG or PV left those VGs: its PVs may live on as orphans, which
                # only a full report shows. Rare (a removal), so one more report.
            report, _ = await self.lvm.report()
            self._apply_report(report, None)

    def _note_backups(self, vg_names: list[str] | None) -> None:
        """Remember each VG's metadata backup as this refresh reads it, so that the
        inotify event of a backup we already read (the echo of our own change) runs
        no second report. /etc is local: a stat here cannot hang."""
        names = set(vg_names) if vg_names is not None else {
            vg.name for vg in self.store.all(VolumeGroup).values()} | set(
            _listdir(BACKUP_DIR))
        for name in names:
            self._backups_read[name] = _backup_stamp(name)

    def _loses_objects(self, report: Report, vg_names: list[str]) -> bool:
        names = set(vg_names)
        known_vgs = {vg.uuid for vg in self.store.all(VolumeGroup).values()
                     if vg.name in names}
        reported_pvs = {row.get("pv_uuid") for row in report.pvs}
        return bool(known_vgs - {row.get("vg_uuid") for row in report.vgs}) or any(
            pv.volume_group in known_vgs and pv.uuid not in reported_pvs
            for pv in self.store.all(PhysicalVolume).values())

    def _apply_report(self, report: Report, vg_names: list[str] | None) -> None:
        vgs = {row["vg_uuid"]: row for row in report.vgs if row.get("vg_uuid")}
        pvs, lvs = [], []
        pvs_of: dict[str, list[str]] = {}
        for row in report.pvs:
            vg_uuid = row.get("vg_uuid") or None
            device = row.get("pv_name", "")
            pv = PhysicalVolume(uuid=row["pv_uuid"], device=device,
                                size=_int(row.get("pv_size")),
                                free_size=_int(row.get("pv_free")), volume_group=vg_uuid,
                                lun=self.lun_for_device(device))
            pvs.append(pv)
            if vg_uuid:
                pvs_of.setdefault(vg_uuid, []).append(pv.uuid)
        for row in report.lvs:
            if "private" in row.get("lv_role", "") or row.get("lv_name", "").startswith("["):
                continue                                 # a snapshot's COW, an internal LV
            attr = row.get("lv_attr", "")
            lvs.append(LogicalVolume(
                uuid=row["lv_uuid"], name=row["lv_name"], volume_group=row["vg_uuid"],
                size=_int(row.get("lv_size")),
                path=row.get("lv_path") or f"/dev/{row['vg_name']}/{row['lv_name']}",
                active=len(attr) > 4 and attr[4] == "a",
                origin=row.get("origin_uuid") or None, attributes=attr))
        volume_groups = []
        for uuid, row in vgs.items():
            tags = tuple(t for t in row.get("vg_tags", "").split(",") if t)
            attr = row.get("vg_attr", "")
            volume_groups.append(VolumeGroup(
                uuid=uuid, name=row["vg_name"], size=_int(row.get("vg_size")),
                free_size=_int(row.get("vg_free")),
                extent_size=_int(row.get("vg_extent_size")),
                physical_volumes=tuple(sorted(pvs_of.get(uuid, []))), tags=tags,
                managed=MANAGED_TAG in tags, partial=len(attr) > 3 and attr[3] == "p"))
        self._lvm_partial.update({vg.uuid: vg.partial for vg in volume_groups})
        unreachable = self._unreachable_pvs()
        volume_groups = [vg.model_copy(update={"partial": True})
                         if not vg.partial and unreachable & set(vg.physical_volumes)
                         else vg for vg in volume_groups]
        # what this report covers: everything, or the named VGs and their objects
        if vg_names is None:
            def covered(vg_uuid):
                return True
            old_pvs = set(self.store.all(PhysicalVolume))
        else:
            names = set(vg_names)
            covered_uuids = {vg.uuid for vg in self.store.all(VolumeGroup).values()
                             if vg.name in names} | set(vgs)

            def covered(vg_uuid):
                return vg_uuid in covered_uuids
            old_pvs = {key for key, pv in self.store.all(PhysicalVolume).items()
                       if pv.volume_group and covered(pv.volume_group)}
        # A VG LVM no longer sees because the LUNs under its PVs have no path left
        # is kept, partial, with its LVs and PVs: the paths may come back, and its
        # LVs' maps are still there (LVM reads nothing on a LUN with no path).
        cut_off = {key for key, vg in self.store.all(VolumeGroup).items()
                   if covered(key) and key not in vgs
                   and unreachable & set(vg.physical_volumes)}
        if cut_off:
            log.warning("volume groups %s: LVM cannot read them, their LUNs have no "
                        "path left; kept as partial", ", ".join(
                            self.store.all(VolumeGroup)[key].name for key in cut_off))
            volume_groups += [self.store.all(VolumeGroup)[key].model_copy(
                update={"partial": True}) for key in cut_off]
            vgs = {**vgs, **{key: {} for key in cut_off}}
            lvs += [lv for lv in self.store.all(LogicalVolume).values()
                    if lv.volume_group in cut_off]
            pvs += [pv for pv in self.store.all(PhysicalVolume).values()
                    if pv.volume_group in cut_off]
        removals = [("VolumeGroup", key) for key, vg in self.store.all(VolumeGroup).items()
                    if covered(key) and key not in vgs]
        reported = {lv.uuid for lv in lvs}      # once: a set per LV was N² at 10,000
        removals += [("LogicalVolume", key) for key, lv in self.store.all(LogicalVolume).items()
                     if covered(lv.volume_group) and key not in reported]
        # a PV the store still has on a device the report now shows with another
        # PV (relabelled behind our back) is gone, whichever report this is
        relabelled = {pv.device: pv.uuid for pv in pvs}
        old_pvs |= {key for key, pv in self.store.all(PhysicalVolume).items()
                    if relabelled.get(pv.device, key) != key}
        reported = {pv.uuid for pv in pvs}
        removals += [("PhysicalVolume", key) for key in old_pvs if key not in reported]
        luns = self._linked_luns(pvs, {key for kind, key in removals
                                       if kind == "PhysicalVolume"})
        self.store.publish([*volume_groups, *pvs, *lvs, *luns], removals)

    def _linked_luns(self, pvs: list[PhysicalVolume], gone: set[str]) -> list[Lun]:
        """Lun.PhysicalVolume for each PV on a LUN; cleared where the PV went."""
        updates = []
        by_lun = {pv.lun: pv.uuid for pv in pvs if pv.lun}
        for lun in self.store.all(Lun).values():
            if lun.wwid in by_lun and (lun.physical_volume, lun.status) != (
                    by_lun[lun.wwid], "pv"):
                updates.append(lun.model_copy(update={"physical_volume": by_lun[lun.wwid],
                                                      "status": "pv"}))
            elif lun.physical_volume in gone and lun.wwid not in by_lun:
                updates.append(lun.model_copy(update={"physical_volume": None}))
        return updates

    def _link_lun(self, lun: Lun) -> Lun:
        """A LUN from a host scan, with the PV link the LVM model knows."""
        for pv in self.store.all(PhysicalVolume).values():
            if pv.lun == lun.wwid:
                return lun.model_copy(update={"physical_volume": pv.uuid, "status": "pv"})
        return lun

    # ---- changes made outside the service ----

    async def _watch_backups(self) -> None:
        """LVM writes /etc/lvm/backup/<vg> on each metadata change (create, remove,
        rename, tag, an inactive LV): refresh that VG, debounced."""
        from asyncinotify import Inotify, Mask
        try:
            BACKUP_DIR.mkdir(parents=True, exist_ok=True)
            with Inotify() as inotify:
                inotify.add_watch(BACKUP_DIR, Mask.CLOSE_WRITE | Mask.MOVED_TO | Mask.DELETE
                                  | Mask.MOVED_FROM | Mask.CREATE)
                async for event in inotify:
                    if event.name is not None and not str(event.name).startswith("."):
                        self._refresh_later(str(event.name))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watching %s failed; outside LVM changes show on udev events "
                          "only", BACKUP_DIR)

    def _refresh_later(self, vg_name: str | None) -> None:
        """Queue a refresh of one VG (None: everything), debounced."""
        self._pending_vgs.add(vg_name or "")
        if self._pending_task is None or self._pending_task.done():
            self._pending_task = asyncio.ensure_future(self._refresh_pending())

    async def _refresh_pending(self) -> None:
        while self._pending_vgs:
            await asyncio.sleep(DEBOUNCE)
            names, self._pending_vgs = self._pending_vgs, set()
            # a VG one of our own changes holds: that change refreshes it when its
            # command is done; look at the backup again only then
            for name in names - {""}:
                lock = self._vg_locks.get(name)
                if lock is not None and lock.locked() and name not in self._deferred:
                    self._deferred[name] = asyncio.ensure_future(self._after_lock(name, lock))
            names = {name for name in names if name not in self._deferred and (
                not name or name not in self._backups_read
                or self._backups_read[name] != _backup_stamp(name))}
            if not names:
                continue                   # only backups the last refresh read
            try:
                await self.refresh_lvm(None if "" in names else sorted(names))
            except Exception:
                log.exception("refreshing LVM after an outside change failed")

    async def _after_lock(self, name: str, lock: asyncio.Lock) -> None:
        try:
            async with lock:
                pass
        finally:
            del self._deferred[name]
        self._refresh_later(name)

    def _unreachable_pvs(self) -> set[str]:
        """UUIDs of the PVs on a LUN whose every path has failed."""
        dead = {lun.wwid for lun in self.store.all(Lun).values()
                if lun.paths and all(state == "failed" for _, state in lun.paths)}
        return {pv.uuid for pv in self.store.all(PhysicalVolume).values()
                if pv.lun in dead} if dead else set()

    def lvm_paths_changed(self) -> None:
        """From a host scan: a VG is partial while a LUN under one of its PVs has
        no path left, and back to what LVM says when a path returns."""
        unreachable = self._unreachable_pvs()
        changed = []
        for vg in self.store.all(VolumeGroup).values():
            partial = self._lvm_partial.get(vg.uuid, False) or bool(
                unreachable & set(vg.physical_volumes))
            if partial != vg.partial:
                changed.append(vg.model_copy(update={"partial": partial}))
        if changed:
            self.store.publish(changed)

    def lvm_labels_seen(self, labelled: set[str]) -> None:
        """From a host scan: the WWIDs of the LUNs udev's probe finds a PV label on.
        A label written or wiped by hand (pvcreate, pvremove, wipefs) touches no VG's
        metadata; when udev and the model disagree, read everything again, once per
        disagreement (udev can lag: the same disagreement is not chased again)."""
        if not self._lvm_started:
            return
        modelled = {pv.lun for pv in self.store.all(PhysicalVolume).values() if pv.lun}
        disagreement = frozenset(labelled ^ modelled)
        if disagreement and disagreement != self._label_disagreement:
            self._refresh_later(None)
        self._label_disagreement = disagreement

    def lvm_devices_changed(self, active_lvs: dict[str, bool],
                            read_at: float | None = None) -> None:
        """From a host scan: LV UUID → active, as device-mapper had them at `read_at`
        (the loop's clock). VGs whose LVs differ from the model are refreshed
        (activation writes no metadata) unless the model is the newer view: one of
        our changes holds the VG (its own refresh comes next), or a report of it
        started after device-mapper was read."""
        stale = set()
        for lv in self.store.all(LogicalVolume).values():
            if active_lvs.get(lv.uuid, False) != lv.active:
                vg = self.store.get(VolumeGroup, lv.volume_group)
                if vg is not None:
                    stale.add(vg.name)
        for name in stale:
            lock = self._vg_locks.get(name)
            if (lock is not None and lock.locked()) or (
                    read_at is not None and self._reported_at.get(name, -1.0) >= read_at):
                continue
            self._backups_read.pop(name, None)      # activation: no backup written
            self._refresh_later(name)

    # ---- reads ----

    def enumerate_volume_groups(self) -> list[str]:
        return list(self.store.all(VolumeGroup))

    def list_physical_volumes(self, vg: str) -> list[str]:
        return list(resolve.volume_group(self.store, vg).physical_volumes)

    def list_logical_volumes(self, vg: str) -> list[str]:
        return self.store.logical_volumes_of(resolve.volume_group(self.store, vg).uuid)

    # ---- helpers for changes ----

    async def _open_lvs(self, vg: VolumeGroup) -> list[str]:
        """Names of the VG's LVs something holds open, from device-mapper's open
        counts (`dmsetup info`): fresher than LVM's report, and no LVM process."""
        opened = await dm.open_lvm_uuids(self.runner)
        prefix = vg.uuid.replace("-", "")
        return sorted(lv.name for lv in self.store.all(LogicalVolume).values()
                      if lv.volume_group == vg.uuid
                      and prefix + lv.uuid.replace("-", "") in opened)

    async def _held(self, vg: VolumeGroup, lv: LogicalVolume | None = None) -> list[str]:
        """The VG's open LVs (or only `lv`, if open). udev's probe after a write
        or a change event holds a device for a moment: when something is open,
        let udev's queue drain and look once more before calling it busy."""
        def relevant(names: list[str]) -> list[str]:
            return [n for n in names if lv is None or n == lv.name]
        held = relevant(await self._open_lvs(vg))
        if held:
            await udev.settle(self.runner)
            held = relevant(await self._open_lvs(vg))
        return held

    def _vg_lock(self, name: str) -> asyncio.Lock:
        return self._vg_locks.setdefault(name, asyncio.Lock())

    def _pv_devices(self, vg: VolumeGroup) -> list[str]:
        return [pv.device for uuid in vg.physical_volumes
                if (pv := self.store.get(PhysicalVolume, uuid)) is not None]

    def _take_devices(self, devices: list[str], wipe: bool) -> list[tuple[str, bool]]:
        """(device node, already an orphan PV) for each device a caller named: the
        map of a multipathed LUN, never one of its paths; refused when it holds
        data the caller did not ask to wipe. Runs in a thread (resolves links)."""
        taken: list[tuple[str, bool]] = []
        for ref in devices:
            if ref.startswith("/dev/"):
                resolved = os.path.realpath(ref)
                wwid = self.lun_for_device(resolved)
                if wwid is None:
                    lun = next((lun for lun in self.store.all(Lun).values()
                                if any(f"/dev/{p}" == resolved for p, _ in lun.paths)), None)
                    if lun is not None:
                        raise InvalidArgument(f"{ref} is a path of multipath map "
                                              f"{lun.device}; use the map")
                    raise NotFound(f"no LUN at {ref}")
                lun = self.store.get(Lun, wwid)
            else:
                lun = resolve.lun(self.store, ref)
            if lun is None:
                raise NotFound(f"no LUN {ref!r}")
            if lun.device in [device for device, _ in taken]:
                raise InvalidArgument("devices names the same LUN twice")
            orphan = False
            if lun.physical_volume is not None:
                pv = self.store.get(PhysicalVolume, lun.physical_volume)
                if pv is not None and pv.volume_group:
                    owner = self.store.get(VolumeGroup, pv.volume_group)
                    raise Busy(f"{lun.device} is a physical volume of volume group "
                               f"{owner.name if owner else pv.volume_group}")
                orphan = True
            elif lun.status == "pv":
                orphan = True
            elif lun.status != "free" and not wipe:
                raise Busy(f"{lun.device} holds a {lun.status} signature; pass wipe=true "
                           "to erase it")
            taken.append((lun.device, orphan))
        return taken

    async def _make_pvs(self, taken: list[tuple[str, bool]], wipe: bool) -> list[str]:
        devices = [device for device, _ in taken]
        new = [device for device, orphan in taken if not orphan]
        if new:
            await self.lvm.change(f"make physical volumes of {', '.join(new)}", "pvcreate",
                                  *(["-y"] if wipe else []), "--", *new, devices=new)
        await self.lvm.add_devices(devices)
        return devices

    async def _after_change(self, vg_name: str, labelled: list[str] = (),
                            removed: bool = False) -> None:
        """Read the VG again; for devices whose PV label was written or wiped, have
        udev probe them again first: nothing else tells it (a multipath map is not
        watched for writes), and LUN status comes from udev's probe."""
        await udev.probe_again(self.runner, list(labelled))
        # a removal loses objects a report of the VG cannot show gone (orphan PVs):
        # straight to the one full report
        await self.refresh_lvm(None if removed else [vg_name])
        await self.scan()            # LUN status (pv, free) and the PV links

    # ---- multi-step changes: intent records, undo, recovery ----

    @contextlib.asynccontextmanager
    async def _labelling(self, kind: str, vg_name: str, taken: list[tuple[str, bool]]):
        """A change that writes PV labels and then puts them in a VG. The intent
        record names the devices this change labels; if the change fails (or is
        cancelled), or the daemon dies before it completes, exactly those labels
        that ended up in no VG are wiped again, and nothing else is touched."""
        labelled = [device for device, orphan in taken if not orphan]
        intent = await self.intents.begin(kind, name=vg_name, labelled=labelled,
                                          ids=self._identities(labelled))
        try:
            yield intent
        except BaseException:
            try:
                await asyncio.shield(self._unlabel_orphans(labelled))
                await self.intents.end(intent)
            except Exception:
                log.exception("undoing the labels of %s failed; the intent record "
                              "stays for the next start", ", ".join(labelled))
            raise
        await self.intents.end(intent)

    async def _unlabel_orphans(self, devices: list[str],
                               pvs: dict[str, str | None] | None = None) -> list[str]:
        """pvremove those of `devices` that carry a PV label in no VG; the ones
        now in a VG (the change did complete) are left alone, and so is a device
        whose PV is not the one `pvs` names for it (device → PV UUID)."""
        if not devices:
            return []
        present = [device for device in devices if _exists(device)]   # a LUN may be gone
        if not present:
            return []
        report, _ = await self.lvm.report(devices=present)
        orphans = sorted(row["pv_name"] for row in report.pvs
                         if not row.get("vg_uuid") and row.get("pv_name") in present
                         and _same_pv(row, pvs))
        if orphans:
            await self.lvm.change("wipe the labels of an unfinished change", "pvremove",
                                  "-y", "--", *orphans, devices=orphans)
            await self.lvm.remove_devices(orphans)
            log.info("wiped the PV labels an unfinished change left on %s",
                     ", ".join(orphans))
        return orphans

    def _identities(self, devices: list[str],
                    vg: VolumeGroup | None = None) -> dict[str, dict[str, str | None]]:
        """What a recovery finds each device by (a name like /dev/sdb may belong to
        another disk after a reboot): its LUN's WWID and, when it is a PV of `vg`
        already, the PV's UUID."""
        pvs = {pv.device: pv.uuid for key in (vg.physical_volumes if vg else ())
               if (pv := self.store.get(PhysicalVolume, key)) is not None}
        return {device: {"wwid": self.lun_for_device(device), "pv": pvs.get(device)}
                for device in devices}

    def _recorded_devices(self, intent: Intent) -> tuple[list[str], dict[str, str | None]]:
        """The devices a record names, each found again by its LUN's WWID: their
        nodes now, and the PV UUID each must carry (None: any). A device whose LUN
        is not on the host now, or that was recorded without one, is left alone."""
        named = intent.data.get("labelled", intent.data.get("devices", []))
        ids = intent.data.get("ids")
        ids = ids if isinstance(ids, dict) else {}
        nodes, pvs = [], {}
        for device in named if isinstance(named, list) else []:
            ident = ids.get(device) if isinstance(device, str) else None
            wwid = ident.get("wwid") if isinstance(ident, dict) else None
            if not isinstance(wwid, str) or not wwid:
                log.warning("intent record %s names %r without its LUN: left alone",
                            intent.path, device)
                continue
            try:
                node = self.device_for_wwid(wwid)
            except NotFound:
                log.warning("intent record %s: LUN %s (was %s) is not on this host now; "
                            "%s left alone", intent.path, wwid, device, device)
                continue
            if node != device:
                log.warning("intent record %s: LUN %s was %s and is %s now: acting on %s",
                            intent.path, wwid, device, node, node)
            pv = ident.get("pv")
            nodes.append(node)
            pvs[node] = pv if isinstance(pv, str) else None
        return nodes, pvs

    async def _recover(self, pending: list[Intent] | None = None) -> None:
        """Finish or undo the LVM changes a daemon that died mid-way left recorded
        (`pending`; None: read them). Labels written for a VG that never came to be
        are wiped; a VG or PV removal the caller asked for is finished where its
        VG is already gone or its PV already empty; a data move still in LVM's
        metadata is aborted (atomic: the data stays where it was); anything else
        (a VG that was created after all, a removal that never started, a snapshot,
        whose one lvcreate LVM commits whole or not at all) is left as it is.
        Nothing outside the record's own devices and VG is touched."""
        if pending is None:
            pending = [i for i in await self.intents.pending() if i.kind in LVM_KINDS]
        for intent in pending:
            await self.intents.settle(intent, self._recover_one(intent))
        if pending:
            await self.refresh_lvm()

    async def _recover_one(self, intent: Intent) -> str:
        if intent.kind == "snapshot-lv":
            vg_name, name = intent.data.get("name"), intent.data.get("snapshot")
            vg_uuid = next((vg.uuid for vg in self.store.all(VolumeGroup).values()
                            if vg.name == vg_name), None)
            made = any(lv.name == name and lv.volume_group == vg_uuid
                       for lv in self.store.all(LogicalVolume).values())
            return (f"snapshot {vg_name}/{name} {'exists' if made else 'was not made'}; "
                    "LVM commits it whole or not at all: nothing to undo")
        # create-vg, extend-vg: the labels this change wrote ("labelled");
        # remove-vg, remove-pv: the labels the caller asked to remove ("devices").
        # Either way: wipe those left in no VG, leave the rest.
        devices, pvs = self._recorded_devices(intent)
        done = []
        if intent.kind == "remove-pv":
            done = await self._finish_pv_removal(intent.data.get("name"), devices, pvs)
        if wiped := await self._unlabel_orphans(devices, pvs):
            done.append(f"wiped the labels on {', '.join(wiped)}")
        return "; ".join(done) or "nothing to undo"

    async def _finish_pv_removal(self, vg_name, devices: list[str],
                                 pvs: dict[str, str | None]) -> list[str]:
        """A PV removal cut short: a move still in the VG's metadata is aborted
        (`--atomic`: every extent goes back where it was, and the PV stays, with
        its data); a PV still in the VG and empty leaves it, as the caller asked."""
        if not isinstance(vg_name, str) or not devices:
            return []
        name = validation.vg_name(vg_name)        # from a file, but a command line
        try:
            report, _ = await self.lvm.report([name])
        except NotFound:
            return []                              # the VG is gone: orphans, wiped next
        done = []
        members = [row["pv_name"] for row in report.pvs if row.get("vg_name") == name]
        # a pvmove's LV is hidden (fullreport leaves it out): `lvs -a` shows it
        hidden = await self.lvm.run("lvs", "-a", "--reportformat", "json", "-o",
                                    "lv_name,lv_attr", "--", name, devices=members)
        if not hidden.ok:
            raise error_for(hidden, f"look for a data move in {name}")
        if any(row.get("lv_attr", "").startswith("p")
               for row in parse_report(hidden.stdout).lvs):
            await self.lvm.change(f"abort the data move in {name}", "pvmove", "--abort",
                                  devices=members)
            done.append(f"aborted the data move in {name}")
            report, _ = await self.lvm.report([name])
        for row in report.pvs:
            device = row.get("pv_name")
            if device in devices and row.get("vg_name") == name and len(members) > 1 \
                    and not _int(row.get("pv_used")) and _same_pv(row, pvs):
                await self.lvm.change(f"take {device} out of {name}", "vgreduce", "--",
                                      name, device, devices=members)
                done.append(f"took the empty {device} out of {name}")
        return done

    # ---- volume groups ----

    async def resize_pv(self, device: str) -> None:
        """The PV on `device` takes its LUN's new size (after a rescan found the LUN
        grown), under its VG's lock and with the VG's devices; a failure is logged:
        the LUN is bigger, the PV still works at its old size."""
        pv = next((pv for pv in self.store.all(PhysicalVolume).values()
                   if pv.device == device), None)
        vg = self.store.get(VolumeGroup, pv.volume_group) \
            if pv is not None and pv.volume_group else None
        async with self._vg_lock(vg.name) if vg else contextlib.nullcontext():
            devices = list(dict.fromkeys([*(self._pv_devices(vg) if vg else []), device]))
            try:
                await self.lvm.change(f"resize the physical volume on {device}",
                                      "pvresize", "--", device, devices=devices)
            except StorageError as error:
                log.warning("%s", error)
                return
            await self.refresh_lvm([vg.name] if vg else None)

    async def create_volume_group(self, name: str, devices: list[str], opts: Options) -> str:
        """On completion exactly one VG on the host has `name`: this one, made of
        `devices`. Creations run one at a time, each asking LVM (over every device,
        not only the new ones `vgcreate` is limited to) whether the name is taken."""
        if any(vg.name == name for vg in self.store.all(VolumeGroup).values()):
            raise AlreadyExists(f"a volume group named {name} exists")
        wipe = bool(opts.get("wipe"))
        async with self._vg_create_lock, self._vg_lock(name):
            await self._name_free(name)
            taken = await asyncio.to_thread(self._take_devices, devices, wipe)
            nodes = [device for device, _ in taken]
            extent = ["-s", f"{opts['extent-size']}b"] if "extent-size" in opts else []
            async with self._labelling("create-vg", name, taken) as intent:
                await self._make_pvs(taken, wipe)
                await self.intents.step(intent, "pvcreate-done")
                await self.lvm.change(f"create volume group {name}", "vgcreate", "--addtag",
                                      MANAGED_TAG, *extent, "--", name, *nodes, devices=nodes)
                await self.intents.step(intent, "vgcreate-done")
            uuid = await self.lvm.vg_uuid_on(name, nodes)
            await self._after_change(name, nodes)
            return uuid

    async def _name_free(self, name: str) -> None:
        """AlreadyExists when LVM sees a VG of that name on any device (our model
        may not know it yet: made outside a moment ago, or by a creation that has
        just finished)."""
        if name in await self.lvm.vg_names():
            raise AlreadyExists(f"a volume group named {name} exists")

    async def remove_volume_group(self, vg: str, opts: Options) -> None:
        found = resolve.volume_group(self.store, vg)
        if found.uuid.replace("-", "") in await asyncio.to_thread(blockdev.vgs_under, "/"):
            raise Busy(f"volume group {found.name} holds the root filesystem; this "
                       "service never removes it")
        if not found.managed and not opts.get("force"):
            raise InvalidArgument(f"volume group {found.name} was not created by this "
                                  "service; pass force=true to remove it anyway")
        async with self._vg_lock(found.name):
            found = resolve.volume_group(self.store, found.uuid)
            if open_lvs := await self._held(found):
                raise Busy(f"volume group {found.name} has open logical volumes: "
                           f"{', '.join(open_lvs)}")
            devices = self._pv_devices(found)
            intent = await self.intents.begin("remove-vg", name=found.name, devices=devices,
                                              ids=self._identities(devices, found))
            await self.lvm.change(f"remove volume group {found.name}", "vgremove", "-y",
                                  "-f", "--", found.name, devices=devices)
            await self.intents.step(intent, "vgremove-done")
            await self.lvm.change("remove the physical volume labels", "pvremove", "-y",
                                  "--", *devices, devices=devices)
            await self.lvm.remove_devices(devices)
            await self.intents.end(intent)
            await self._after_change(found.name, devices, removed=True)

    async def extend_volume_group(self, vg: str, devices: list[str], opts: Options) -> None:
        found = resolve.volume_group(self.store, vg)
        wipe = bool(opts.get("wipe"))
        async with self._vg_lock(found.name):
            taken = await asyncio.to_thread(self._take_devices, devices, wipe)
            nodes = [device for device, _ in taken]
            async with self._labelling("extend-vg", found.name, taken) as intent:
                await self._make_pvs(taken, wipe)
                await self.intents.step(intent, "pvcreate-done")
                await self.lvm.change(f"extend volume group {found.name}", "vgextend", "--",
                                      found.name, *nodes,
                                      devices=[*self._pv_devices(found), *nodes])
                await self.intents.step(intent, "vgextend-done")
            await self._after_change(found.name, nodes)

    async def remove_physical_volume(self, vg: str, pv: str, opts: Options,
                                     uid: int) -> int | None:
        found = resolve.volume_group(self.store, vg)
        target = resolve.physical_volume(self.store, pv, found)
        if len(found.physical_volumes) == 1:
            raise Busy(f"{target.device} is the last physical volume of {found.name}; "
                       "remove the volume group instead")
        used = target.size - target.free_size
        if used and opts.get("move-data"):
            if used > found.free_size - target.free_size:
                raise NoSpace(f"the other physical volumes of {found.name} lack the "
                              f"{used} bytes of space for the data on {target.device}")
            job = self.jobs.start("pv-move", [("PhysicalVolume", target.uuid),
                                              ("VolumeGroup", found.uuid)], uid)
            task = asyncio.ensure_future(self.jobs.run(job, self._move(found, target, job)))
            self._moves.add(task)
            task.add_done_callback(self._moves.discard)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            return job.id
        async with self._vg_lock(found.name):
            if target.size != target.free_size:
                raise Busy(f"{target.device} holds {target.size - target.free_size} bytes "
                           "of data; pass move-data=true to move it first")
            await self._reduce(found, target)
        return None

    async def _move(self, found: VolumeGroup, target: PhysicalVolume, job) -> None:
        """pvmove with its progress in the Job; a cancel aborts it (`--atomic`: an
        aborted move leaves every extent where it was), then the PV leaves the VG."""
        async with self._vg_lock(found.name):
            intent = await self.intents.begin("remove-pv", name=found.name,
                                              devices=[target.device], move=True,
                                              ids=self._identities([target.device], found))
            try:
                await self._move_off(found, target, job, intent)
            except BaseException:
                # a cancelled or failed move: whatever it left, as a restart would
                await asyncio.shield(self.intents.settle(intent, self._recover_one(intent)))
                raise
            await self.intents.step(intent, "pvmove-done")
            await self._reduce(self.store.get(VolumeGroup, found.uuid) or found, target,
                               intent)

    async def _move_off(self, found: VolumeGroup, target: PhysicalVolume, job,
                        intent: Intent) -> None:
        devices = self._pv_devices(found)
        moving = asyncio.Event()          # pvmove's first progress line: it is under way

        def progress(line: str) -> None:
            if match := _MOVED.search(line):
                moving.set()
                job.progress(float(match[1]) / 100)
        noted = asyncio.ensure_future(self._note_moving(intent, moving))
        move = asyncio.ensure_future(self.lvm.run_long(
            "pvmove", "-i", "1", "--atomic", "--", target.device, devices=devices,
            timeout=MOVE_TIMEOUT, on_line=progress))
        cancelled = asyncio.ensure_future(job.cancelled.wait())
        try:
            await asyncio.wait({move, cancelled}, return_when=asyncio.FIRST_COMPLETED)
            if not move.done():
                await self.lvm.run("pvmove", "--abort", devices=devices)
                await asyncio.wait({move}, timeout=60)
                if not move.done():
                    move.cancel()
                await self.refresh_lvm([found.name])
                job.check()
        finally:
            cancelled.cancel()
            if moving.is_set():
                await noted                # its record write done before the next one
            else:
                noted.cancel()
        result = move.result()
        if not result.ok:
            await self.refresh_lvm([found.name])
            raise error_for(result, f"move the data off {target.device}")
        job.progress(1.0)

    async def _note_moving(self, intent: Intent, moving: asyncio.Event) -> None:
        await moving.wait()
        await self.intents.step(intent, "moving")

    async def _reduce(self, found: VolumeGroup, target: PhysicalVolume,
                      intent: Intent | None = None) -> None:
        """An empty PV out of its VG, and its label wiped. Holds the VG's lock.
        `intent`: the record of the removal this ends (a move's), or a new one."""
        devices = self._pv_devices(found)
        if intent is None:
            intent = await self.intents.begin("remove-pv", name=found.name,
                                              devices=[target.device],
                                              ids=self._identities([target.device], found))
        await self.lvm.change(f"take {target.device} out of {found.name}", "vgreduce",
                              "--", found.name, target.device, devices=devices)
        await self.intents.step(intent, "vgreduce-done")
        await self.lvm.change(f"remove the label of {target.device}", "pvremove", "-y",
                              "--", target.device, devices=[target.device])
        await self.lvm.remove_devices([target.device])
        await self.intents.end(intent)
        await self._after_change(found.name, [target.device], removed=True)

    # ---- logical volumes ----

    def _lv_and_vg(self, lv: str) -> tuple[LogicalVolume, VolumeGroup]:
        found = resolve.logical_volume(self.store, lv)
        vg = self.store.get(VolumeGroup, found.volume_group)
        if vg is None:
            raise NotFound(f"the volume group of {found.path} is gone")
        return found, vg

    async def create_logical_volume(self, vg: str, name: str, size: int,
                                    opts: Options) -> str:
        found = resolve.volume_group(self.store, vg)
        async with self._vg_lock(found.name):
            found = resolve.volume_group(self.store, found.uuid)
            if any(lv.name == name and lv.volume_group == found.uuid
                   for lv in self.store.all(LogicalVolume).values()):
                raise AlreadyExists(f"{found.name}/{name} exists")
            count = extents(size, found.extent_size)
            rounded = count * found.extent_size
            if rounded > found.free_size:
                raise NoSpace(f"volume group {found.name} has {found.free_size} bytes free; "
                              f"{name} needs {rounded}")
            inactive = ["-an", "-Zn"] if opts.get("activate") is False else []
            await self.lvm.change(f"create {found.name}/{name}", "lvcreate", "-y", "-l",
                                  str(count), "-n", name, *inactive, "--", found.name,
                                  devices=self._pv_devices(found))
            made = pv_key = None
            if not inactive:
                mapped, pv_key = await asyncio.to_thread(self._map_and_pv, found, name)
                made = lvm_derive.lv_of_map(found, name, mapped, rounded)
            if made is None or pv_key is None:
                await self.refresh_lvm([found.name])
                return resolve.logical_volume(self.store, f"{found.name}/{name}").uuid
            self.store.publish([made, *lvm_derive.spent(self.store, found, pv_key,
                                                        made.size)])
            return made.uuid

    async def extend_logical_volume(self, lv: str, size: int, opts: Options) -> None:
        found, vg = self._lv_and_vg(lv)
        async with self._vg_lock(vg.name):
            found, vg = self._lv_and_vg(found.uuid)
            if "expected-size" in opts and found.size != opts["expected-size"]:
                raise InvalidArgument(f"{found.name} is {found.size} bytes, not the "
                                      f"expected {opts['expected-size']}")
            count = extents(size, vg.extent_size)
            await self.lvm.change(f"extend {vg.name}/{found.name}", "lvextend", "-l",
                                  f"+{count}", "--", f"{vg.name}/{found.name}",
                                  devices=self._pv_devices(vg))
            grown = found.size + count * vg.extent_size
            mapped, pv_key = await asyncio.to_thread(self._map_and_pv, vg, found.name) \
                if found.active and lvm_derive.plain(found) else (None, None)
            if mapped is None or mapped.size != grown or pv_key is None:
                await self.refresh_lvm([vg.name])
                return
            self.store.publish([found.model_copy(update={"size": grown}),
                                *lvm_derive.spent(self.store, vg, pv_key,
                                                  grown - found.size)])

    def _map_and_pv(self, vg: VolumeGroup, lv_name: str) -> tuple:
        """The LV's map and the one PV it lies on (lvm_derive); in a thread."""
        mapped = lvm_derive.read_map(vg.name, lv_name)
        return mapped, lvm_derive.one_pv(self.store, vg, mapped)

    async def remove_logical_volume(self, lv: str, opts: Options) -> None:
        found, vg = self._lv_and_vg(lv)
        if not vg.managed and not opts.get("force"):
            raise InvalidArgument(f"{found.path} is in volume group {vg.name}, which this "
                                  "service did not create; pass force=true to remove it")
        async with self._vg_lock(vg.name):
            found, vg = self._lv_and_vg(found.uuid)
            snaps = [s.name for s in self.store.all(LogicalVolume).values()
                     if s.origin == found.uuid]
            if snaps:
                raise Busy(f"{found.name} has snapshots ({', '.join(snaps)}); "
                           "remove them first")
            # the PV it gives its space back to, read before its map goes
            pv_key = None
            if lvm_derive.plain(found):
                pv_key = (await asyncio.to_thread(self._map_and_pv, vg, found.name))[1] \
                    if found.active else lvm_derive.one_pv(self.store, vg, None)
            # LVM refuses an open LV itself; udev's probe holds a new or changed
            # device for a moment, so a refusal is looked at again after udev is done
            try:
                await self._lvremove(vg, found)
            except Busy:
                if await self._held(vg, found):
                    raise Busy(f"{found.path} is open") from None
                await self._lvremove(vg, found)
            if pv_key is None:
                await self.refresh_lvm([vg.name])
                return
            self.store.publish(lvm_derive.spent(self.store, vg, pv_key, -found.size),
                               [("LogicalVolume", found.uuid)])

    async def _lvremove(self, vg: VolumeGroup, lv: LogicalVolume) -> None:
        await self.lvm.change(f"remove {vg.name}/{lv.name}", "lvremove", "-y", "--",
                              f"{vg.name}/{lv.name}", devices=self._pv_devices(vg))

    async def snapshot_logical_volume(self, lv: str, name: str, size: int,
                                      opts: Options, uid: int) -> str:
        origin, vg = self._lv_and_vg(lv)
        if origin.origin is not None:
            raise NotSupported(f"{origin.name} is a snapshot; LVM cannot snapshot it")
        job = self.jobs.start("lv-snapshot", [("LogicalVolume", origin.uuid)], uid,
                              cancelable=False)
        return await self.jobs.run(job, self._snapshot(origin, vg, name, size))

    async def _snapshot(self, origin: LogicalVolume, vg: VolumeGroup, name: str,
                        size: int) -> str:
        async with self._vg_lock(vg.name):
            if any(lv.name == name and lv.volume_group == vg.uuid
                   for lv in self.store.all(LogicalVolume).values()):
                raise AlreadyExists(f"{vg.name}/{name} exists")
            # one lvcreate, which LVM commits whole or not at all: the record only
            # lets a restart say which (its crash points prove nothing is half-made)
            intent = await self.intents.begin("snapshot-lv", name=vg.name,
                                              origin=origin.name, snapshot=name)
            count = extents(size, vg.extent_size)
            try:
                await self.lvm.change(f"snapshot {vg.name}/{origin.name}", "lvcreate",
                                      "-y", "-s", "-l", str(count), "-n", name, "--",
                                      f"{vg.name}/{origin.name}",
                                      devices=self._pv_devices(vg))
            finally:
                await self.intents.end(intent)
            await self.refresh_lvm([vg.name])
            return resolve.logical_volume(self.store, f"{vg.name}/{name}").uuid

    async def activate_logical_volume(self, lv: str, opts: Options) -> None:
        await self._set_active(lv, True)

    async def deactivate_logical_volume(self, lv: str, opts: Options) -> None:
        await self._set_active(lv, False)

    async def _set_active(self, lv: str, active: bool) -> None:
        found, vg = self._lv_and_vg(lv)
        async with self._vg_lock(vg.name):
            found, vg = self._lv_and_vg(found.uuid)
            if not active and await self._held(vg, found):
                raise Busy(f"{found.path} is open")
            await self.lvm.change(f"{'activate' if active else 'deactivate'} "
                                  f"{vg.name}/{found.name}", "lvchange",
                                  "-ay" if active else "-an", "--", f"{vg.name}/{found.name}",
                                  devices=self._pv_devices(vg))
            await self.refresh_lvm([vg.name])

    def cancel_job(self, job_id: int) -> None:
        self.jobs.cancel(job_id)

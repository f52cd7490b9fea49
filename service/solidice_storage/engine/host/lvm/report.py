# SPDX-License-Identifier: LGPL-2.1-or-later
"""LVM's report read, and turned into what changes in the model: pure functions of
a report and the current view (udisks2's per-object update), no I/O.

A report covers everything, or only the VGs it names and their objects. A VG LVM no
longer sees because the LUNs under its PVs have no path left is kept, partial, with
its LVs and PVs: the paths may come back, and its LVs' maps are still there (LVM
reads nothing on a LUN with no path). "Partial while a LUN under one of its PVs
has no path left" is `unreachable_pvs` and `partial_by_paths`, and nowhere else.
"""

import json
from dataclasses import dataclass, field
from typing import Mapping

from ....errors import Failed
from ....models import Lun, LogicalVolume, Model, PhysicalVolume, VolumeGroup
from ...protocol import MANAGED_TAG

VG_COLUMNS = ("vg_name", "vg_uuid", "vg_size", "vg_free", "vg_extent_size", "vg_tags",
              "vg_attr")
PV_COLUMNS = ("pv_name", "pv_uuid", "pv_size", "pv_free", "pv_used", "vg_uuid", "vg_name",
              "pv_tags")
LV_COLUMNS = ("lv_name", "lv_uuid", "vg_uuid", "vg_name", "lv_size", "lv_path",
              "lv_attr", "origin_uuid", "lv_role", "lv_tags")


@dataclass
class Report:
    vgs: list[dict[str, str]] = field(default_factory=list)
    pvs: list[dict[str, str]] = field(default_factory=list)
    lvs: list[dict[str, str]] = field(default_factory=list)


def parse_report(text: str) -> Report:
    """`lvm fullreport --reportformat json` → rows. Each VG is one report entry;
    orphan PVs come in an entry of their own with no VG."""
    report = Report()
    try:
        entries = json.loads(text)["report"]
    except (ValueError, KeyError, TypeError) as error:
        raise Failed(f"LVM's report could not be read: {error}") from None
    for entry in entries:
        report.vgs.extend(entry.get("vg", []))
        report.pvs.extend(entry.get("pv", []))
        report.lvs.extend(entry.get("lv", []))
    # an orphan PV appears once per entry it is listed in; keep one row per UUID
    report.pvs = list({row["pv_uuid"]: row for row in report.pvs if row.get("pv_uuid")}
                      .values())
    return report


def tags_of(value: str | None) -> tuple[str, ...]:
    """A tags column (`vg_tags`, `lv_tags`, `pv_tags`), comma-separated (a tag
    cannot hold a comma: validate_tag), sorted: as a change's derived state has them."""
    return tuple(sorted(tag for tag in (value or "").split(",") if tag))


def as_int(value: str | None) -> int:
    """A number from a report row; 0 when empty or not a number."""
    try:
        return int(value or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class View:
    """The model as a refresh found it: the store's tables (key → model)."""
    vgs: Mapping[str, VolumeGroup]
    pvs: Mapping[str, PhysicalVolume]
    lvs: Mapping[str, LogicalVolume]
    luns: Mapping[str, Lun]


@dataclass
class Diff:
    upserts: list[Model]
    removals: list[tuple[str, str]]
    lvm_partial: dict[str, bool]     # VG UUID → partial, as LVM said
    cut_off: list[str]               # names of the VGs kept partial: no path to read


def unreachable_pvs(luns: Mapping[str, Lun], pvs: Mapping[str, PhysicalVolume]) -> set[str]:
    """UUIDs of the PVs on a LUN whose every path has failed."""
    dead = {lun.wwid for lun in luns.values()
            if lun.paths and all(state == "failed" for _, state in lun.paths)}
    return {pv.uuid for pv in pvs.values() if pv.lun in dead} if dead else set()


def partial_by_paths(view: View, lvm_partial: Mapping[str, bool]) -> list[VolumeGroup]:
    """The VGs whose Partial changes now that the LUNs' paths are as `view` has
    them: partial while a LUN under a PV has no path, else as LVM last said."""
    unreachable = unreachable_pvs(view.luns, view.pvs)
    changed = []
    for vg in view.vgs.values():
        partial = lvm_partial.get(vg.uuid, False) or bool(
            unreachable & set(vg.physical_volumes))
        if partial != vg.partial:
            changed.append(vg.model_copy(update={"partial": partial}))
    return changed


def link_lun(lun: Lun, pvs: Mapping[str, PhysicalVolume]) -> Lun:
    """A LUN from a host scan, with the PV link the LVM model knows."""
    for pv in pvs.values():
        if pv.lun == lun.wwid:
            return lun.model_copy(update={"physical_volume": pv.uuid, "status": "pv"})
    return lun


def linked_luns(luns: Mapping[str, Lun], pvs: list[PhysicalVolume],
                gone: set[str]) -> list[Lun]:
    """Lun.PhysicalVolume for each PV on a LUN; cleared where the PV went."""
    updates = []
    by_lun = {pv.lun: pv.uuid for pv in pvs if pv.lun}
    for lun in luns.values():
        if lun.wwid in by_lun and (lun.physical_volume, lun.status) != (
                by_lun[lun.wwid], "pv"):
            updates.append(lun.model_copy(update={"physical_volume": by_lun[lun.wwid],
                                                  "status": "pv"}))
        elif lun.physical_volume in gone and lun.wwid not in by_lun:
            updates.append(lun.model_copy(update={"physical_volume": None}))
    return updates


def _physical_volumes(report: Report, lun_of: Mapping[str, str | None]
                      ) -> tuple[list[PhysicalVolume], dict[str, list[str]]]:
    """The report's PVs, and each VG's PV UUIDs."""
    pvs, pvs_of = [], {}
    for row in report.pvs:
        vg_uuid = row.get("vg_uuid") or None
        device = row.get("pv_name", "")
        pv = PhysicalVolume(uuid=row["pv_uuid"], device=device, size=as_int(row.get("pv_size")),
                            free_size=as_int(row.get("pv_free")), volume_group=vg_uuid,
                            lun=lun_of.get(device), tags=tags_of(row.get("pv_tags")))
        pvs.append(pv)
        if vg_uuid:
            pvs_of.setdefault(vg_uuid, []).append(pv.uuid)
    return pvs, pvs_of


def _logical_volumes(report: Report) -> list[LogicalVolume]:
    lvs = []
    for row in report.lvs:
        if "private" in row.get("lv_role", "") or row.get("lv_name", "").startswith("["):
            continue                                 # a snapshot's COW, an internal LV
        attr = row.get("lv_attr", "")
        lvs.append(LogicalVolume(
            uuid=row["lv_uuid"], name=row["lv_name"], volume_group=row["vg_uuid"],
            size=as_int(row.get("lv_size")),
            path=row.get("lv_path") or f"/dev/{row['vg_name']}/{row['lv_name']}",
            active=len(attr) > 4 and attr[4] == "a",
            origin=row.get("origin_uuid") or None, attributes=attr,
            tags=tags_of(row.get("lv_tags"))))
    return lvs


def _volume_group(uuid: str, row: dict[str, str], pvs: list[str]) -> VolumeGroup:
    tags = tags_of(row.get("vg_tags"))
    attr = row.get("vg_attr", "")
    return VolumeGroup(uuid=uuid, name=row["vg_name"], size=as_int(row.get("vg_size")),
                       free_size=as_int(row.get("vg_free")),
                       extent_size=as_int(row.get("vg_extent_size")),
                       physical_volumes=tuple(sorted(pvs)), tags=tags,
                       managed=MANAGED_TAG in tags, partial=len(attr) > 3 and attr[3] == "p")


def _covered(view: View, vg_names: list[str] | None, reported: set[str]) -> set[str] | None:
    """The VG UUIDs a report covers (None: all): the named VGs, as the model and
    the report know them."""
    if vg_names is None:
        return None
    names = set(vg_names)
    return {vg.uuid for vg in view.vgs.values() if vg.name in names} | reported


def diff(report: Report, view: View, vg_names: list[str] | None,
         lun_of: Mapping[str, str | None]) -> Diff:
    """What `report` (of everything, or of `vg_names`) changes in `view`: the
    objects to publish and those to remove. `lun_of`: the LUN (WWID) under each
    PV device the report names."""
    vgs = {row["vg_uuid"]: row for row in report.vgs if row.get("vg_uuid")}
    pvs, pvs_of = _physical_volumes(report, lun_of)
    lvs = _logical_volumes(report)
    volume_groups = [_volume_group(uuid, row, pvs_of.get(uuid, [])) for uuid, row in vgs.items()]
    lvm_partial = {vg.uuid: vg.partial for vg in volume_groups}
    unreachable = unreachable_pvs(view.luns, view.pvs)
    volume_groups = [vg.model_copy(update={"partial": True})
                     if not vg.partial and unreachable & set(vg.physical_volumes)
                     else vg for vg in volume_groups]
    covered = _covered(view, vg_names, set(vgs))

    def covers(vg_uuid: str | None) -> bool:
        return covered is None or vg_uuid in covered
    cut_off = [key for key, vg in view.vgs.items()
               if covers(key) and key not in vgs and unreachable & set(vg.physical_volumes)]
    volume_groups += [view.vgs[key].model_copy(update={"partial": True}) for key in cut_off]
    lvs += [lv for lv in view.lvs.values() if lv.volume_group in cut_off]
    pvs += [pv for pv in view.pvs.values() if pv.volume_group in cut_off]
    kept = set(vgs) | set(cut_off)
    removals = [("VolumeGroup", key) for key in view.vgs if covers(key) and key not in kept]
    reported = {lv.uuid for lv in lvs}      # once: a set per LV was N² at 10,000
    removals += [("LogicalVolume", key) for key, lv in view.lvs.items()
                 if covers(lv.volume_group) and key not in reported]
    removals += _pvs_gone(view, pvs, covered)
    luns = linked_luns(view.luns, pvs, {key for kind, key in removals
                                        if kind == "PhysicalVolume"})
    return Diff([*volume_groups, *pvs, *lvs, *luns], removals, lvm_partial,
                [view.vgs[key].name for key in cut_off])


def _pvs_gone(view: View, pvs: list[PhysicalVolume],
              covered: set[str] | None) -> list[tuple[str, str]]:
    """The PVs the report covers and no longer shows; and, whichever report this
    is, a PV the model has on a device the report now shows with another PV
    (relabelled behind our back)."""
    if covered is None:
        old = set(view.pvs)
    else:
        old = {key for key, pv in view.pvs.items()
               if pv.volume_group and pv.volume_group in covered}
    relabelled = {pv.device: pv.uuid for pv in pvs}
    old |= {key for key, pv in view.pvs.items() if relabelled.get(pv.device, key) != key}
    reported = {pv.uuid for pv in pvs}
    return [("PhysicalVolume", key) for key in old if key not in reported]

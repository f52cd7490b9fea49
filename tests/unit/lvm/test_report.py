# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/report.py: LVM's report read, and what it changes in the model, as pure
functions of the report and the current view; on LVM's real output."""

import json

import pytest

from solidice_storage.engine.host.lvm.report import (Report, View, diff, parse_report,
                                                     partial_by_paths)
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import Failed
from solidice_storage.models import LogicalVolume, Lun, PhysicalVolume, VolumeGroup

from .fakes import VG_UUID, captured, pv_devices

ORIGIN = "8BcbdC-zyfs-QOgO-AGxc-eDMd-SEoo-JkkU4H"
NOTHING = '{"report": []}'


def test_a_vg_with_an_origin_a_snapshot_and_an_inactive_lv():
    report = parse_report(captured("lvm-fullreport-all.txt").stdout)
    (vg,) = report.vgs
    assert (vg["vg_name"], vg["vg_uuid"], vg["vg_tags"]) == ("labcap", VG_UUID,
                                                              "org.solidice.storage")
    assert [lv["lv_name"] for lv in report.lvs] == ["lv1", "lv2", "snap1"]
    assert len(report.pvs) == 2 and all(pv["vg_uuid"] == VG_UUID for pv in report.pvs)


def test_orphan_pvs_have_no_vg():
    report = parse_report(captured("lvm-fullreport-orphans.txt").stdout)
    assert report.vgs == [] and report.lvs == []
    assert [pv["vg_uuid"] for pv in report.pvs] == ["", ""]


def test_a_report_that_is_not_json_is_a_failure():
    with pytest.raises(Failed, match="could not be read"):
        parse_report("  WARNING: something\n")


class Model:
    """A store the diffs are published into, as the refresh does; LVM's own word
    on each VG's Partial kept from one diff to the next."""

    def __init__(self, capture: str) -> None:
        self.store = StateStore()
        self.wwids = [device.rsplit("/", 1)[1] for device in pv_devices(capture)]
        self.store.publish([Lun(wwid=w, device=f"/dev/mapper/{w}", size=64 << 20)
                            for w in self.wwids])
        self.lvm_partial: dict[str, bool] = {}

    def view(self) -> View:
        return View(self.store.all(VolumeGroup), self.store.all(PhysicalVolume),
                    self.store.all(LogicalVolume), self.store.all(Lun))

    def apply(self, text: str | Report, vg_names: list[str] | None = None) -> list[str]:
        report = parse_report(text) if isinstance(text, str) else text
        lun_of = {f"/dev/mapper/{w}": w for w in self.wwids}
        found = diff(report, self.view(), vg_names, lun_of)
        self.lvm_partial.update(found.lvm_partial)
        self.store.publish(found.upserts, found.removals)
        return found.cut_off

    def paths(self, *states: str) -> None:
        """Each LUN's paths in these states; the VGs' Partial as they make it."""
        self.store.publish([lun.model_copy(update={"multipath": True, "paths": tuple(
            (f"sd{i}", state) for i, state in enumerate(states))})
            for lun in self.store.all(Lun).values()])
        self.store.publish(partial_by_paths(self.view(), self.lvm_partial))


def test_the_model_from_a_report():
    model = Model("lvm-fullreport-all.txt")
    store = model.store
    model.apply(captured("lvm-fullreport-all.txt").stdout)
    vg = store.get(VolumeGroup, VG_UUID)
    assert (vg.name, vg.managed, vg.partial, vg.extent_size) == ("labcap", True, False,
                                                                 4 << 20)
    assert len(vg.physical_volumes) == 2
    lvs = {lv.name: lv for lv in store.all(LogicalVolume).values()}
    assert set(lvs) == {"lv1", "lv2", "snap1"}          # no internal COW volume
    assert lvs["snap1"].origin == ORIGIN and lvs["lv1"].origin is None
    assert lvs["lv1"].active and not lvs["lv2"].active
    for pv in store.all(PhysicalVolume).values():  # both ways
        assert store.get(Lun, pv.lun).physical_volume == pv.uuid
    assert list(store.all(VolumeGroup)) == [VG_UUID]
    assert sorted(store.logical_volumes_of(VG_UUID)) == sorted(lv.uuid for lv in
                                                               lvs.values())

    # the VG removed: a report naming it finds nothing; its objects and links go
    model.apply(NOTHING, ["labcap"])
    assert not store.all(VolumeGroup) and not store.all(LogicalVolume)
    assert not store.all(PhysicalVolume)
    assert all(lun.physical_volume is None for lun in store.all(Lun).values())


def test_a_vg_whose_luns_lost_every_path_is_kept_partial_until_a_path_returns():
    model = Model("lvm-fullreport-all.txt")
    store = model.store
    report = captured("lvm-fullreport-all.txt").stdout
    model.paths("active", "active")
    model.apply(report)
    whole = dict(store.objects["LogicalVolume"])
    assert not store.get(VolumeGroup, VG_UUID).partial
    model.paths("failed", "active")                       # one path left: nothing missing
    assert not store.get(VolumeGroup, VG_UUID).partial
    model.paths("failed", "failed")
    assert store.get(VolumeGroup, VG_UUID).partial
    # LVM cannot read the PVs now, so a report finds no VG: it is kept, with its
    # LVs and PVs, partial
    assert model.apply(NOTHING, ["labcap"]) == ["labcap"]
    vg = store.get(VolumeGroup, VG_UUID)
    assert vg.partial and len(vg.physical_volumes) == 2
    assert store.objects["LogicalVolume"] == whole
    model.paths("active", "failed")                       # a path back
    assert not store.get(VolumeGroup, VG_UUID).partial
    model.apply(report)
    assert not store.get(VolumeGroup, VG_UUID).partial
    # with a path, a report without the VG means it is gone
    model.apply(NOTHING, ["labcap"])
    assert not store.all(VolumeGroup) and not store.all(LogicalVolume)


def test_a_pv_relabelled_behind_our_back_replaces_the_old_one():
    model = Model("lvm-fullreport-orphans.txt")
    store = model.store
    model.apply(captured("lvm-fullreport-orphans.txt").stdout)
    old = sorted(store.all(PhysicalVolume).values(), key=lambda p: p.device)
    # the same device, a new PV UUID, now in a VG, reported by that VG's name only
    row = {"pv_name": old[0].device, "pv_uuid": "NEWpv0-0000-0000-0000-0000-0000-000000",
           "pv_size": "67108864", "pv_free": "67108864", "vg_uuid": "NEWvg0-0000-0000-"
           "0000-0000-0000-000000"}
    report = Report(vgs=[{"vg_uuid": row["vg_uuid"], "vg_name": "again", "vg_size": "1",
                          "vg_free": "1", "vg_extent_size": "4194304"}], pvs=[row])
    model.apply(report, ["again"])
    assert sorted(store.all(PhysicalVolume)) == sorted([row["pv_uuid"], old[1].uuid])
    assert store.get(Lun, old[0].lun).physical_volume == row["pv_uuid"]


def test_tags_of_vgs_lvs_and_pvs_are_read_sorted():
    """The tags columns (lvs(8): comma-separated), in the shape fullreport prints."""
    report = parse_report(json.dumps({"report": [{
        "vg": [{"vg_name": "tagged", "vg_uuid": "u-vg", "vg_extent_size": "4194304",
                "vg_tags": "site=paris,org.solidice.storage,a/b", "vg_attr": "wz--n-"}],
        "pv": [{"pv_name": "/dev/mapper/x", "pv_uuid": "u-pv", "vg_uuid": "u-vg",
                "pv_tags": "fast#1"}],
        "lv": [{"lv_name": "lv", "lv_uuid": "u-lv", "vg_uuid": "u-vg", "vg_name": "tagged",
                "lv_attr": "-wi-a-----", "lv_tags": "keep,backup:daily"},
               {"lv_name": "bare", "lv_uuid": "u-bare", "vg_uuid": "u-vg",
                "vg_name": "tagged", "lv_attr": "-wi-a-----", "lv_tags": ""}]}]}))
    found = diff(report, View({}, {}, {}, {}), None, {})
    by_key = {model.key: model for model in found.upserts}
    assert by_key["u-vg"].tags == ("a/b", "org.solidice.storage", "site=paris")
    assert by_key["u-vg"].managed
    assert by_key["u-pv"].tags == ("fast#1",)
    assert by_key["u-lv"].tags == ("backup:daily", "keep") and by_key["u-bare"].tags == ()

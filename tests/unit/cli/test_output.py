# SPDX-License-Identifier: LGPL-2.1-or-later
"""cli/output.py: what a listing, an info and a change show, and names across objects."""

import argparse

from solidice_storage import models, objpath
from solidice_storage.cli.output import Tree, call_options, done, info, listing
from solidice_storage.client.objects import LogicalVolume, PhysicalVolume, VolumeGroup
from solidice_storage.client.transport import Transport


def handles():
    transport = Transport()
    vg = VolumeGroup(transport, objpath.path("VolumeGroup", "u1"), models.VolumeGroup(
        uuid="u1", name="vg0", size=8 * 1024**2, free_size=0, extent_size=4 * 1024**2))
    lv = LogicalVolume(transport, objpath.path("LogicalVolume", "u2"), models.LogicalVolume(
        uuid="u2", name="disk0", volume_group="u1", size=4 * 1024**2,
        path="/dev/vg0/disk0", active=True))
    return vg, lv


def test_the_tree_names_an_lv_by_its_vg():
    vg, lv = handles()
    tree = Tree([vg, lv])
    assert tree.of("LogicalVolume") == [lv] and tree.lv_name(lv) == "vg0/disk0"


def test_listing_info_and_done():
    vg, lv = handles()
    shown = listing([vg], ["NAME", "SIZE"], lambda v: [v.name, v.size])
    assert shown.text.splitlines() == ["NAME  SIZE", f"vg0   {8 * 1024**2}"]
    assert shown.data[0]["object_path"] == vg.object_path
    shown = info(vg, logical_volumes=("disk0",))
    assert "logical volumes:" in shown.text and shown.data["logical_volumes"] == ("disk0",)
    assert done(None, "removed vg0").data == {} and done(lv, "x").data["name"] == "disk0"


def test_non_interactive_asks_the_service_not_to_prompt():
    assert call_options(argparse.Namespace(non_interactive=True)) == {
        "no_user_interaction": True}
    assert call_options(argparse.Namespace(non_interactive=False)) == {}


class Storage:
    """What Tree.in_vg asks of the client: one VG by name."""

    def __init__(self, vg) -> None:
        self.vg = vg

    async def volume_group(self, ref):
        assert ref == "vg0"
        return self.vg


async def test_in_vg_keeps_one_vg_s_objects_or_all():
    vg, lv = handles()
    tree = Tree([vg, lv])
    assert await tree.in_vg(Storage(vg), "LogicalVolume", "vg0") == [lv]
    assert await tree.in_vg(Storage(vg), "LogicalVolume", None) == [lv]
    other = VolumeGroup(Transport(), objpath.path("VolumeGroup", "u9"), vg.state.model_copy(
        update={"uuid": "u9"}))
    assert await tree.in_vg(Storage(other), "LogicalVolume", "vg0") == []


def test_listing_sorts_rows_and_json_alike_numbers_as_numbers():
    vg, lv = handles()
    other = VolumeGroup(Transport(), objpath.path("VolumeGroup", "u0"), vg.state.model_copy(
        update={"uuid": "u0", "name": "aaa", "size": 100_000_000}))
    shown = listing([vg, other], ["NAME", "SIZE"], lambda v: [v.name, v.size])
    assert [line.split()[0] for line in shown.text.splitlines()] == ["NAME", "aaa", "vg0"]
    assert [d["name"] for d in shown.data] == ["aaa", "vg0"]
    numbers = listing([vg, other], ["SIZE"], lambda v: [v.size])
    # As numbers: 8388608 before 100000000 (as text it would come after).
    assert numbers.text.splitlines()[1:] == [str(8 * 1024**2), "100000000"]


def test_info_shows_names_where_the_json_keeps_keys():
    vg, lv = handles()
    shown = info(lv, names={"volume_group": "vg0"})
    assert "volume group: vg0" in shown.text and shown.data["volume_group"] == "u1"


def test_the_tree_names_a_pv_by_its_device_and_vg():
    vg, lv = handles()
    pv = PhysicalVolume(Transport(), objpath.path("PhysicalVolume", "p1"),
                        models.PhysicalVolume(uuid="p1", device="/dev/sdx", size=1,
                                              free_size=0, volume_group="u1"))
    tree = Tree([vg, lv, pv])
    assert tree.pv_named("p1") == "/dev/sdx (in vg0)" and tree.pv_named(None) is None
    assert tree.lv_named("u2") == "vg0/disk0" and tree.lv_named("zz") == "zz"

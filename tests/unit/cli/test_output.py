"""cli/output.py: what a listing, an info and a change show, and names across objects."""

import argparse

from solidice_storage import models, objpath
from solidice_storage.cli.output import Tree, call_options, done, info, listing
from solidice_storage.client.objects import LogicalVolume, VolumeGroup
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

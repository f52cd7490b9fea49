# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/services.py: how the bench finds the VG and the LVs in each service's objects."""

from dbus_fast import Variant

from bench.services import Lvmdbusd, OurService, Udisks, prop


def objects(service, names: dict[str, str], vg_path: str) -> dict:
    tree = {path: {service.lv_interface: {"Name": Variant("s", name)}}
            for path, name in names.items()}
    tree[vg_path] = {service.vg_interface: {"Name": Variant("s", "benchvg")}}
    return tree


def test_prop_reads_one_interface_s_property_or_none():
    interfaces = {"a.B": {"Name": Variant("s", "x")}}
    assert prop(interfaces, "a.B", "Name") == "x"
    assert prop(interfaces, "a.B", "Size") is None and prop(interfaces, "c.D", "Name") is None


def test_each_service_s_lvs_and_vg_are_found_by_name():
    for service in (OurService(), Lvmdbusd(), Udisks()):
        tree = objects(service, {"/lv/0": "lv00000", "/lv/1": "lv00001", "/lv/2": "other"},
                       "/vg/0")
        assert service.lv_paths(tree, {"lv00000", "lv00001"}) == {
            "lv00000": "/lv/0", "lv00001": "/lv/1"}
        assert service.find_vg(tree) == "/vg/0"
        assert service.added_lv_name(tree["/lv/2"]) == "other"
        assert service.find_vg({}) is None

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Introspection written as text (dbus/bus.py) says what dbus-fast's ElementTree
says: the same interfaces, the same child nodes."""

from xml.etree import ElementTree

from dbus_fast import Message
from dbus_fast.service import ServiceInterface, method

from solidice_storage.dbus.bus import StorageBus
from solidice_storage.objpath import ROOT


class Thing(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.solidice.Storage.Thing")

    @method()
    def Poke(self, how: "s") -> "b":
        return True


def parsed(xml: str):
    node = ElementTree.fromstring(xml.split("\n", 2)[2])
    return (node.get("name"), sorted(i.get("name") for i in node.iter("interface")),
            sorted(n.get("name") for n in node if n.tag == "node"),
            sorted(m.get("name") for m in node.iter("method")))


def bus_with(paths):
    """A bus with a Thing at each of `paths`, never connected."""
    bus = StorageBus(bus_address="unix:path=/nonexistent")
    for path in paths:
        bus.export(path, Thing())
    return bus


async def test_introspection_text_matches_dbus_fast():
    paths = [f"{ROOT}/LogicalVolume/lv{n}" for n in range(5)] + [f"{ROOT}/Host",
                                                                  "/other/x"]
    bus = bus_with(paths)
    for path in ("/", "/org", ROOT, f"{ROOT}/LogicalVolume", f"{ROOT}/LogicalVolume/lv3",
                 f"{ROOT}/Host", "/nothing", "/other"):
        ours = parsed(bus._introspection(path))
        theirs = parsed(StorageBus._introspect_export_path(bus, path).tostring())
        assert ours == theirs, path
    assert parsed(bus._introspection(ROOT))[1] == [
        "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.ObjectManager",
        "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Properties"]


async def test_introspection_is_kept_until_the_tree_changes():
    bus = bus_with([f"{ROOT}/LogicalVolume/lv1"])
    sent = []
    call = Message(path=f"{ROOT}/LogicalVolume", interface="org.freedesktop.DBus."
                   "Introspectable", member="Introspect", serial=3)
    bus._default_introspect_handler(call, sent.append)
    assert list(bus._introspected) == [f"{ROOT}/LogicalVolume"]
    assert parsed(sent[0].body[0])[2] == ["lv1"]

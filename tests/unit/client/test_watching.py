# SPDX-License-Identifier: LGPL-2.1-or-later
"""client/watching.py: what each signal of the service means as an event, applied to
the tree the watcher keeps."""

from dbus_fast import Message, MessageType, Variant

from solidice_storage import models, objpath
from solidice_storage.client import events
from solidice_storage.client.transport import Transport
from solidice_storage.client.changes import events_of

IFACE = "org.solidice.Storage."
VG = objpath.path("VolumeGroup", "vg-uuid-1")
JOB = objpath.path("Job", "42")


def signal(path, interface, member, signature, body):
    return Message(message_type=MessageType.SIGNAL, path=path, interface=interface,
                   member=member, signature=signature, body=body)


def vg_properties(free: int) -> dict:
    return {"Uuid": Variant("s", "vg-uuid-1"), "Name": Variant("s", "vg0"),
            "Size": Variant("t", 100), "FreeSize": Variant("t", free),
            "ExtentSize": Variant("t", 4)}


def added(free: int = 60):
    return signal(objpath.ROOT, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                  "oa{sa{sv}}", [VG, {IFACE + "VolumeGroup": vg_properties(free)}])


def changed(path, interface, props):
    return signal(path, "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
                  [interface, props, []])


def test_an_added_object_comes_with_its_model_and_joins_the_tree():
    tree: dict = {}
    [event] = events_of(Transport(), tree, added())
    assert isinstance(event, events.ObjectAdded) and event.kind == "VolumeGroup"
    assert event.object.state == models.VolumeGroup(uuid="vg-uuid-1", name="vg0", size=100,
                                                    free_size=60, extent_size=4)
    assert VG in tree


def test_a_change_names_the_fields_that_differ_and_keeps_the_previous_model():
    transport, tree = Transport(), {}
    events_of(transport, tree, added(60))
    [event] = events_of(transport, tree, changed(VG, IFACE + "VolumeGroup",
                                                 {"FreeSize": Variant("t", 20)}))
    assert isinstance(event, events.ObjectChanged) and event.changed == {"free_size"}
    assert (event.previous.free_size, event.object.free_size) == (60, 20)
    assert events_of(transport, tree, changed(VG, IFACE + "VolumeGroup",
                                              {"FreeSize": Variant("t", 20)})) == []


def test_a_removed_object_carries_its_last_state():
    transport, tree = Transport(), {}
    events_of(transport, tree, added(60))
    [event] = events_of(transport, tree, signal(
        objpath.ROOT, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", "oas",
        [VG, [IFACE + "VolumeGroup"]]))
    assert isinstance(event, events.ObjectRemoved) and event.key == "vg-uuid-1"
    assert event.object.free_size == 60 and tree == {}


def test_a_completed_job_and_a_host_change():
    transport = Transport()
    [done] = events_of(transport, {}, signal(JOB, IFACE + "Job", "Completed", "bs",
                                             [False, "cancelled"]))
    assert done == events.JobCompleted(JOB, 42, False, "cancelled")
    [host] = events_of(transport, {}, changed(objpath.HOST, IFACE + "Host",
                                              {"VolumeGroups": Variant("ao", [VG])}))
    assert host == events.HostChanged({"volume_groups": ("vg-uuid-1",)})


def test_changes_to_objects_not_in_the_tree_are_not_events():
    assert events_of(Transport(), {}, changed(VG, IFACE + "VolumeGroup",
                                              {"FreeSize": Variant("t", 1)})) == []

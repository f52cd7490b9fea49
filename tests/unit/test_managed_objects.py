"""The GetManagedObjects reply from entries marshalled one by one is the very bytes
dbus-fast marshals from the whole tree."""

from dbus_fast import Message, MessageType, Variant
from dbus_fast._private.marshaller import Marshaller

from solidice_storage.dbus.managed_objects import (SIGNATURE, ManagedObjects,
                                                   PreparedReply, body, entry)

TREE = {
    "/org/solidice/Storage/Host": {
        "org.solidice.Storage.Host": {"Version": Variant("s", "0.1.0"),
                                      "Luns": Variant("ao", ["/a", "/b/c"])},
        "org.solidice.Storage.StoragePool": {}},
    "/org/solidice/Storage/LogicalVolume/x": {
        "org.solidice.Storage.LogicalVolume": {"Size": Variant("t", 2**64 - 1),
                                               "Active": Variant("b", True),
                                               "Name": Variant("s", "näme")}},
    "/org/solidice/Storage/Job/7": {
        "org.solidice.Storage.Job": {"Progress": Variant("d", 0.5),
                                     "Objects": Variant("a(so)", [("Lun", "/l")])}},
    "/org/solidice/Storage/Lun/y": {"org.solidice.Storage.Lun": {}},
}


def whole(tree: dict) -> bytes:
    return bytes(Marshaller(SIGNATURE, [tree]).marshall())


def test_joined_entries_are_the_whole_body():
    for count in range(len(TREE) + 1):
        tree = dict(list(TREE.items())[:count])
        assert body([entry(path, ifaces) for path, ifaces in tree.items()]) == whole(tree)


def test_prepared_reply_is_the_reply_dbus_fast_marshals():
    call = Message(destination="org.solidice.Storage", path="/org/solidice/Storage",
                   interface="org.freedesktop.DBus.ObjectManager",
                   member="GetManagedObjects", serial=41)
    call.sender = ":1.7"
    for tree in ({}, TREE):
        prepared = PreparedReply(call, SIGNATURE, whole(tree))
        plain = Message(message_type=MessageType.METHOD_RETURN, reply_serial=41,
                        destination=":1.7", signature=SIGNATURE, body=[tree])
        prepared.serial = plain.serial = 9
        assert prepared._marshall(False) == plain._marshall(False)


def test_an_entry_is_marshalled_again_only_after_its_object_changed():
    asked = []
    tree = dict(TREE)

    def interfaces_of(path):
        asked.append(path)
        return tree[path]
    managed = ManagedObjects("/org/solidice/Storage", interfaces_of)
    for path in tree:
        managed.added(path)
    assert managed.reply_body() == whole(tree) and len(asked) == len(tree)
    asked.clear()
    assert managed.reply_body() == whole(tree) and asked == []
    job = "/org/solidice/Storage/Job/7"
    tree[job] = {"org.solidice.Storage.Job": {"Progress": Variant("d", 1.0)}}
    managed.changed(job)
    assert managed.reply_body() == whole(tree) and asked == [job]
    del tree[job]
    managed.removed(job)
    managed.removed("/not/there")
    assert managed.reply_body() == whole(tree) and asked == [job]


def test_only_get_managed_objects_on_the_root_is_answered():
    sent = []
    managed = ManagedObjects("/org/solidice/Storage", lambda path: {})
    for path, member, interface in [("/org/solidice/Storage/Host", "GetManagedObjects",
                                     "org.freedesktop.DBus.ObjectManager"),
                                    ("/org/solidice/Storage", "Introspect",
                                     "org.freedesktop.DBus.Introspectable")]:
        message = Message(path=path, member=member, interface=interface, serial=3)
        assert not managed.handle(sent.append, message)
    message = Message(path="/org/solidice/Storage", member="GetManagedObjects",
                      interface="org.freedesktop.DBus.ObjectManager", serial=3)
    assert managed.handle(sent.append, message) and len(sent) == 1

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The GetManagedObjects reply from entries marshalled one by one is the very bytes
dbus-fast marshals from the whole tree."""

import asyncio
import io

from dbus_fast import Message, MessageType, Variant
from dbus_fast._private.marshaller import Marshaller
from dbus_fast._private.unmarshaller import Unmarshaller

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


def call(path, member="GetManagedObjects", interface="org.freedesktop.DBus.ObjectManager",
         signature="", body=(), sender=":1.7"):
    message = Message(path=path, member=member, interface=interface, serial=3,
                      signature=signature, body=list(body))
    message.sender = sender
    return message


def replied(managed, message) -> dict:
    sent = []
    assert managed.handle(sent.append, message) is True
    [reply] = sent
    return Unmarshaller(io.BytesIO(bytes(reply._marshall(False)))).unmarshall().body[0]


def test_get_managed_objects_on_any_path_answers_the_objects_below_it():
    managed = ManagedObjects("/org/solidice/Storage", TREE.__getitem__)
    for path in TREE:
        managed.added(path)
    for path in ("/", "/org", "/org/solidice", "/org/solidice/Storage"):
        assert replied(managed, call(path)) == TREE, path
    assert list(replied(managed, call("/org/solidice/Storage/LogicalVolume"))) == [
        "/org/solidice/Storage/LogicalVolume/x"]
    for path in ("/org/solidice/Storage/Host", "/org/solidice/Storage/Job/7",
                 "/org/solidice/Storage/Nothing", "/org/sol", "/elsewhere"):
        assert replied(managed, call(path)) == {}, path
    assert replied(managed, call("/", interface=None)) == TREE


def test_other_calls_pass_and_arguments_are_invalid_args():
    managed = ManagedObjects("/org/solidice/Storage", TREE.__getitem__)
    sent = []
    assert managed.handle(sent.append, call("/org/solidice/Storage", "Introspect",
                                            "org.freedesktop.DBus.Introspectable")) is False
    assert managed.handle(sent.append, call("/org/solidice/Storage", "GetAll",
                                            "org.freedesktop.DBus.Properties")) is False
    refused = managed.handle(sent.append, call("/", signature="s", body=["x"]))
    assert refused.message_type is MessageType.ERROR and sent == []
    assert refused.error_name == "org.freedesktop.DBus.Error.InvalidArgs"


def test_replies_on_their_way_to_one_caller_are_capped_then_queued_then_busy():
    managed = ManagedObjects("/org/solidice/Storage", TREE.__getitem__, per_sender=2,
                             queued=1)
    pending = []
    loop = asyncio.new_event_loop()

    def send(message):
        pending.append((message, asyncio.Future(loop=loop)))
        return pending[-1][1]
    try:
        first, second, third, fourth = (call("/") for _ in range(4))
        for serial, message in enumerate((first, second, third, fourth), 11):
            message.serial = serial
        for message in (first, second, third):
            assert managed.handle(send, message) is True
        assert [m.reply_serial for m, _ in pending] == [first.serial, second.serial]
        busy = managed.handle(send, fourth)
        assert busy.error_name == "org.solidice.Storage.Error.Busy"
        assert managed.handle(send, call("/", sender=":1.8")) is True   # another caller
        assert len(pending) == 3
        pending[0][1].set_result(None)
        loop.run_until_complete(asyncio.sleep(0))
        assert len(pending) == 4 and pending[3][0].reply_serial == third.serial
        for _, future in pending[1:]:
            future.set_result(None)
        loop.run_until_complete(asyncio.sleep(0))
        assert not managed._sending and not managed._waiting
    finally:
        loop.close()


def test_a_reply_written_at_once_is_not_counted():
    managed = ManagedObjects("/org/solidice/Storage", TREE.__getitem__, per_sender=1,
                             queued=0)
    loop = asyncio.new_event_loop()

    def send(message):
        done = asyncio.Future(loop=loop)
        done.set_result(None)
        return done
    try:
        assert all(managed.handle(send, call("/")) is True for _ in range(5))
    finally:
        loop.close()

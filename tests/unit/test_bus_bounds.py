# SPDX-License-Identifier: LGPL-2.1-or-later
"""The connection's size bounds (dbus/bus.py): a method call over MAX_CALL_BODY
reaches the message handlers without its body, and is refused; every other message
passes byte for byte, however the stream is cut into reads."""

import errno

from dbus_fast import Message, MessageFlag, MessageType, Variant
from dbus_fast._private.unmarshaller import Unmarshaller

from solidice_storage.dbus import bus
from solidice_storage.dbus.bus import MAX_CALL_BODY, _BoundedReader, _refuse_bad_sizes


class Chunks:
    """A socket that gives `data` `size` bytes per recv, then would block."""

    def __init__(self, data: bytes, size: int) -> None:
        self._chunks = [data[i:i + size] for i in range(0, len(data), size)]

    def recv(self, bufsize: int) -> bytes:
        if not self._chunks:
            raise BlockingIOError(errno.EAGAIN, "no data")
        return self._chunks.pop(0)


def call(member: str, options: dict, flags=MessageFlag.NONE, kind=MessageType.METHOD_CALL):
    message = Message(message_type=kind, path="/org/solidice/Storage/Host",
                      interface="org.solidice.Storage.Host", member=member,
                      signature="a{sv}", body=[options], serial=5, flags=flags,
                      sender=":1.9")
    return message


def wire(message: Message) -> bytes:
    return bytes(message._marshall(False))


def read_all(data: bytes, size: int) -> list[Message]:
    reader = Unmarshaller(None, _BoundedReader(Chunks(data, size)), False)
    out = []
    while (message := reader.unmarshall()) is not None:
        out.append(message)
    return out


BIG = {f"k{n}": Variant("s", "x" * 40) for n in range(MAX_CALL_BODY // 48)}
SMALL = {"auth.no_user_interaction": Variant("b", True)}


def test_an_oversized_call_arrives_without_its_body_the_rest_unchanged():
    big_signal = Message.new_signal("/x", "a.b", "C", "a{sv}", [BIG])
    stream = [call("EnumerateLuns", SMALL), call("EnumerateLuns", BIG), big_signal,
              call("EnumerateVolumeGroups", SMALL)]
    data = b"".join(wire(m) for m in stream)
    for size in (13, 4096, 65536, len(data)):
        small, big, signal, last = read_all(data, size)
        assert (small.member, small.body) == ("EnumerateLuns", [SMALL])
        assert big.member == "EnumerateLuns" and big.body == [] and big.signature == ""
        assert int(big.flags) & bus._OVERSIZED and big.path == "/org/solidice/Storage/Host"
        assert signal.body == [BIG]
        assert (last.member, last.body, int(last.flags)) == ("EnumerateVolumeGroups",
                                                             [SMALL], 0)


def test_a_callers_own_oversized_mark_is_cleared():
    [message] = read_all(wire(call("EnumerateLuns", SMALL, MessageFlag(bus._OVERSIZED))),
                         100)
    assert int(message.flags) == 0 and message.body == [SMALL]


def test_too_large_too_many_options_or_too_long_strings_are_refused():
    [big] = read_all(wire(call("EnumerateLuns", BIG)), 65536)
    refused = _refuse_bad_sizes(big)
    assert refused.error_name == "org.solidice.Storage.Error.InvalidArgument"
    assert "too large" in refused.body[0]
    many = call("EnumerateLuns", {f"k{n}": Variant("b", True) for n in range(65)})
    assert "65 options" in _refuse_bad_sizes(many).body[0]
    long = Message(path="/", member="GetBlockInfo", signature="sa{sv}", serial=3,
                   body=["x" * 4097, {}])
    assert "4097 characters" in _refuse_bad_sizes(long).body[0]
    listed = Message(path="/", member="CreateVolumeGroup", signature="sasa{sv}",
                     serial=3, body=["vg", ["/dev/sda", "y" * 5000], {}])
    assert "5000 characters" in _refuse_bad_sizes(listed).body[0]
    assert _refuse_bad_sizes(call("EnumerateLuns", SMALL)) is None
    quiet = call("EnumerateLuns", {f"k{n}": Variant("b", True) for n in range(65)},
                 MessageFlag.NO_REPLY_EXPECTED)
    assert _refuse_bad_sizes(quiet) is True
    assert _refuse_bad_sizes(call("X", BIG, kind=MessageType.SIGNAL)) is None


def test_the_standard_interfaces_get_the_standard_error():
    get = Message(path="/", interface="org.freedesktop.DBus.Properties", member="Get",
                  signature="ss", serial=3, body=["x" * 5000, "y"])
    assert _refuse_bad_sizes(get).error_name == "org.freedesktop.DBus.Error.InvalidArgs"

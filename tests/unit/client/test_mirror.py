# SPDX-License-Identifier: LGPL-2.1-or-later
"""client/mirror.py: the tree the client keeps from one GetManagedObjects and the
signals after it; what its watchers hear when the service goes and comes back; the
live models handles read."""

import asyncio

from dbus_fast import Message, MessageType, Variant

from solidice_storage import objpath
from solidice_storage.client import events
from solidice_storage.client.mirror import DISCONNECTED, Mirror
from solidice_storage.client.objects import handle
from solidice_storage.client.signals import CONNECTION_LOST, OWNER_CHANGED, Signals

IFACE = "org.solidice.Storage."
VG, OLD_VG = objpath.path("VolumeGroup", "vg-1"), objpath.path("VolumeGroup", "vg-0")


class FakeTransport:
    """What the mirror uses of its transport: the owner, serials, and calls that
    are answered by handing the reply to the mirror (as the signal filter does)."""

    read_timeout = 5

    def __init__(self, owner: str | None = ":1.10") -> None:
        self.signals = Signals()
        self.signals._owner = owner
        self.mirror = Mirror(self)
        self.sent: list[Message] = []
        self._serial = 0

    def message(self, destination, path, interface, member, signature="", body=None):
        self._serial += 1
        message = Message(destination=destination, path=path, interface=interface,
                          member=member, signature=signature, body=body or [])
        message.serial = self._serial
        return message

    async def send(self, message, call_timeout):
        self.sent.append(message)
        await asyncio.Event().wait()          # answered through answer()

    def answer(self, tree: dict, serial: int | None = None) -> None:
        reply = Message(message_type=MessageType.METHOD_RETURN,
                        reply_serial=serial or self.sent[-1].serial,
                        signature="a{oa{sa{sv}}}", body=[tree])
        self.mirror.put_nowait(reply)


def vg(uuid: str, name: str, free: int) -> dict:
    return {IFACE + "VolumeGroup": {
        "Uuid": Variant("s", uuid), "Name": Variant("s", name), "Size": Variant("t", 100),
        "FreeSize": Variant("t", free), "ExtentSize": Variant("t", 4)}}


def free_size_changed(free: int) -> Message:
    return Message(message_type=MessageType.SIGNAL, path=VG,
                   interface="org.freedesktop.DBus.Properties", member="PropertiesChanged",
                   signature="sa{sv}as",
                   body=[IFACE + "VolumeGroup", {"FreeSize": Variant("t", free)}, []])


async def followed(tree: dict) -> FakeTransport:
    transport = FakeTransport()
    transport.mirror.put_nowait(OWNER_CHANGED)
    await asyncio.sleep(0)                    # the query is sent
    transport.answer(tree)
    return transport


async def test_a_handle_reads_the_model_the_signals_made():
    transport = await followed({VG: vg("vg-1", "vg0", 60)})
    live = handle(transport, VG, vg("vg-1", "vg0", 60))
    pinned = handle(transport, VG, vg("vg-1", "vg0", 60), live=False)
    transport.mirror.put_nowait(free_size_changed(20))
    assert (live.free_size, pinned.free_size) == (20, 60)
    transport.mirror.put_nowait(OWNER_CHANGED)     # gone: the last state is kept
    transport.signals._owner = None
    assert transport.mirror.model(VG, "VolumeGroup") is None and live.free_size == 20


async def test_watchers_hear_lost_then_back_then_what_differs():
    transport = await followed({OLD_VG: vg("vg-0", "old", 10), VG: vg("vg-1", "vg0", 60)})
    with transport.mirror.subscribe() as queue:
        transport.mirror.put_nowait(CONNECTION_LOST)
        transport.signals._owner = ":1.99"
        transport.mirror.put_nowait(OWNER_CHANGED)
        await asyncio.sleep(0)
        transport.mirror.put_nowait(free_size_changed(5))     # in the answer: dropped
        new_vg = objpath.path("VolumeGroup", "vg-2")
        transport.answer({VG: vg("vg-1", "vg0", 5), new_vg: vg("vg-2", "new", 100)})
        heard = [queue.get_nowait() for _ in range(queue.qsize())]
    lost, disconnected, back, removed, added, changed = heard
    assert isinstance(lost, events.ServiceLost) and "bus" in lost.reason
    assert disconnected is DISCONNECTED
    assert back == events.ServiceBack(":1.99")
    assert isinstance(removed, events.ObjectRemoved) and removed.path == OLD_VG
    assert isinstance(added, events.ObjectAdded) and added.object.name == "new"
    assert isinstance(changed, events.ObjectChanged) and changed.changed == {"free_size"}
    assert (changed.previous.free_size, changed.object.free_size) == (60, 5)


async def test_an_answer_from_an_owner_that_went_is_dropped():
    transport = await followed({})
    transport.mirror.put_nowait(OWNER_CHANGED)            # a new owner: asked
    await asyncio.sleep(0)
    stale = transport.sent[-1].serial
    transport.mirror.put_nowait(OWNER_CHANGED)            # and another: asked again
    await asyncio.sleep(0)
    transport.answer({VG: vg("vg-1", "stale", 1)}, stale)
    assert not transport.mirror.live
    transport.answer({VG: vg("vg-1", "vg0", 60)})
    assert transport.mirror.live and transport.mirror.model(VG, "VolumeGroup").name == "vg0"

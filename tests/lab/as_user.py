# SPDX-License-Identifier: LGPL-2.1-or-later
"""A system bus client run as another user (setpriv) by test_authz.py: one process
for a whole list of calls, so a round of the polkit matrix costs one Python start.

    as_user.py calls FILE        FILE: JSON [[path, interface, member, signature,
                                 body], ...]; prints [[ok, error name, text], ...]
    as_user.py own NAME          tries to own NAME; prints the RequestName outcome
    as_user.py spoof DEST SERIAL...   sends DEST a method return for each serial and
                                 an InterfacesAdded signal; prints what the bus said

An a{sv} argument is written as {"key": [signature, value]}.
"""

import asyncio
import json
import sys

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

NAME = "org.solidice.Storage"


def _body(signature: str, body: list) -> list:
    """Variants back from [signature, value] pairs, in a{sv} arguments."""
    out = []
    for value in body:
        if isinstance(value, dict):
            value = {k: Variant(*v) for k, v in value.items()}
        out.append(value)
    return out


async def calls(bus: MessageBus, path: str) -> list:
    results = []
    with open(path) as file:
        for obj, interface, member, signature, body in json.load(file):
            try:
                reply = await asyncio.wait_for(bus.call(Message(
                    destination=NAME, path=obj, interface=interface, member=member,
                    signature=signature, body=_body(signature, body))), 120)
            except asyncio.TimeoutError:
                results.append([False, "timeout", f"{member}: no reply in 120 s"])
                continue
            if reply.message_type is MessageType.ERROR:
                results.append([False, reply.error_name,
                                reply.body[0] if reply.body else ""])
            else:
                results.append([True, "", ""])
    return results


async def own(bus: MessageBus, name: str) -> list:
    reply = await bus.call(Message(
        destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
        interface="org.freedesktop.DBus", member="RequestName", signature="su",
        body=[name, 4]))                                  # DO_NOT_QUEUE
    if reply.message_type is MessageType.ERROR:
        return [False, reply.error_name]
    return [True, reply.body[0]]


async def spoof(bus: MessageBus, destination: str, serials: list[str]) -> list:
    """Replies nobody asked us for, and a signal dressed as the daemon's: the bus
    must drop the replies (an error comes back to us for each) and the victim must
    not take the signal for the daemon's."""
    errors = []

    def handler(message: Message) -> None:
        if message.message_type is MessageType.ERROR:
            errors.append(message.error_name)

    bus.add_message_handler(handler)
    for serial in serials:
        bus.send(Message(message_type=MessageType.METHOD_RETURN, destination=destination,
                         reply_serial=int(serial), signature="s", body=["spoofed"]))
    bus.send(Message.new_signal(
        "/org/solidice/Storage", "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
        "oa{sa{sv}}", ["/org/solidice/Storage/Lun/spoofed", {}]))
    # a round trip to the bus: everything sent before it has been routed
    await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                           interface="org.freedesktop.DBus", member="GetId"))
    await asyncio.sleep(0.5)
    return errors


async def main(mode: str, *args: str) -> None:
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        result = await {"calls": calls, "own": own, "spoof": spoof}[mode](
            bus, *args[:1], *([list(args[1:])] if mode == "spoof" else []))
    finally:
        bus.disconnect()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))

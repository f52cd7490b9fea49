# SPDX-License-Identifier: LGPL-2.1-or-later
"""A system bus client for the lab tests: calls the daemon and records its signals,
with dbus-fast in-process (no secret of a call ever reaches a command line)."""

import asyncio

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from lab.host import BUS_NAME

HOST = "/org/solidice/Storage/Host"
IFACE = "org.solidice.Storage."
ROOT = "/org/solidice/Storage"
ERROR = "org.solidice.Storage.Error."


class Bus:
    """A system bus connection that calls the daemon and records its signals."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.signals: list[Message] = []
        bus.add_message_handler(self._signal)

    def _signal(self, message: Message) -> None:
        if message.message_type == MessageType.SIGNAL:
            self.signals.append(message)

    @classmethod
    async def connect(cls) -> "Bus":
        bus = cls(await MessageBus(bus_type=BusType.SYSTEM).connect())
        await bus.call("/org/freedesktop/DBus", "AddMatch", "s",
                       ["type='signal',sender='org.solidice.Storage'"],
                       interface="org.freedesktop.DBus", destination="org.freedesktop.DBus")
        return bus

    async def call(self, path: str, member: str, signature: str, body: list,
                   interface: str = "", destination: str = BUS_NAME, timeout: float = 300):
        """The reply's body, or ("error", name, text)."""
        reply = await asyncio.wait_for(self.bus.call(Message(
            destination=destination, path=path, interface=interface or IFACE + "Host",
            member=member, signature=signature, body=body)), timeout)
        if reply.message_type == MessageType.ERROR:
            return ("error", reply.error_name, reply.body[0] if reply.body else "")
        return reply.body

    async def host(self, member: str, signature: str, *args, timeout: float = 300):
        return await self.call(HOST, member, signature, list(args), timeout=timeout)

    async def objects(self) -> dict:
        (managed,) = await self.call(ROOT, "GetManagedObjects", "", [],
                                     interface="org.freedesktop.DBus.ObjectManager")
        return {path: {iface: {k: v.value for k, v in props.items()}
                       for iface, props in ifaces.items()}
                for path, ifaces in managed.items()}

    async def close(self) -> None:
        self.bus.disconnect()
        await self.bus.wait_for_disconnect()

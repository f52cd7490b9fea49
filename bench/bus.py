# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bench's D-Bus calls: any service's methods with a bound, the bus driver,
and watches for a name's owner and for InterfacesAdded, timed as they arrive."""

import asyncio
import contextlib
import io
import statistics
import time

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from lab.host import LabError, Service

from .common import CALL_TIMEOUT


async def call(bus: MessageBus, destination: str, path: str, interface: str, member: str,
               signature: str = "", body: list | None = None,
               timeout: float = CALL_TIMEOUT) -> Message:
    """The reply, an error reply included: the caller decides what a failure means.
    asyncio.TimeoutError past `timeout`: the call "did not finish"."""
    return await asyncio.wait_for(bus.call(Message(
        destination=destination, path=path, interface=interface, member=member,
        signature=signature, body=body or [])), timeout)


def error_text(reply: Message) -> str | None:
    if reply.message_type != MessageType.ERROR:
        return None
    return f"{reply.error_name}: {reply.body[0] if reply.body else ''}"


async def bus_driver(bus: MessageBus, member: str, signature: str, body: list) -> Message:
    reply = await call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                       "org.freedesktop.DBus", member, signature, body)
    if error_text(reply):
        raise LabError(f"{member} failed: {error_text(reply)}")
    return reply


async def get_property(bus: MessageBus, name: str, path: str, interface: str,
                       prop_name: str) -> Message:
    return await call(bus, name, path, "org.freedesktop.DBus.Properties", "Get", "ss",
                      [interface, prop_name])


class NameWatch:
    """The moment a bus name gets an owner, from the bus's own NameOwnerChanged.
    Polling `busctl` (labhost.name_owner) would start a process every 0.2 s: under
    TCG that takes CPU from the daemon being timed, and blurs the figure as much."""

    def __init__(self, bus: MessageBus, name: str) -> None:
        self.bus, self.name = bus, name
        self.owned = asyncio.Event()
        self.owned_at = 0.0
        self.rule = ("type='signal',sender='org.freedesktop.DBus',"
                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                     f"arg0='{name}'")

    async def __aenter__(self) -> "NameWatch":
        self.bus.add_message_handler(self._on_message)
        await bus_driver(self.bus, "AddMatch", "s", [self.rule])
        if (await bus_driver(self.bus, "NameHasOwner", "s", [self.name])).body[0]:
            raise LabError(f"{self.name} has an owner already")
        return self

    async def __aexit__(self, *exc) -> None:
        self.bus.remove_message_handler(self._on_message)
        await call(self.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                   "org.freedesktop.DBus", "RemoveMatch", "s", [self.rule])

    def _on_message(self, message: Message) -> None:
        if (message.message_type == MessageType.SIGNAL
                and message.member == "NameOwnerChanged"
                and message.body[0] == self.name and message.body[2]
                and not self.owned.is_set()):
            self.owned_at = time.perf_counter()
            self.owned.set()

    async def wait(self, service: Service, deadline: float) -> float:
        """perf_counter() when the name got its owner; fails if the process exits."""
        while not self.owned.is_set():
            if not service.alive():
                raise LabError(f"{service.name} exited {service.proc.returncode} before "
                               f"taking {self.name}; see {service.log_path}")
            if time.perf_counter() > deadline:
                raise LabError(f"{service.name} did not take {self.name} in time")
            try:
                await asyncio.wait_for(self.owned.wait(), 0.1)
            except asyncio.TimeoutError:
                pass
        return self.owned_at


class AddedWatch:
    """Every InterfacesAdded on the bus, with the time it arrived: the LVs a service
    shows, by LV name, as `daemon.added_lv_name` reads them from the signal."""

    RULE = ("type='signal',interface='org.freedesktop.DBus.ObjectManager',"
            "member='InterfacesAdded'")

    def __init__(self, bus: MessageBus, daemon) -> None:
        self.bus, self.daemon = bus, daemon
        self.seen: dict[str, float] = {}          # LV name → first InterfacesAdded
        self.changed = asyncio.Event()

    async def __aenter__(self) -> "AddedWatch":
        self.bus.add_message_handler(self._on_message)
        await bus_driver(self.bus, "AddMatch", "s", [self.RULE])
        return self

    async def __aexit__(self, *exc) -> None:
        self.bus.remove_message_handler(self._on_message)
        with contextlib.suppress(Exception):
            await call(self.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                       "org.freedesktop.DBus", "RemoveMatch", "s", [self.RULE])

    def _on_message(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL or message.member != "InterfacesAdded":
            return
        name = self.daemon.added_lv_name(message.body[1])
        if name is not None and name not in self.seen:
            self.seen[name] = time.perf_counter()
            self.changed.set()

    async def wait_for(self, test, deadline: float, service: Service | None = None):
        """Until test(self.seen) holds; False at `deadline` (or if `service` exits)."""
        while not test(self.seen):
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or (service is not None and not service.alive()):
                return False
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))
        return True


def reply_bytes(reply: Message) -> bytes:
    """The reply as dbus-fast marshals it: header and body, the size that crossed the
    socket to within a few bytes of header padding."""
    return bytes(reply._marshall(False))


def decode_seconds(wire: bytes) -> float | None:
    """Seconds dbus-fast takes to unmarshal this reply: the client's share of a GMO
    time (the anchor's client kept GVariants unparsed). Private API: None if gone."""
    try:
        from dbus_fast._private.unmarshaller import Unmarshaller
    except ImportError:
        return None
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        Unmarshaller(io.BytesIO(wire), negotiate_unix_fd=False).unmarshall()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)

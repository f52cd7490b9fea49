# SPDX-License-Identifier: LGPL-2.1-or-later
"""The connection to org.solidice.Storage: connecting (again, after the bus was
lost, for `watch(resume=True)`), sending calls with their timeouts, turning D-Bus
errors into the client's exceptions, and following jobs through the signals
subscribed to at connect (`signals.py`), which also keep the client's copy of the
service's tree current (`mirror.py`).

The client subscribes to the service's signals once, at connect, so a job it starts
can't complete unseen before it starts following it.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import AuthError, InvalidAddressError, SignatureBodyMismatchError
from dbus_fast.signature import get_signature_tree

from .. import objpath
from .convert import INTERFACE
from .errors import (InvalidArgumentError, JobFailedError, NoReplyError, NotFoundError,
                     ServiceUnavailableError, StorageClientError, from_dbus)
from .signals import BUS, BUS_PATH, CONNECTION_LOST, OWNER_CHANGED, SERVICE, Signals

OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"

READ_TIMEOUT = 30.0
"""Seconds a read may take by default: the service answers reads from memory."""
CHANGE_TIMEOUT = 300.0
"""Seconds a change may take by default: polkit may wait up to 120 s for a password,
then LVM, a login or a mount runs."""
TIMEOUT_MARGIN = 30.0
"""Seconds beyond a call's own `timeout` option, so the service's `TimedOutError`
reaches the caller before the client gives up waiting."""


class Transport:
    """One bus connection to the service. `session=True` uses the session bus,
    `address` any bus; calls wait `read_timeout` or `change_timeout` seconds
    unless given their own."""

    def __init__(self, *, session: bool = False, address: str | None = None,
                 read_timeout: float = READ_TIMEOUT,
                 change_timeout: float = CHANGE_TIMEOUT) -> None:
        self.session = session
        self.address = address
        self.read_timeout = read_timeout
        self.change_timeout = change_timeout
        self.signals = Signals()
        from .mirror import Mirror      # it makes handles, whose module names this one
        self.mirror = Mirror(self)
        self.signals.attach(self.mirror)
        self._bus: MessageBus | None = None
        self._lost = False               # the connection ended without close()
        self._watcher: asyncio.Task | None = None
        self._reconnecting: asyncio.Future | None = None

    @property
    def unique_name(self) -> str | None:
        """This connection's unique name on the bus; None when not connected."""
        return self._bus.unique_name if self._bus is not None else None

    @property
    def connected(self) -> bool:
        """Connected to the bus now (opened, not closed, not lost)."""
        return self._bus is not None and not self._lost

    async def open(self) -> None:
        """Connected to the bus, subscribed to the service's signals, and (if the
        service runs) its tree read into `mirror`, on return.
        ServiceUnavailableError when the bus cannot be reached."""
        if self.address:
            bus, where = MessageBus(bus_address=self.address), self.address
        else:
            bus_type = BusType.SESSION if self.session else BusType.SYSTEM
            bus, where = MessageBus(bus_type=bus_type), f"the {bus_type.name.lower()} bus"
        try:
            await bus.connect()
        except (OSError, EOFError, AuthError, InvalidAddressError, ValueError) as error:
            raise ServiceUnavailableError(
                f"cannot reach {where} ({error}); is D-Bus running?") from error
        self._bus, self._lost = bus, False
        bus.add_message_handler(self.signals.on_message)
        self._watcher = asyncio.ensure_future(self._notice_loss(bus))
        for rule in (f"type='signal',sender='{SERVICE}',path_namespace='{objpath.ROOT}'",
                     f"type='signal',sender='{BUS}',path='{BUS_PATH}',interface='{BUS}',"
                     f"member='NameOwnerChanged',arg0='{SERVICE}'"):
            await self.raw_call(BUS, BUS_PATH, BUS, "AddMatch", "s", [rule],
                                self.read_timeout)
        # Its reply is taken by the signal filter, in order among the
        # NameOwnerChanged signals: the owner's changes from then on come after it.
        query = self.message(BUS, BUS_PATH, BUS, "GetNameOwner", "s", [SERVICE])
        self.signals.expect_owner_reply(query.serial)
        with contextlib.suppress(StorageClientError):    # not running: no owner
            await self.send(query, self.read_timeout)
        await self.mirror.settled(self.read_timeout)    # its tree asked for on the reply

    async def _notice_loss(self, bus: MessageBus) -> None:
        """Tell the subscribers when `bus` ends without close()."""
        with contextlib.suppress(Exception):
            await bus.wait_for_disconnect()
        if bus is self._bus:
            self._lost = True
            self.signals.connection_lost()

    async def reconnect(self, longest_wait: float = 2.0) -> None:
        """Connected again on return, trying every so often (at most every
        `longest_wait` s) until the bus can be reached; shared by all callers."""
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.ensure_future(self._reconnect(longest_wait))
        await asyncio.shield(self._reconnecting)

    async def _reconnect(self, longest_wait: float) -> None:
        wait = 0.05
        while not self.connected:
            old, self._bus = self._bus, None
            if old is not None:
                with contextlib.suppress(Exception):    # it is gone already
                    old.disconnect()
            try:
                await self.open()
            except ServiceUnavailableError:
                await asyncio.sleep(wait)
                wait = min(wait * 2, longest_wait)

    async def close(self) -> None:
        """Disconnected on return; the transport can't be used afterwards."""
        bus, self._bus = self._bus, None
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if bus is not None:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await bus.wait_for_disconnect()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def message(self, destination: str, path: str, interface: str, member: str,
                signature: str = "", body: list | None = None) -> Message:
        """A method call with its serial already taken, so that its reply can be
        told apart among the signals before it is sent."""
        message = Message(destination=destination, path=path, interface=interface,
                          member=member, signature=signature, body=body or [])
        message.serial = self._connected().next_serial()
        return message

    def long(self, call_timeout: float | None, option_timeout: int | None) -> float | None:
        """The call timeout for a call bounded by its own `timeout` option."""
        if call_timeout is not None or option_timeout is None:
            return call_timeout
        return max(self.change_timeout, option_timeout + TIMEOUT_MARGIN)

    async def call(self, path: str, interface: str, member: str, signature: str,
                   *args: Any, call_timeout: float | None = None,
                   change: bool = True) -> Any:
        """Call a method of the service; its one return value (None if none)."""
        if call_timeout is None:
            call_timeout = self.change_timeout if change else self.read_timeout
        body = await self.raw_call(SERVICE, path, INTERFACE + interface, member,
                                   signature, list(args), call_timeout)
        return body[0] if body else None

    async def raw_call(self, destination: str, path: str, interface: str, member: str,
                       signature: str, body: list, call_timeout: float) -> list:
        """Call any method on the bus; the reply's body."""
        message = Message(destination=destination, path=path, interface=interface,
                          member=member, signature=signature, body=body)
        return (await self.send(message, call_timeout)).body

    async def send(self, message: Message, call_timeout: float) -> Message:
        """The reply to `message`; its error as the client's exception."""
        bus = self._connected()
        try:
            # Checked before the library takes the call: it would register the
            # reply's future first, and leave it failing unretrieved at disconnect.
            get_signature_tree(message.signature).verify(message.body)
        except (SignatureBodyMismatchError, ValueError, TypeError) as error:
            raise InvalidArgumentError(f"{message.member}: {error}") from None
        if isinstance(call_timeout, bool) or not isinstance(call_timeout, (int, float)) \
                or not call_timeout > 0:
            raise InvalidArgumentError("call_timeout must be a number of seconds > 0, "
                                       f"not {call_timeout!r}")
        try:
            reply = await asyncio.wait_for(bus.call(message), call_timeout)
        except asyncio.TimeoutError:
            raise NoReplyError(f"the storage service did not answer {message.member} "
                               f"within {call_timeout:g} s; pass a longer call_timeout "
                               "or check the service's log") from None
        except DBusError as error:
            raise from_dbus(error.type, error.text) from None
        except (OSError, EOFError) as error:
            raise ServiceUnavailableError(f"lost the connection to the bus ({error})") \
                from error
        if reply.message_type is MessageType.ERROR:
            raise from_dbus(reply.error_name, reply.body[0] if reply.body else "")
        return reply

    async def get_all(self, path: str, kind: str,
                      call_timeout: float | None = None) -> dict[str, Variant]:
        """The properties of object `path` of `kind`."""
        body = await self.raw_call(SERVICE, path, PROPERTIES, "GetAll", "s",
                                   [INTERFACE + kind], call_timeout or self.read_timeout)
        return body[0]

    async def managed_objects(self, call_timeout: float | None = None) -> dict:
        """GetManagedObjects' answer: path → interface → properties."""
        body = await self.raw_call(SERVICE, objpath.ROOT, OBJECT_MANAGER,
                                   "GetManagedObjects", "", [],
                                   call_timeout or self.read_timeout)
        return body[0]

    @contextlib.asynccontextmanager
    async def follow_job(self, path: str) -> AsyncIterator[AsyncIterator[float]]:
        """An iterator over the progress of the job at `path` (see `Job.follow`)."""
        with self.signals.subscribe() as queue:
            yield self._job_progress(path, queue)

    async def _job_progress(self, path: str, queue: asyncio.Queue) -> AsyncIterator[float]:
        try:
            progress = float((await self.get_all(path, "Job"))["Progress"].value)
        except NotFoundError:
            # Gone: completed (its outcome was recorded, the signals being subscribed
            # to since connect), or never known to this connection.
            if self.signals.outcome(path) is None:
                raise NotFoundError(f"job {path} is not running") from None
        else:
            yield progress
        while self.signals.outcome(path) is None:
            message = await queue.get()
            if message is OWNER_CHANGED or message is CONNECTION_LOST:
                raise ServiceUnavailableError(
                    f"the storage service stopped while job {path} ran; its outcome is "
                    "unknown: look at the objects it worked on")
            if (isinstance(message, Message) and message.path == path
                    and message.member == "PropertiesChanged"
                    and "Progress" in message.body[1]):
                yield float(message.body[1]["Progress"].value)
        success, text = self.signals.outcome(path)
        if not success:
            raise JobFailedError(text or f"job {path} failed")

    def _connected(self) -> MessageBus:
        if self._lost:
            raise ServiceUnavailableError("lost the connection to the bus: is D-Bus "
                                          "running? (the client connects again in "
                                          "watch(resume=True), or connect anew)")
        if self._bus is None:
            raise ServiceUnavailableError("the client is not connected: use "
                                          "`async with StorageClient.connect()`")
        return self._bus

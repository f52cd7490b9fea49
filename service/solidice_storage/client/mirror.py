# SPDX-License-Identifier: LGPL-2.1-or-later
"""The service's object tree as this connection knows it, kept current: one
GetManagedObjects, then the service's InterfacesAdded, InterfacesRemoved and
PropertiesChanged applied in the order they arrive, as GLib's object manager
client does. Handles read their state here, so `vg.free_size` is the service's
now; `watch()` takes its events from here.

When the service's owner goes (or the connection), the tree stops following and
its watchers get ServiceLost; when an owner comes, a new GetManagedObjects is sent,
and its answer, taken in order among the signals, replaces the tree: the watchers
get ServiceBack, then what differs between the tree they had and the new one, as
the same events as live changes, so that nothing is missed.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from dbus_fast import Message, MessageType, Variant

from .. import models, objpath
from . import events
from .convert import INTERFACE, model
from .errors import StorageClientError
from .signals import CONNECTION_LOST, OWNER_CHANGED, SERVICE
from .changes import apply, differences, events_of

log = logging.getLogger(__name__)

DISCONNECTED = object()
"""Queued to the watchers when the connection to the bus is lost (after their
ServiceLost): only a new connection can bring the service back."""
QUERY_TRIES = 5
"""GetManagedObjects calls to a new owner before waiting for the next one."""

Tree = dict[str, dict[str, dict[str, Variant]]]


class Mirror:
    """The tree (path → interface → properties), its models, and its watchers'
    queues. `put_nowait` takes every message the signal filter passes, in order."""

    def __init__(self, transport) -> None:
        self._transport = transport
        self.tree: Tree = {}
        self.live = False                 # the tree follows the service now
        self._models: dict[str, models.Model] = {}
        self._watchers: list[asyncio.Queue] = []
        self._query = 0                   # the serial of our pending GetManagedObjects
        self._settled: asyncio.Event | None = None

    def model(self, path: str, kind: str) -> models.Model | None:
        """The model of object `path` now; None if the tree does not follow the
        service now or the object is not on the bus."""
        if not self.live:
            return None
        found = self._models.get(path)
        if found is None:
            properties = self.tree.get(path, {}).get(INTERFACE + kind)
            if properties is None:
                return None
            found = self._models[path] = model(kind, path, properties)
        return found

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue]:
        """A queue of the events (and DISCONNECTED) from now until the block ends."""
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers.append(queue)
        try:
            yield queue
        finally:
            self._watchers.remove(queue)

    async def settled(self, timeout: float) -> None:
        """Return when no GetManagedObjects is pending (or after `timeout` s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._query and self._settled is not None and loop.time() < deadline:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._settled.wait(), deadline - loop.time())

    def put_nowait(self, message: object) -> None:
        """Take one message of the filter (a signal, a reply, or a marker)."""
        if message is OWNER_CHANGED or message is CONNECTION_LOST:
            self._lost(message is CONNECTION_LOST)
            if message is OWNER_CHANGED and self._transport.signals.owner is not None:
                self._ask(QUERY_TRIES)
        elif isinstance(message, Message):
            if self._query and message.reply_serial == self._query:
                self._answered(message.body[0])
            elif self.live and message.message_type is MessageType.SIGNAL:
                self._follow(message)

    def _follow(self, signal: Message) -> None:
        self._models.pop(signal.body[0] if signal.member.startswith("Interfaces")
                         else signal.path, None)
        if self._watchers:
            self._publish(events_of(self._transport, self.tree, signal))
        else:
            apply(self.tree, signal)

    def _lost(self, disconnected: bool) -> None:
        self._query = 0                   # an answer from a gone owner is stale
        if self._settled is not None:
            self._settled.set()
        if self.live:
            self.live = False
            self._publish([events.ServiceLost(
                "the connection to the bus was lost" if disconnected
                else "the storage service stopped or was restarted")])
        if disconnected:
            self._publish([DISCONNECTED])

    def _ask(self, tries: int) -> None:
        """Send GetManagedObjects; its answer is taken in order by put_nowait."""
        try:
            query = self._transport.message(SERVICE, objpath.ROOT,
                                            "org.freedesktop.DBus.ObjectManager",
                                            "GetManagedObjects")
        except StorageClientError:
            return                        # not connected: a reconnect asks again
        self._query = query.serial
        if self._settled is None or self._settled.is_set():
            self._settled = asyncio.Event()
        asyncio.ensure_future(self._send(query, tries))

    async def _send(self, query: Message, tries: int) -> None:
        try:
            await self._transport.send(query, self._transport.read_timeout)
        except Exception as error:        # noqa: BLE001 - a task no one awaits
            if self._query != query.serial:
                return                    # the owner changed meanwhile: asked anew
            log.debug("GetManagedObjects failed: %s", error)
            if tries > 1 and self._transport.signals.owner is not None:
                await asyncio.sleep(0.5)
                if self._query == query.serial:
                    self._ask(tries - 1)
            elif self._settled is not None:
                self._query = 0
                self._settled.set()

    def _answered(self, answer: dict) -> None:
        new: Tree = {path: dict(ifaces) for path, ifaces in answer.items()}
        changes = differences(self._transport, self.tree, new) if self._watchers else []
        self.tree, self._models, self._query, self.live = new, {}, 0, True
        if self._settled is not None:
            self._settled.set()
        self._publish([events.ServiceBack(self._transport.signals.owner or ""), *changes])

    def _publish(self, items: list) -> None:
        for queue in self._watchers:
            for item in items:
                queue.put_nowait(item)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Which signals a client takes, and what it remembers of them: only those the
service's current owner broadcast, handed to every subscriber in order.

Any local user may send a signal with our path and interface, and the bus delivers
one addressed to us whatever our match rules say; a forged `Job.Completed` must not
end a data move the client is waiting on. So signals are taken only when broadcast
(not unicast to this client) by the unique name that owns org.solidice.Storage now,
followed through the bus's NameOwnerChanged. What is remembered of jobs is
forgotten when the owner changes (a restarted service starts new jobs) and when a
new job object appears at a path.
"""

import asyncio
import collections
import contextlib
from collections.abc import Iterator

from dbus_fast import Message, MessageType

from .. import objpath
from .convert import INTERFACE

SERVICE = "org.solidice.Storage"
BUS = "org.freedesktop.DBus"
BUS_PATH = "/org/freedesktop/DBus"
OWNER_CHANGED = object()
"""Queued to the subscriptions when the service's owner changes (or goes)."""
CONNECTION_LOST = object()
"""Queued to the subscriptions when the connection to the bus is lost."""
REMEMBERED_JOBS = 256
"""Outcomes of completed jobs kept for a follower that comes late."""


class Signals:
    """The filter between the connection and its subscribers: `on_message` runs for
    every message the connection receives; `subscribe()` hands out queues."""

    def __init__(self) -> None:
        self._queues: list = []
        # Outcomes of recently completed jobs, by path, for a follower that comes late.
        self._completed: collections.OrderedDict[str, tuple[bool, str]] = \
            collections.OrderedDict()
        self._owner: str | None = None       # the service's unique name, if running
        self._owner_query = 0                # the serial of our GetNameOwner call

    @property
    def owner(self) -> str | None:
        """The unique name that owns org.solidice.Storage now, if known."""
        return self._owner

    def outcome(self, path: str) -> tuple[bool, str] | None:
        """(success, message) of the job at `path` if it completed under the
        current owner (and is still remembered); None otherwise."""
        return self._completed.get(path)

    def expect_owner_reply(self, serial: int) -> None:
        """The reply to call `serial` (a GetNameOwner) will say who owns the name."""
        self._owner_query = serial

    def attach(self, queue) -> None:
        """`queue` (any object with `put_nowait`) receives what a subscription does,
        for as long as the connection lives."""
        self._queues.append(queue)

    def connection_lost(self) -> None:
        """The connection is gone: so is what it knew of the owner and its jobs."""
        self._owner, self._owner_query = None, 0
        self._completed.clear()
        for queue in self._queues:
            queue.put_nowait(CONNECTION_LOST)

    @contextlib.contextmanager
    def subscribe(self, queue=None) -> Iterator[asyncio.Queue]:
        """A queue that receives every message taken (and OWNER_CHANGED) from now
        until the block ends; `queue` may be any object with `put_nowait`."""
        queue = asyncio.Queue() if queue is None else queue
        self._queues.append(queue)
        try:
            yield queue
        finally:
            self._queues.remove(queue)

    def on_message(self, message: Message) -> None:
        """Runs for every message the connection receives, in order. Replies go to
        the queues too, so that a watcher knows where its snapshot falls among the
        signals (it compares them by identity); signals only if the service sent
        them to everyone."""
        kind = message.message_type
        if kind is not MessageType.SIGNAL:
            if self._owner_query and message.reply_serial == self._owner_query:
                self._owner_query = 0
                self._owner_is(message.body[0] if kind is MessageType.METHOD_RETURN
                               and message.body else None)
            if kind is not MessageType.METHOD_RETURN:
                return
        elif _is_owner_change(message):
            self._owner_is(message.body[2] or None)
            return
        elif not self._from_service(message):
            return
        else:
            self._remember(message)
        for queue in self._queues:
            queue.put_nowait(message)

    def _remember(self, message: Message) -> None:
        if message.member == "Completed" and message.interface == INTERFACE + "Job":
            self._completed[message.path] = (message.body[0], message.body[1])
            while len(self._completed) > REMEMBERED_JOBS:
                self._completed.popitem(last=False)
        elif message.member == "InterfacesAdded" and message.path == objpath.ROOT:
            self._completed.pop(message.body[0], None)     # a new object there

    def _from_service(self, message: Message) -> bool:
        """A signal the service broadcast from one of its paths."""
        path = message.path or ""
        return (self._owner is not None and message.sender == self._owner
                and not message.destination
                and (path == objpath.ROOT or path.startswith(objpath.ROOT + "/")))

    def _owner_is(self, owner: str | None) -> None:
        if owner == self._owner:
            return
        self._owner = owner
        self._completed.clear()        # its jobs are not the new owner's
        for queue in self._queues:
            queue.put_nowait(OWNER_CHANGED)


def _is_owner_change(message: Message) -> bool:
    """The bus's own NameOwnerChanged for org.solidice.Storage."""
    return (message.sender == BUS and message.member == "NameOwnerChanged"
            and message.path == BUS_PATH and message.body[0] == SERVICE)

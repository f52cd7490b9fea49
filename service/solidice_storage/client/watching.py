"""`StorageClient.watch()`: the object tree's changes as typed events, from a
snapshot taken in order among the signals, so that nothing is missed or doubled."""

import asyncio
from collections.abc import AsyncIterator

from dbus_fast import Message

from .. import objpath
from . import convert, events
from .errors import ServiceUnavailableError
from .objects import handle
from .signals import OWNER_CHANGED, SERVICE
from .transport import OBJECT_MANAGER, Transport


async def watch(transport: Transport, ready: asyncio.Event | None = None
                ) -> AsyncIterator[events.Event]:
    """See `StorageClient.watch`."""
    with transport.signals.subscribe() as queue:
        snapshot = transport.message(SERVICE, objpath.ROOT, OBJECT_MANAGER,
                                     "GetManagedObjects")
        reply = await transport.send(snapshot, transport.read_timeout)
        # Signals queued before the snapshot's reply are already in it.
        while (await queue.get()) is not reply:
            pass
        tree = {path: dict(ifaces) for path, ifaces in reply.body[0].items()}
        if ready is not None:
            ready.set()
        while True:
            message = await queue.get()
            if message is OWNER_CHANGED:
                raise ServiceUnavailableError(
                    "the storage service stopped or was restarted; what was "
                    "watched may be stale: watch again")
            if isinstance(message, Message):
                for event in events_of(transport, tree, message):
                    yield event


def events_of(transport: Transport, tree: dict, message: Message) -> list[events.Event]:
    """The events one signal means, applied to `tree` (path → interfaces →
    properties) so that the next ones compare with the current state."""
    member, body = message.member, message.body
    if member == "InterfacesAdded" and message.path == objpath.ROOT:
        path, ifaces = body
        tree[path] = dict(ifaces)
        added = handle(transport, path, ifaces)
        return [events.ObjectAdded(path, added)] if added else []
    if member == "InterfacesRemoved" and message.path == objpath.ROOT:
        path = body[0]
        last = handle(transport, path, tree.pop(path, {}))
        parsed = objpath.parse(path)
        return [events.ObjectRemoved(path, parsed[0], parsed[1], last)] if parsed else []
    if member == "Completed":
        success, text = body
        return [events.JobCompleted(message.path, int(convert.key_of(message.path)),
                                    success, text)]
    if member != "PropertiesChanged":
        return []
    return _changed(transport, tree, message)


def _changed(transport: Transport, tree: dict, message: Message) -> list[events.Event]:
    interface, changed, _ = message.body
    if message.path == objpath.HOST:
        return [events.HostChanged({convert.snake(k): convert._field_value("Host", k, v)
                                    for k, v in changed.items()})]
    ifaces = tree.get(message.path)
    if ifaces is None or interface not in ifaces:
        return []
    before = handle(transport, message.path, ifaces)
    ifaces[interface] = {**ifaces[interface], **changed}
    after = handle(transport, message.path, ifaces)
    fields = frozenset(name for name in type(after.state).model_fields
                       if getattr(after.state, name) != getattr(before.state, name))
    return [events.ObjectChanged(message.path, after, before.state, fields)] if fields else []

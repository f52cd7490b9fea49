# SPDX-License-Identifier: LGPL-2.1-or-later
"""`StorageClient.watch()`: the object tree's changes as typed events, taken from the
tree the client keeps (`mirror.py`), in order among the signals, so that nothing is
missed or doubled; across a restart of the service with `resume=True`."""

import asyncio
from collections.abc import AsyncIterator

from . import events
from .errors import ServiceUnavailableError
from .mirror import DISCONNECTED
from .transport import Transport

STALE = "what was watched may be stale: watch again (or watch(resume=True))"


async def watch(transport: Transport, ready: asyncio.Event | None = None,
                resume: bool = False) -> AsyncIterator[events.Event]:
    """See `StorageClient.watch`."""
    mirror = transport.mirror
    if not mirror.live:
        await mirror.settled(transport.read_timeout)     # an answer on its way
    with mirror.subscribe() as queue:
        if not mirror.live:
            if not resume:
                raise ServiceUnavailableError(
                    "the storage service (org.solidice.Storage) is not running: "
                    "start solidice-storaged")
            queue.put_nowait(events.ServiceLost("the storage service is not running"))
            if not transport.connected:
                queue.put_nowait(DISCONNECTED)
        if ready is not None:
            ready.set()
        while True:
            event = await queue.get()
            if event is DISCONNECTED:
                if not resume:
                    raise ServiceUnavailableError("the connection to the bus was lost; "
                                                  + STALE)
                await transport.reconnect()
            elif isinstance(event, events.ServiceLost) and not resume:
                raise ServiceUnavailableError(f"{event.reason}; {STALE}")
            else:
                yield event


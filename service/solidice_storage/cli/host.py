# SPDX-License-Identifier: LGPL-2.1-or-later
"""The host as a whole: `status`, `block-info`, `host rescan`, and `monitor` (the
tree's changes as they happen, told by `changes.py`)."""

import asyncio
import json
import signal
import sys

from ..client import ServiceUnavailableError, events
from .changes import describe
from .format import fields, plural
from .output import Output, call_options

# status's lines: the Host's fields as a person spells them.
_COUNTS = {"LUNs": "luns", "volume_groups": "volume_groups", "mounts": "mounts",
           "iSCSI_sessions": "iscsi_sessions"}

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def status(storage, args) -> Output:
    host = await storage.host()
    data = host.model_dump(mode="json")
    counts = {label: len(getattr(host, name)) for label, name in _COUNTS.items()}
    return Output(data, fields({"version": host.version, "multipath": host.multipath,
                                "iSCSI_initiator_name": host.iscsi_initiator_name or None,
                                **counts}))


async def block_info(storage, args) -> Output:
    found = await storage.get_block_info(args.name)
    return Output(found.model_dump(mode="json"), fields(found.model_dump()))


async def rescan(storage, args) -> Output:
    before = {lun.object_path for lun in await storage.luns()}
    await storage.rescan(**call_options(args))
    new = sorted(lun.wwid for lun in await storage.luns() if lun.object_path not in before)
    return Output({"new_luns": new}, f"rescanned: {plural(len(new), 'new LUN')}"
                                     + (f" ({', '.join(new)})" if new else ""))


async def monitor(storage, args) -> None:
    """Print each change until SIGINT or SIGTERM, then return (exit 0). The
    handlers are the monitor's own: a script's background job starts with SIGINT
    ignored, and a monitor must still stop when told."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    printing = asyncio.ensure_future(_print_changes(storage, args))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({printing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (printing, stopping):
            task.cancel()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    if not stop.is_set():
        printing.result()                   # the watch's end: the service went away


async def _print_changes(storage, args) -> None:
    ready = asyncio.Event()
    announce = asyncio.ensure_future(_announce(ready))
    try:
        async for event in storage.watch(ready, resume=True):
            data, text = describe(event)
            print(json.dumps(data) if args.json else text, flush=True)
            if args.exit_on_loss and isinstance(event, events.ServiceLost):
                raise ServiceUnavailableError("the storage service stopped")
    finally:
        announce.cancel()


async def _announce(ready: asyncio.Event) -> None:
    """Once every later change will be printed: a caller may start changing."""
    await ready.wait()
    print("watching org.solidice.Storage; Ctrl-C to stop", file=sys.stderr, flush=True)

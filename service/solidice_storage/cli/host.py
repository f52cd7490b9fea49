"""The host as a whole: `status`, `block-info`, `host rescan`, and `monitor` (the
tree's changes as they happen, told by `changes.py`)."""

import json
import sys

from .changes import describe
from .format import fields, plural
from .output import Output, call_options

# status's lines: the Host's fields as a person spells them.
_COUNTS = {"LUNs": "luns", "volume_groups": "volume_groups", "mounts": "mounts",
           "iSCSI_sessions": "iscsi_sessions"}


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
    print("watching org.solidice.Storage; Ctrl-C to stop", file=sys.stderr, flush=True)
    async for event in storage.watch():
        data, text = describe(event)
        print(json.dumps(data) if args.json else text, flush=True)

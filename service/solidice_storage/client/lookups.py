# SPDX-License-Identifier: LGPL-2.1-or-later
"""Finding one object of the service by any of its names: read the tree once, match
the names the models carry, and ask the service's own resolver for the spellings
only it knows (naa.…, 0x…, /dev/mapper/…)."""

import contextlib
from collections.abc import Callable, Iterable

from .. import models, objpath
from . import convert
from .errors import InvalidArgumentError, NotFoundError
from .objects import IscsiSession, StorageObject, managed_objects
from .transport import Transport

Names = Callable[[models.Model], Iterable[str]]
"""The names a model answers to (`lambda vg: (vg.name, vg.uuid)`)."""

# Kinds whose names the service's resolver knows in more spellings than the model's.
_RESOLVED = ("Lun", "LogicalVolume", "PhysicalVolume")


async def block_info(transport: Transport, name_or_uuid: str, *,
                     call_timeout: float | None = None) -> models.BlockInfo:
    """What the service's resolver says `name_or_uuid` is."""
    info = await transport.call(objpath.HOST, "Host", "GetBlockInfo", "sa{sv}",
                                name_or_uuid, {}, call_timeout=call_timeout, change=False)
    return convert.block_info(info)


async def find(transport: Transport, kind: str, what: str, ref: str, names: Names,
               tree: dict[str, StorageObject] | None = None) -> StorageObject:
    """The one object of `kind` that `ref` names (its object path or one of
    `names`); NotFoundError if none, InvalidArgumentError if several. `what` names
    the kind in the message; `tree` is the object tree if already read."""
    tree = tree if tree is not None else await managed_objects(transport)
    candidates = [h for h in tree.values() if h.KIND == kind]
    found = [h for h in candidates if h.object_path == ref or ref in names(h.state)]
    if not found and kind in _RESOLVED and not ref.startswith("/org/"):
        with contextlib.suppress(NotFoundError, InvalidArgumentError):
            uuid = (await block_info(transport, ref)).uuid
            found = [h for h in candidates if uuid in names(h.state)]
    if not found:
        raise NotFoundError(f"there is no {what} {ref}")
    if len(found) > 1:
        raise InvalidArgumentError(f"{ref} names several: "
                                   f"{', '.join(h.object_path for h in found)}")
    return found[0]


async def find_logical_volume(transport: Transport, ref: str) -> StorageObject:
    """The LV named `vg/lv`, by UUID, /dev path or object path."""
    tree = await managed_objects(transport)
    vg_names = {h.state.uuid: h.state.name for h in tree.values()
                if h.KIND == "VolumeGroup"}
    return await find(transport, "LogicalVolume", "logical volume", ref, lambda m: (
        m.uuid, m.path, f"{vg_names.get(m.volume_group)}/{m.name}"), tree)


def pick_session(sessions: list[IscsiSession], target: str,
                 portal: str | None) -> IscsiSession:
    """The one of `sessions` to `target` (through `portal`, needed if several)."""
    found = [s for s in sessions if s.state.target == target
             and (portal is None or s.state.portal in (portal, f"{portal}:3260"))]
    if not found:
        raise NotFoundError(f"no iSCSI session to {target}"
                            + (f" through {portal}" if portal else ""))
    if len(found) > 1:
        raise InvalidArgumentError(f"{target} has sessions through several portals "
                                   f"({', '.join(s.portal for s in found)}); "
                                   "name the portal")
    return found[0]

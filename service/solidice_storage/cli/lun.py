# SPDX-License-Identifier: LGPL-2.1-or-later
"""`lun`: the host's LUNs (multipath maps, never their paths)."""

from .format import human_size
from .output import Output, Tree, info, listing


async def lun_list(storage, args) -> Output:
    return listing(await storage.luns(),
                   ["WWID", "DEVICE", "SIZE", "TRANSPORT", "PATHS", "STATUS"],
                   lambda lun: [lun.wwid, lun.device, human_size(lun.size),
                                lun.state.transport,  # lun.transport is the bus's
                                len(lun.paths) if lun.multipath else "-", lun.status])


async def lun_info(storage, args) -> Output:
    tree = await Tree.read(storage)
    lun = await storage.lun(args.lun)
    return info(lun, names={"physical_volume": tree.pv_named(lun.physical_volume)})

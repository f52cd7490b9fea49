# SPDX-License-Identifier: LGPL-2.1-or-later
"""`pv`: physical volumes, and taking one out of its VG."""

from .format import human_size
from .output import Output, Tree, call_options, done, follow_job, info, listing


async def pv_list(storage, args) -> Output:
    tree = await Tree.read(storage)
    pvs = await tree.in_vg(storage, "PhysicalVolume", args.vg)
    return listing(pvs, ["DEVICE", "VG", "SIZE", "FREE", "UUID"],
                   lambda pv: [pv.device, tree.vg_names.get(pv.volume_group, "-"),
                               human_size(pv.size), human_size(pv.free_size), pv.uuid])


async def pv_info(storage, args) -> Output:
    tree = await Tree.read(storage)
    pv = await storage.physical_volume(args.pv)
    return info(pv, names={"volume_group": tree.vg_names.get(pv.volume_group,
                                                             pv.volume_group)})


async def pv_remove(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    job = await vg.remove_physical_volume(args.pv, move_data=args.move_data or None,
                                          **call_options(args))
    if job is not None:
        await follow_job(job, "pv-move")
    return done(None, f"removed {args.pv} from {vg.name}")

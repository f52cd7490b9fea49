# SPDX-License-Identifier: LGPL-2.1-or-later
"""`lv`: logical volumes and snapshots."""

from .format import human_size
from .output import Output, Tree, call_options, done, info, listing, with_progress


async def lv_list(storage, args) -> Output:
    tree = await Tree.read(storage)
    lvs = await tree.in_vg(storage, "LogicalVolume", args.vg)
    return listing(lvs, ["VG", "NAME", "SIZE", "ACTIVE", "ATTR"],
                   lambda lv: [tree.vg_names.get(lv.volume_group, "?"), lv.name,
                               human_size(lv.size), "yes" if lv.active else "no",
                               lv.attributes])


async def lv_info(storage, args) -> Output:
    tree = await Tree.read(storage)
    lv = await storage.logical_volume(args.lv)
    return info(lv, names={"volume_group": tree.vg_names.get(lv.volume_group,
                                                             lv.volume_group),
                           "origin": tree.lv_named(lv.origin)})


async def lv_activate(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    await lv.activate(**call_options(args))
    return done(lv, f"activated {args.lv} ({lv.path})")


async def lv_deactivate(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    await lv.deactivate(**call_options(args))
    return done(lv, f"deactivated {args.lv}")


async def lv_create(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    lv = await vg.create_logical_volume(args.name, args.size,
                                        activate=False if args.inactive else None,
                                        **call_options(args))
    return done(lv, f"created {vg.name}/{lv.name} ({human_size(lv.size)}) at {lv.path}")


async def lv_extend(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    grow, to = args.size
    if to is not None:                  # a new total: add the difference, once
        if to <= lv.size:
            raise ValueError(f"{args.lv} is already {human_size(lv.size)}; "
                             f"write +SIZE to add to it")
        grow = to - lv.size
    await lv.extend(by=grow, expected_size=lv.size, **call_options(args))
    return done(lv, f"extended {args.lv} to {human_size(lv.size)}")


async def lv_remove(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    await lv.remove(force=args.force or None, **call_options(args))
    return done(None, f"removed {args.lv}")


async def lv_snapshot(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    snap = await with_progress(storage, "lv-snapshot", lv.snapshot(
        args.name, args.size, **call_options(args)))
    return done(snap, f"created snapshot {snap.name} of {args.lv} "
                      f"({human_size(snap.size)}) at {snap.path}")


async def lv_resize(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    # the size read here is the one resized: a change meanwhile refuses the call
    await lv.resize(to=args.size, shrink=args.shrink, expected_size=lv.size,
                    **call_options(args))
    return done(lv, f"resized {args.lv} to {human_size(lv.size)}")


async def lv_rename(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    await lv.rename(args.name, **call_options(args))
    return done(lv, f"renamed {args.lv} to {lv.name} ({lv.path})")

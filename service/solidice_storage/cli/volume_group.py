"""`vg`: volume groups."""

from .format import human_size
from .output import Output, call_options, done, info, listing


async def vg_list(storage, args) -> Output:
    return listing(await storage.volume_groups(),
                   ["NAME", "SIZE", "FREE", "PVS", "MANAGED"],
                   lambda vg: [vg.name, human_size(vg.size), human_size(vg.free_size),
                               len(vg.physical_volumes), "yes" if vg.managed else "no"])


async def vg_info(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    lvs = await vg.list_logical_volumes()
    return info(vg, logical_volumes=tuple(lv.name for lv in lvs))


async def vg_create(storage, args) -> Output:
    vg = await storage.create_volume_group(args.name, args.devices, wipe=args.wipe or None,
                                           extent_size=args.extent_size,
                                           **call_options(args))
    return done(vg, f"created volume group {vg.name} ({human_size(vg.size)} on "
                    f"{len(vg.physical_volumes)} devices)")


async def vg_remove(storage, args) -> Output:
    await storage.remove_volume_group(args.vg, force=args.force or None,
                                      **call_options(args))
    return done(None, f"removed volume group {args.vg}")


async def vg_extend(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    await vg.extend(args.devices, wipe=args.wipe or None, **call_options(args))
    await vg.refresh()
    return done(vg, f"extended {vg.name} to {human_size(vg.size)}")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""`vg`: volume groups."""

from .format import human_size, plural
from .output import Output, Tree, call_options, confirm, done, info, listing

REMOVE_HELP = (
    "A volume group that holds logical volumes goes with them, so the command asks\n"
    "first on a terminal; --yes removes them without asking. Where nobody can be\n"
    "asked (no terminal: a script, a pipe, cron; or --non-interactive) it refuses\n"
    "without --yes and exits 2, so that no data goes by accident. An empty volume\n"
    "group is removed without asking.")


async def vg_list(storage, args) -> Output:
    return listing(await storage.volume_groups(),
                   ["NAME", "SIZE", "FREE", "PVS", "MANAGED"],
                   lambda vg: [vg.name, human_size(vg.size), human_size(vg.free_size),
                               len(vg.physical_volumes), "yes" if vg.managed else "no"])


async def vg_info(storage, args) -> Output:
    tree = await Tree.read(storage)
    vg = await storage.volume_group(args.vg)
    lvs = await vg.list_logical_volumes()
    devices = sorted(tree.pvs[u].device if u in tree.pvs else u
                     for u in vg.physical_volumes)
    return info(vg, names={"physical_volumes": tuple(devices)},
                logical_volumes=tuple(sorted(lv.name for lv in lvs)))


async def vg_create(storage, args) -> Output:
    vg = await storage.create_volume_group(args.name, args.devices, wipe=args.wipe or None,
                                           extent_size=args.extent_size,
                                           **call_options(args))
    return done(vg, f"created volume group {vg.name} ({human_size(vg.size)} on "
                    f"{plural(len(vg.physical_volumes), 'device')})")


async def vg_remove(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    lvs = sorted(lv.name for lv in await vg.list_logical_volumes())
    # A VG the service did not create is refused without --force: no question then.
    if lvs and not args.yes and (vg.managed or args.force):
        await confirm(f"remove volume group {vg.name} and its "
                      f"{plural(len(lvs), 'logical volume')} ({', '.join(lvs)})?", args)
    await storage.remove_volume_group(vg.uuid, force=args.force or None,
                                      **call_options(args))
    return done(None, f"removed volume group {vg.name}")


async def vg_extend(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    await vg.extend(args.devices, wipe=args.wipe or None, **call_options(args))
    await vg.refresh()
    return done(vg, f"extended {vg.name} to {human_size(vg.size)}")


async def vg_rename(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    await vg.rename(args.name, **call_options(args))
    return done(vg, f"renamed volume group {args.vg} to {vg.name}")

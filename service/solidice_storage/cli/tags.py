# SPDX-License-Identifier: LGPL-2.1-or-later
"""`tag`: the LVM tags of volume groups, logical volumes and physical volumes."""

from .output import Output, call_options, done

# the kind a caller names → the client's lookup of one object of that kind
KINDS = {"vg": "volume_group", "lv": "logical_volume", "pv": "physical_volume"}
METHODS = tuple(f"{interface}.{member}"
                for interface in ("VolumeGroup", "LogicalVolume", "PhysicalVolume")
                for member in ("AddTags", "RemoveTags"))


async def _tagged(storage, args):
    return await getattr(storage, KINDS[args.kind])(args.name)


async def tag_add(storage, args) -> Output:
    handle = await _tagged(storage, args)
    await handle.add_tags(args.tags, **call_options(args))
    return done(handle, f"{args.kind} {args.name} has tags: {', '.join(handle.tags)}")


async def tag_remove(storage, args) -> Output:
    handle = await _tagged(storage, args)
    await handle.remove_tags(args.tags, **call_options(args))
    return done(handle, f"{args.kind} {args.name} has tags: "
                        f"{', '.join(handle.tags) or 'none'}")

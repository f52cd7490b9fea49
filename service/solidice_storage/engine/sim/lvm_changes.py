# SPDX-License-Identifier: LGPL-2.1-or-later
"""LVM on the simulated host, continued: an LV resized, an LV or a VG renamed, tags
on VGs, LVs and PVs; with the real engine's rules (engine/rules.py) and answers."""

import contextlib

from ...errors import AlreadyExists, Busy, NotFound
from ...models import LogicalVolume, Model, PhysicalVolume, VolumeGroup
from ...options import Options, ResizeLogicalVolumeOptions
from .. import resolve, rules
from ..protocol import MANAGED_TAG

_TAGGED = {cls.KIND: cls for cls in (VolumeGroup, LogicalVolume, PhysicalVolume)}


class SimLvmChanges:
    """Mixed into SimLvm: its store, allocation and per-VG locks."""

    def _release(self, lv_uuid: str, count: int) -> None:
        """`count` extents of LV `lv_uuid` given back, the last allocated first."""
        per_pv = self.alloc[lv_uuid]
        for pv_uuid in reversed(list(per_pv)):
            take = min(count, per_pv[pv_uuid])
            per_pv[pv_uuid] -= take
            count -= take
            if not per_pv[pv_uuid]:
                del per_pv[pv_uuid]
            if not count:
                return

    async def resize_logical_volume(self, lv: str, size: int,
                                    opts: ResizeLogicalVolumeOptions) -> None:
        found = resolve.logical_volume(self.store, lv)
        async with self._locked(found.volume_group) as vg:
            found = self._current(found)
            count = rules.resize_extents(found, size, vg.extent_size, opts)
            if count is None:
                return
            have = found.size // vg.extent_size
            if count < have and found.is_open:
                raise Busy(f"{found.path} is open; a shrink would cut what uses it")
            if count > have:
                self._allocate(vg, found.uuid, count - have)
            else:
                self._release(found.uuid, have - count)
            self.store.publish([found.model_copy(update={"size": count * vg.extent_size})])
            self._publish_vg(vg)

    async def rename_logical_volume(self, lv: str, name: str, opts: Options) -> None:
        found = resolve.logical_volume(self.store, lv)
        async with self._locked(found.volume_group) as vg:
            found = self._current(found)
            if found.name == name:
                return
            if any(other.name == name for other in self._lvs_of(vg)):
                raise AlreadyExists(f"{vg.name}/{name} exists")
            self.store.publish([found.model_copy(
                update={"name": name, "path": f"/dev/{vg.name}/{name}"})])

    async def rename_volume_group(self, vg: str, name: str, opts: Options) -> None:
        found = resolve.volume_group(self.store, vg)
        async with self._locked(found.uuid) as found:
            if found.name == name:
                return
            if any(other.name == name for other in self.store.all(VolumeGroup).values()):
                raise AlreadyExists(f"a volume group named {name} exists")
            self.store.publish([
                found.model_copy(update={"name": name}),
                *(lv.model_copy(update={"path": f"/dev/{name}/{lv.name}"})
                  for lv in self._lvs_of(found))])

    def _tagged(self, kind: str, key: str) -> Model:
        found = self.store.get(_TAGGED[kind], key)
        if found is None:
            raise NotFound(f"no {kind} {key}")
        return found

    async def add_tags(self, kind: str, key: str, tags: list[str], opts: Options) -> None:
        await self._change_tags(kind, key, tags, [])

    async def remove_tags(self, kind: str, key: str, tags: list[str],
                          opts: Options) -> None:
        await self._change_tags(kind, key, [], tags)

    async def _change_tags(self, kind: str, key: str, add: list[str],
                           remove: list[str]) -> None:
        found = self._tagged(kind, key)
        vg_uuid = found.uuid if kind == "VolumeGroup" else found.volume_group
        async with self._locked(vg_uuid) if vg_uuid else contextlib.nullcontext():
            found = self._tagged(kind, key)
            tags = tuple(sorted((set(found.tags) | set(add)) - set(remove)))
            if tags == found.tags:
                return
            update: dict = {"tags": tags}
            if kind == "VolumeGroup":
                update["managed"] = MANAGED_TAG in tags
            self.store.publish([found.model_copy(update=update)])

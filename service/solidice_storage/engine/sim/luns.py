# SPDX-License-Identifier: LGPL-2.1-or-later
"""The simulated array's LUNs and what the host has found of them; block info.

Changes on the array (`grow_lun`, `map_lun`, and those `seed` starts with) reach the
host only when it rescans. A LUN's paths are those of the sessions there are.
"""

from ... import validation
from ...errors import NotFound
from ...models import Lun, PhysicalVolume, VolumeGroup
from .. import resolve
from ..protocol import BlockInfo
from ..store import StateStore
from . import seed


class SimLuns:
    """The array (`targets`) and the LUNs of it in `store`."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.targets = seed.targets()

    def publish_target(self, target: str, portals: set[str]) -> tuple[str, ...]:
        """Republish the LUNs behind `target` as the host has found them through
        the sessions on `portals`; returns their WWIDs."""
        updates, removals = [], []
        for sim_lun in self.targets[target].luns:
            paths = tuple((device, "failed" if device in sim_lun.failed_paths else "active")
                          for p, device in sim_lun.path_devices.items() if p in portals)
            known = self.store.get(Lun, sim_lun.wwid)
            if not paths:
                removals.append(("Lun", sim_lun.wwid))
            elif known is not None:
                updates.append(known.model_copy(update={"paths": paths,
                                                        "size": sim_lun.size}))
            else:
                updates.append(Lun(
                    wwid=sim_lun.wwid, device=f"/dev/mapper/{sim_lun.wwid}",
                    size=sim_lun.size, vendor="LIO-ORG", model=sim_lun.model,
                    serial=sim_lun.serial, transport="iscsi", multipath=True,
                    paths=paths))
        self.store.publish(updates, removals)
        return tuple(lun.wwid for lun in self.targets[target].luns)

    def wwids(self, target: str) -> list[str]:
        """The LUNs the host has found behind `target`."""
        return [lun.wwid for lun in self.targets[target].luns]

    # ---- what changed on the array ----

    def grow_lun(self, wwid: str, size: int) -> None:
        """The array grows iSCSI LUN `wwid` to `size` bytes; the host sees it on a
        rescan. ValueError unless it is such a LUN and `size` is larger."""
        sim_lun = next((lun for t in self.targets.values() for lun in t.luns + t.unscanned
                        if lun.wwid == wwid), None)
        if sim_lun is None or size <= (sim_lun.grown_to or sim_lun.size):
            raise ValueError(f"the simulated array cannot grow {wwid} to {size} bytes")
        sim_lun.grown_to = size

    def map_lun(self, target: str, size: int) -> str:
        """The array maps a new LUN of `size` bytes on `target`; returns its WWID.
        The host finds it on a rescan when it has a session to `target`."""
        return seed.map_new_lun(self.targets, target, size).wwid

    def rescan_target(self, target: str) -> list[str]:
        """The host has found the LUNs newly mapped on `target` and the sizes the
        array gave its LUNs (not yet published); returns the WWIDs that grew."""
        sim_target = self.targets[target]
        sim_target.luns += sim_target.unscanned
        sim_target.unscanned = []
        grown = [lun for lun in sim_target.luns if lun.grown_to is not None]
        for sim_lun in grown:
            sim_lun.size, sim_lun.grown_to = sim_lun.grown_to, None
        return [sim_lun.wwid for sim_lun in grown]

    # ---- block info ----

    async def get_block_info(self, name_or_uuid: str) -> BlockInfo:
        """What the device named by WWID, LVM UUID, `vg/lv` or /dev path is."""
        ref = validation.reference(name_or_uuid, "name or UUID")   # as the host's
        for lun in self.store.all(Lun).values():
            for device, _ in lun.paths:
                if ref in (device, f"/dev/{device}"):
                    return BlockInfo(uuid=lun.wwid, size=lun.size, path=f"/dev/{device}",
                                     type="disk", used_by=f"multipath:{lun.device}",
                                     name=device)
        lv_ref = ref
        if ref.startswith("/dev/mapper/") and "-" in ref[12:].replace("--", ""):
            vg, _, lv = ref[12:].replace("--", "\0").partition("-")
            lv_ref = f"{vg}/{lv}".replace("\0", "-")
        elif ref.startswith("/dev/") and ref.count("/") == 3:
            lv_ref = ref[5:]
        for finder, key in ((self._lun_info, ref), (self._pv_info, ref),
                            (self._lv_info, lv_ref)):
            try:
                return finder(key)
            except NotFound:
                continue
        raise NotFound(f"no device, LUN or volume {name_or_uuid!r}")

    def _lun_info(self, ref: str) -> BlockInfo:
        lun = resolve.lun(self.store, ref)
        used_by = {"free": "", "pv": "pv", "partitioned": "partition-table"}.get(
            lun.status, lun.status)
        if pv := self.store.get(PhysicalVolume, lun.physical_volume):
            vg = self.store.get(VolumeGroup, pv.volume_group)
            used_by = f"pv:{vg.name}" if vg else "pv"
        return BlockInfo(uuid=lun.wwid, size=lun.size, path=lun.device,
                         type="multipath" if lun.multipath else "disk",
                         used_by=used_by, name=lun.device.rsplit("/", 1)[-1])

    def _pv_info(self, ref: str) -> BlockInfo:
        pv = resolve.physical_volume(self.store, ref)
        info = self._lun_info(pv.lun)
        return info.model_copy(update={"uuid": pv.uuid, "size": pv.size})

    def _lv_info(self, ref: str) -> BlockInfo:
        lv = resolve.logical_volume(self.store, ref)
        return BlockInfo(uuid=lv.uuid, size=lv.size, path=lv.path, type="lvm",
                         used_by="open" if lv.is_open else "", name=lv.name)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Devices into and out of LVM: the LUNs a caller names taken (never a path of a
multipath map, never one holding data unasked), labelled as PVs, their labels wiped
again when the change they were for did not complete, and the identities (LUN WWID,
PV UUID) a record keeps so a recovery finds each device again after a reboot."""

import asyncio
import contextlib
import logging
import os
from typing import Callable

from ....errors import Busy, InvalidArgument, NotFound
from ....models import Lun, PhysicalVolume, VolumeGroup
from ... import resolve
from ...intents import Intent, Intents
from ...store import StateStore
from .commands import LvmCommands

log = logging.getLogger(__name__)
Taken = list[tuple[str, bool]]        # (device node, already an orphan PV)


def pv_devices(store: StateStore, vg: VolumeGroup) -> list[str]:
    """The device nodes of the VG's PVs: the `--devices` of its commands."""
    return [pv.device for uuid in vg.physical_volumes
            if (pv := store.get(PhysicalVolume, uuid)) is not None]


def same_pv(row: dict[str, str], pvs: dict[str, str | None] | None) -> bool:
    """Whether a report row's PV is the one recorded for its device (no record of
    one, or no UUID recorded: any). A PV relabelled since is left alone, logged."""
    expected = (pvs or {}).get(row.get("pv_name", ""))
    if expected is None or row.get("pv_uuid") == expected:
        return True
    log.warning("%s carries PV %s, not the recorded %s: left alone", row.get("pv_name"),
                row.get("pv_uuid"), expected)
    return False


class Devices:
    """`luns`: the host's LUN index (engine.LunIndex). `exists`: whether a device
    node is there (a LUN may be gone when its labels are to be wiped)."""

    def __init__(self, commands: LvmCommands, store: StateStore, intents: Intents, luns,
                 exists: Callable[[str], bool] = os.path.exists) -> None:
        self._commands = commands
        self._store = store
        self._intents = intents
        self._luns = luns
        self._exists = exists

    def take(self, devices: list[str], wipe: bool) -> Taken:
        """(device node, already an orphan PV) for each device a caller named: the
        map of a multipathed LUN, never one of its paths; refused when it holds
        data the caller did not ask to wipe. Runs in a thread (resolves links)."""
        taken: Taken = []
        for ref in devices:
            lun = self._lun_named(ref)
            if lun.device in [device for device, _ in taken]:
                raise InvalidArgument("devices names the same LUN twice")
            orphan = False
            if lun.physical_volume is not None:
                pv = self._store.get(PhysicalVolume, lun.physical_volume)
                if pv is not None and pv.volume_group:
                    owner = self._store.get(VolumeGroup, pv.volume_group)
                    raise Busy(f"{lun.device} is a physical volume of volume group "
                               f"{owner.name if owner else pv.volume_group}")
                orphan = True
            elif lun.status == "pv":
                orphan = True
            elif lun.status != "free" and not wipe:
                raise Busy(f"{lun.device} holds a {lun.status} signature; pass wipe=true "
                           "to erase it")
            taken.append((lun.device, orphan))
        return taken

    def _lun_named(self, ref: str) -> Lun:
        """The LUN a caller's reference names: a /dev name must be a LUN's node."""
        if not ref.startswith("/dev/"):
            lun = resolve.lun(self._store, ref)
        else:
            resolved = os.path.realpath(ref)
            wwid = self._luns.lun_for_device(resolved)
            if wwid is None:
                lun = next((lun for lun in self._store.all(Lun).values()
                            if any(f"/dev/{p}" == resolved for p, _ in lun.paths)), None)
                if lun is not None:
                    raise InvalidArgument(f"{ref} is a path of multipath map "
                                          f"{lun.device}; use the map")
                raise NotFound(f"no LUN at {ref}")
            lun = self._store.get(Lun, wwid)
        if lun is None:
            raise NotFound(f"no LUN {ref!r}")
        return lun

    async def make_pvs(self, taken: Taken, wipe: bool) -> list[str]:
        """Each taken device a PV (the orphans are already), in the devices file."""
        devices = [device for device, _ in taken]
        new = [device for device, orphan in taken if not orphan]
        if new:
            await self._commands.pvcreate(new, wipe)
        await self._commands.add_devices(devices)
        return devices

    @contextlib.asynccontextmanager
    async def labelling(self, kind: str, vg_name: str, taken: Taken):
        """A change that writes PV labels and then puts them in a VG. The intent
        record names the devices this change labels; if the change fails (or is
        cancelled), or the daemon dies before it completes, exactly those labels
        that ended up in no VG are wiped again, and nothing else is touched."""
        labelled = [device for device, orphan in taken if not orphan]
        intent = await self._intents.begin(kind, name=vg_name, labelled=labelled,
                                           ids=self.identities(labelled))
        try:
            yield intent
        except BaseException:
            try:
                await asyncio.shield(self.unlabel_orphans(labelled))
                await self._intents.end(intent)
            except Exception:
                log.exception("undoing the labels of %s failed; the intent record "
                              "stays for the next start", ", ".join(labelled))
            raise
        await self._intents.end(intent)

    async def unlabel_orphans(self, devices: list[str],
                              pvs: dict[str, str | None] | None = None) -> list[str]:
        """pvremove those of `devices` that carry a PV label in no VG; the ones
        now in a VG (the change did complete) are left alone, and so is a device
        whose PV is not the one `pvs` names for it (device → PV UUID)."""
        if not devices:
            return []
        present = [device for device in devices if self._exists(device)]  # a LUN may be gone
        if not present:
            return []
        report, _ = await self._commands.report(devices=present)
        orphans = sorted(row["pv_name"] for row in report.pvs
                         if not row.get("vg_uuid") and row.get("pv_name") in present
                         and same_pv(row, pvs))
        if orphans:
            await self._commands.pvremove(orphans, "wipe the labels of an unfinished change")
            await self._commands.remove_devices(orphans)
            log.info("wiped the PV labels an unfinished change left on %s",
                     ", ".join(orphans))
        return orphans

    def identities(self, devices: list[str],
                   vg: VolumeGroup | None = None) -> dict[str, dict[str, str | None]]:
        """What a recovery finds each device by (a name like /dev/sdb may belong to
        another disk after a reboot): its LUN's WWID and, when it is a PV of `vg`
        already, the PV's UUID."""
        pvs = {pv.device: pv.uuid for key in (vg.physical_volumes if vg else ())
               if (pv := self._store.get(PhysicalVolume, key)) is not None}
        return {device: {"wwid": self._luns.lun_for_device(device), "pv": pvs.get(device)}
                for device in devices}

    def recorded(self, intent: Intent) -> tuple[list[str], dict[str, str | None]]:
        """The devices a record names, each found again by its LUN's WWID: their
        nodes now, and the PV UUID each must carry (None: any). A device whose LUN
        is not on the host now, or that was recorded without one, is left alone."""
        named = intent.data.get("labelled", intent.data.get("devices", []))
        ids = intent.data.get("ids")
        ids = ids if isinstance(ids, dict) else {}
        nodes, pvs = [], {}
        for device in named if isinstance(named, list) else []:
            ident = ids.get(device) if isinstance(device, str) else None
            wwid = ident.get("wwid") if isinstance(ident, dict) else None
            if not isinstance(wwid, str) or not wwid:
                log.warning("intent record %s names %r without its LUN: left alone",
                            intent.path, device)
                continue
            try:
                node = self._luns.device_for_wwid(wwid)
            except NotFound:
                log.warning("intent record %s: LUN %s (was %s) is not on this host now; "
                            "%s left alone", intent.path, wwid, device, device)
                continue
            if node != device:
                log.warning("intent record %s: LUN %s was %s and is %s now: acting on %s",
                            intent.path, wwid, device, node, node)
            pv = ident.get("pv")
            nodes.append(node)
            pvs[node] = pv if isinstance(pv, str) else None
        return nodes, pvs

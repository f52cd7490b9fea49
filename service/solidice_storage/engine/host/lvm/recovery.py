# SPDX-License-Identifier: LGPL-2.1-or-later
"""The LVM changes a daemon that died mid-way left recorded (intents.py), finished
or undone at the next start, touching nothing outside each record's own devices
and VG."""

import logging

from .... import validation
from ....errors import NotFound
from ....models import LogicalVolume, PhysicalVolume, VolumeGroup
from ...intents import Intent, Intents
from ...store import StateStore
from .commands import LvmCommands
from .devices import Devices, same_pv
from .refresh import Refresher
from .report import as_int

log = logging.getLogger(__name__)
# the intent kinds this engine records and recovers
LVM_KINDS = frozenset({"create-vg", "extend-vg", "remove-vg", "remove-pv", "snapshot-lv",
                       "rename-vg"})


class Recovery:
    def __init__(self, commands: LvmCommands, store: StateStore, intents: Intents,
                 devices: Devices, refresher: Refresher) -> None:
        self._commands = commands
        self._store = store
        self._intents = intents
        self._devices = devices
        self._refresher = refresher

    async def recover(self, pending: list[Intent] | None = None) -> None:
        """Finish or undo the LVM changes a daemon that died mid-way left recorded
        (`pending`; None: read them). Labels written for a VG that never came to be
        are wiped; a VG or PV removal the caller asked for is finished where its
        VG is already gone or its PV already empty; a data move still in LVM's
        metadata is aborted (atomic: the data stays where it was); anything else
        (a VG that was created after all, a removal that never started, a snapshot,
        whose one lvcreate LVM commits whole or not at all) is left as it is.
        Nothing outside the record's own devices and VG is touched."""
        if pending is None:
            pending = [i for i in await self._intents.pending() if i.kind in LVM_KINDS]
        for intent in pending:
            await self._intents.settle(intent, self.recover_one(intent))
        if pending:
            await self._refresher.refresh()

    async def recover_one(self, intent: Intent) -> str:
        """What was done to finish or undo one record's change."""
        if intent.kind == "snapshot-lv":
            return self._snapshot_outcome(intent)
        if intent.kind == "rename-vg":
            return await self._rename_outcome(intent)
        # create-vg, extend-vg: the labels this change wrote ("labelled");
        # remove-vg, remove-pv: the labels the caller asked to remove ("devices").
        # Either way: wipe those left in no VG, leave the rest.
        devices, pvs = self._devices.recorded(intent)
        done = []
        if intent.kind == "remove-pv":
            done = await self._finish_pv_removal(intent.data.get("name"), devices, pvs)
        if wiped := await self._devices.unlabel_orphans(devices, pvs):
            done.append(f"wiped the labels on {', '.join(wiped)}")
        return "; ".join(done) or "nothing to undo"

    def _snapshot_outcome(self, intent: Intent) -> str:
        vg_name, name = intent.data.get("name"), intent.data.get("snapshot")
        vg_uuid = next((vg.uuid for vg in self._store.all(VolumeGroup).values()
                        if vg.name == vg_name), None)
        made = any(lv.name == name and lv.volume_group == vg_uuid
                   for lv in self._store.all(LogicalVolume).values())
        return (f"snapshot {vg_name}/{name} {'exists' if made else 'was not made'}; "
                "LVM commits it whole or not at all: nothing to undo")

    async def _rename_outcome(self, intent: Intent) -> str:
        """A VG rename cut short: vgrename commits whole or not at all; a VG that
        bears the new name has its active LVs' maps refreshed (renamed after it,
        where vgrename had left them), which changes nothing where it had not."""
        old, new = intent.data.get("name"), intent.data.get("new")
        if not isinstance(old, str) or not isinstance(new, str):
            return "a rename record without its names: nothing to do"
        old, new = validation.vg_name(old), validation.vg_name(new)  # for command lines
        vg = next((vg for vg in self._store.all(VolumeGroup).values() if vg.name == new),
                  None)
        if vg is None:
            return f"volume group {old} was not renamed to {new}: nothing to undo"
        await self._commands.vgrefresh(new, [
            pv.device for key in vg.physical_volumes
            if (pv := self._store.get(PhysicalVolume, key)) is not None])
        return f"volume group {old} is {new}: its active logical volumes' maps refreshed"

    async def _finish_pv_removal(self, vg_name, devices: list[str],
                                 pvs: dict[str, str | None]) -> list[str]:
        """A PV removal cut short: a move still in the VG's metadata is aborted
        (`--atomic`: every extent goes back where it was, and the PV stays, with
        its data); a PV still in the VG and empty leaves it, as the caller asked."""
        if not isinstance(vg_name, str) or not devices:
            return []
        name = validation.vg_name(vg_name)        # from a file, but a command line
        try:
            report, _ = await self._commands.report([name])
        except NotFound:
            return []                              # the VG is gone: orphans, wiped next
        done = []
        members = [row["pv_name"] for row in report.pvs if row.get("vg_name") == name]
        # a pvmove's LV is hidden (fullreport leaves it out): `lvs -a` shows it
        hidden = await self._commands.hidden_lvs(name, members)
        if any(row.get("lv_attr", "").startswith("p") for row in hidden.lvs):
            await self._commands.abort_moves(members, f"abort the data move in {name}")
            done.append(f"aborted the data move in {name}")
            report, _ = await self._commands.report([name])
        for row in report.pvs:
            device = row.get("pv_name")
            if device in devices and row.get("vg_name") == name and len(members) > 1 \
                    and not as_int(row.get("pv_used")) and same_pv(row, pvs):
                await self._commands.vgreduce(name, device, members)
                done.append(f"took the empty {device} out of {name}")
        return done

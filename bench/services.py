# SPDX-License-Identifier: LGPL-2.1-or-later
"""The three services measured, ours, lvmdbusd and udisks2: how each starts, shows
its LVs, and takes a create, an extend and a remove."""

import asyncio
import os
import time

from dbus_fast import Message, Variant
from dbus_fast.aio import MessageBus

from lab import host as labhost
from lab.host import BUS_NAME, LabError, Service
from solidice_storage import objpath

from . import common
from .bus import AddedWatch, call, error_text, get_property
from .common import (LV_SIZE, LVMDBUS, LVMDBUS_NAME, LVMDBUS_ROOT, LVMDBUSD,
                     OBJECT_MANAGER, OURS, UDISKS, UDISKS_NAME, UDISKS_ROOT, UDISKSD, VG)
from .vg import BenchVg


def prop(interfaces: dict, interface: str, name: str):
    """A property's value in one object's interfaces (GMO or InterfacesAdded), or None."""
    variant = interfaces.get(interface, {}).get(name)
    return None if variant is None else variant.value


def bus_env() -> dict:
    """The environment systemd gives a service, and natively the private bus."""
    env = dict(labhost.DAEMON_ENV)
    if common.NATIVE:
        env["DBUS_SYSTEM_BUS_ADDRESS"] = os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
    return env


class Daemon:
    """What the measurements need of a service; subclasses fill in the names."""

    label = name = root = prefix = ""
    lv_interface = vg_interface = size_interface = size_property = ""
    list_note = ""

    def added_lv_name(self, interfaces: dict) -> str | None:
        return prop(interfaces, self.lv_interface, "Name")

    def lv_paths(self, objects: dict, names: set[str]) -> dict[str, str]:
        """LV name → object path, for the LVs named in `names`."""
        found = {}
        for path, interfaces in objects.items():
            name = prop(interfaces, self.lv_interface, "Name")
            if name in names:
                found[name] = path
        return found

    def find_vg(self, objects: dict) -> str | None:
        return next((path for path, interfaces in objects.items()
                     if prop(interfaces, self.vg_interface, "Name") == VG), None)

    async def list_lvs(self, bus: MessageBus, vg_path: str) -> Message:
        raise NotImplementedError

    async def wait_ready(self, bus, service, watch: AddedWatch, vg: BenchVg,
                         deadline: float) -> tuple[float, dict]:
        """Start → the first GetManagedObjects, sent as soon as the name appears, that
        holds every LV of benchvg (the anchor's "ready" for lvmdbusd). A reply short
        of that is asked again 50 ms later, not in a tight loop."""
        attempts, objects = 0, {}
        while len(self.lv_paths(objects, vg.lv_names)) < vg.count:
            if attempts:
                if not service.alive() or time.perf_counter() > deadline:
                    raise LabError(f"{self.label} never showed the {vg.count} LVs "
                                   f"of {VG}; see {service.log_path}")
                await asyncio.sleep(0.05)
            attempts += 1
            reply = await call(bus, self.name, self.root, OBJECT_MANAGER, "GetManagedObjects")
            objects = {} if error_text(reply) else reply.body[0]
        return time.perf_counter(), {"ready_gmo_calls": attempts}


class OurService(Daemon):
    """solidice-storaged, started as the unit starts it (labhost.exec_start and the
    unit's environment). Without the lab's --debug: no per-command log line is timed."""

    label, name, root, prefix = "ours", BUS_NAME, objpath.ROOT, "ours"
    lv_interface, vg_interface = OURS + "LogicalVolume", OURS + "VolumeGroup"
    size_interface, size_property = OURS + "LogicalVolume", "Size"
    list_note = "VolumeGroup.ListLogicalVolumes"

    debug = False        # --profile: each command the daemon runs, timed, in its log

    def start(self) -> Service:
        return Service("solidice-storaged-bench", *labhost.exec_start(),
                       *(["--debug"] if self.debug else []), env=bus_env())

    async def list_lvs(self, bus, vg_path):
        return await call(bus, self.name, vg_path, OURS + "VolumeGroup",
                          "ListLogicalVolumes", "a{sv}", [{}])

    async def create(self, bus, vg_path, lv_name):
        reply = await call(bus, self.name, vg_path, OURS + "VolumeGroup",
                           "CreateLogicalVolume", "sta{sv}", [lv_name, LV_SIZE, {}])
        return (None, error_text(reply)) if error_text(reply) else (reply.body[0], "")

    async def extend(self, bus, lv_path):
        reply = await call(bus, self.name, lv_path, OURS + "LogicalVolume", "Extend",
                           "ta{sv}", [LV_SIZE, {}])
        return error_text(reply)

    async def remove(self, bus, lv_path):
        # force: the contract's option for an LV of a VG the service did not create,
        # which benchvg is (vgcfgrestore made it)
        reply = await call(bus, self.name, lv_path, OURS + "LogicalVolume", "Remove",
                           "a{sv}", [{"force": Variant("b", True)}])
        return error_text(reply)


class Lvmdbusd(Daemon):
    """lvmdbusd in its default mode (it forks `lvm` with JSON output), in the
    foreground in its own session. API as in lvm2's daemons/lvmdbusd (vg.py, lv.py):
    Vg.LvCreateLinear(s, t, b thin_pool, i tmo, a{sv}) → (o lv, o job),
    Lv.Resize(t new size, a(ott) pvs, i tmo, a{sv}) → o job, Lv.Remove(i tmo, a{sv})
    → o job; tmo = -1 waits for the end instead of a job."""

    label, name, root, prefix = "lvmdbusd", LVMDBUS_NAME, LVMDBUS_ROOT, "lvmdbus"
    lv_interface, vg_interface = LVMDBUS + "LvCommon", LVMDBUS + "Vg"
    size_interface, size_property = LVMDBUS + "LvCommon", "SizeBytes"
    list_note = "Properties.Get of Vg.Lvs"

    def start(self) -> Service:
        # the environment systemd gives a service, as for ours: nothing of this shell's
        # PATH or PYTHONPATH reaches its python
        return Service("lvmdbusd-bench", LVMDBUSD, env=bus_env())

    async def list_lvs(self, bus, vg_path):
        return await get_property(bus, self.name, vg_path, LVMDBUS + "Vg", "Lvs")

    async def create(self, bus, vg_path, lv_name):
        reply = await call(bus, self.name, vg_path, LVMDBUS + "Vg", "LvCreateLinear",
                           "stbia{sv}", [lv_name, LV_SIZE, False, -1, {}])
        if error_text(reply):
            return None, error_text(reply)
        lv, job = reply.body[0]
        return (lv, "") if lv != "/" else (None, f"a job ({job}) instead of the LV")

    async def extend(self, bus, lv_path):
        reply = await call(bus, self.name, lv_path, LVMDBUS + "Lv", "Resize", "ta(ott)ia{sv}",
                           [2 * LV_SIZE, [], -1, {}])
        return error_text(reply)

    async def remove(self, bus, lv_path):
        reply = await call(bus, self.name, lv_path, LVMDBUS + "Lv", "Remove", "ia{sv}",
                           [-1, {}])
        return error_text(reply)


class Udisks(Daemon):
    """udisksd started plain, then Manager.EnableModule("lvm2", true), as the anchor
    measured it. Ready: InterfacesAdded seen for the N LogicalVolume objects. udisks
    has no per-VG list of LVs: "list" is a GetManagedObjects."""

    label, name, root, prefix = "udisks2", UDISKS_NAME, UDISKS_ROOT, "udisks"
    lv_interface, vg_interface = UDISKS + "LogicalVolume", UDISKS + "VolumeGroup"
    size_interface, size_property = UDISKS + "LogicalVolume", "Size"
    list_note = "GetManagedObjects (udisks2 has no per-VG list)"

    def start(self) -> Service:
        return Service("udisksd-bench", UDISKSD, env=bus_env())

    async def wait_ready(self, bus, service, watch, vg, deadline):
        reply = await call(bus, self.name, UDISKS_ROOT + "/Manager", UDISKS + "Manager",
                           "EnableModule", "sb", ["lvm2", True])
        if error_text(reply):
            raise LabError(f"EnableModule(lvm2): {error_text(reply)}")
        enabled = time.perf_counter()
        if not await watch.wait_for(lambda seen: len(vg.lv_names & seen.keys()) >= vg.count,
                                    deadline, service):
            raise LabError(f"udisks2 showed {len(vg.lv_names & watch.seen.keys())} of the "
                           f"{vg.count} LVs; see {service.log_path}")
        return max(watch.seen[name] for name in vg.lv_names), {"module_enabled_at": enabled}

    async def list_lvs(self, bus, vg_path):
        return await call(bus, self.name, self.root, OBJECT_MANAGER, "GetManagedObjects")

    async def create(self, bus, vg_path, lv_name):
        reply = await call(bus, self.name, vg_path, UDISKS + "VolumeGroup",
                           "CreatePlainVolume", "sta{sv}", [lv_name, LV_SIZE, {}])
        return (None, error_text(reply)) if error_text(reply) else (reply.body[0], "")

    async def extend(self, bus, lv_path):
        reply = await call(bus, self.name, lv_path, UDISKS + "LogicalVolume", "Resize",
                           "ta{sv}", [2 * LV_SIZE, {}])
        return error_text(reply)

    async def remove(self, bus, lv_path):
        reply = await call(bus, self.name, lv_path, UDISKS + "LogicalVolume", "Delete",
                           "a{sv}", [{}])
        return error_text(reply)

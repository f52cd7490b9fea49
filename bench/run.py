# SPDX-License-Identifier: LGPL-2.1-or-later
"""The whole run: for each N, the bench VG built once, the raw commands, then each
service on it; the JSON rewritten after every phase."""

import argparse
import asyncio
import contextlib
import json
import os
import traceback
from pathlib import Path

from dbus_fast import BusType
from dbus_fast.aio import MessageBus

from lab.host import lvm_report

from . import acct
from .common import LVMDBUSD, UDISKSD, VG, log
from .environment import environment
from .isolation import (MaskedActivation, keep_lvmdbusd_out, lvmdbusd_ran_during,
                        restart_lab_daemon, stop_lab_daemon, stop_lvmdbusd)
from .measure import measure
from .raw import raw_figures
from .services import Lvmdbusd, OurService, Udisks
from .vg import BenchVg


SERVICES = (("ours", OurService, None), ("lvmdbusd", Lvmdbusd, LVMDBUSD),
            ("udisks2", Udisks, UDISKSD))


class Saver:
    """Writes the JSON (and natively the report) after every phase: a run killed
    midway keeps what finished."""

    def __init__(self, results: dict, out: Path) -> None:
        self.results, self.out = results, out

    def __call__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "bench.json"
        temporary = path.with_suffix(".json.part")
        temporary.write_text(json.dumps(self.results, indent=2) + "\n")
        temporary.replace(path)


async def service_phase(bus, label: str, daemon, vg, args, accounting, section: dict,
                        save) -> None:
    """A service's figures, or the error that stopped them: the next service and the
    report still run."""
    log(f"N={vg.count}: measuring {label} ...")
    try:
        await asyncio.wait_for(measure(bus, daemon, vg, args, accounting, section, save),
                               args.phase_timeout)
    except Exception as error:
        traceback.print_exc()
        section["error"] = f"{type(error).__name__}: {error}" if str(error) else \
            type(error).__name__
        log(f"N={vg.count}: {label} failed: {section['error']}")
    finally:
        if not args.native:
            removed = await asyncio.to_thread(vg.remove_extra)
            if removed:
                section["cleaned_up_lvs"] = removed
    save()


async def one_size(bus, count: int, args, accounting, results: dict, save) -> None:
    """Build the VG with `count` LVs once; raw commands, then each service on it."""
    size = results["sizes"].setdefault(str(count), {})
    vg = BenchVg(count, spare=4 * args.repeats + 16)   # free extents for the changes
    try:
        log(f"N={count}: building {VG} ...")
        size["build"] = vg.build()
        size["build"]["other_lvs"] = other_lvs()
        lvmdbusd_ran_during(results, f"the set-up of N={count}", args)
        log(f"N={count}: raw commands, {args.repeats} times each ...")
        stats = {"idle_timeouts": 0}
        size["raw"] = await raw_figures(args, stats, accounting)
        size["raw"].update(stats)
        save()
        lvmdbusd_ran_during(results, f"the raw commands of N={count}", args)
        for label, cls, executable in SERVICES:
            section = size.setdefault(label, {})
            if label == "udisks2" and args.native:
                section["not_runnable"] = ("not runnable natively: udisksd needs udevd "
                                           "(no block devices, so no LVM objects, without it)")
                continue
            if executable and not os.access(executable, os.X_OK):
                section["not_runnable"] = f"not installed ({executable})"
                continue
            if label not in args.services:
                section["not_runnable"] = "not measured (--services)"
                continue
            await service_phase(bus, label, cls(), vg, args, accounting, section, save)
            if label != "lvmdbusd":
                lvmdbusd_ran_during(results, f"{label}'s phase at N={count}", args)
    finally:
        await asyncio.to_thread(vg.close)
        save()


def other_lvs() -> int:
    """LVs of other VGs on the machine: every service and `lvm fullreport` read them
    too (natively the host may have some)."""
    rows = lvm_report("lvs", "-o", "vg_name")
    return sum(1 for row in rows if row["vg_name"] != VG)


async def bench(args: argparse.Namespace, results: dict, save) -> None:
    """Fills `results` as it goes, so a failure still leaves what was measured."""
    results["environment"] = environment()
    save()
    stopped = None
    with contextlib.ExitStack() as stack:
        try:
            accounting = stack.enter_context(acct.Accounting())
            results["lvm_process_counting"] = "BSD process accounting (acct(2), acct_v3)"
        except OSError as error:
            accounting = None
            results["lvm_process_counting"] = f"not available: {error}"
            log(f"process accounting not available: {error}")
        async with contextlib.AsyncExitStack() as masks:
            if not args.native:
                stopped = stop_lab_daemon()
                results["lab_daemon_stopped"] = stopped
                await masks.enter_async_context(MaskedActivation())
            try:
                keep_lvmdbusd_out(results, args)
                bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
                try:
                    for count in args.lvs:
                        await one_size(bus, count, args, accounting, results, save)
                finally:
                    bus.disconnect()
            finally:
                if not args.native:
                    stop_lvmdbusd()          # the host as it was found: no lvmdbusd left
                    if stopped is not None:
                        restart_lab_daemon()

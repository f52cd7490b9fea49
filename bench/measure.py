# SPDX-License-Identifier: LGPL-2.1-or-later
"""One service, measured alone on the machine: start-up, reads, changes, an LV made
outside, idle CPU and memory, and the `lvm` processes each step starts."""

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.host import LabError, Service

from .bus import (AddedWatch, NameWatch, call, decode_seconds, error_text,
                  get_property, reply_bytes)
from .common import (COMMAND_TIMEOUT, DID_NOT_FINISH, OBJECT_MANAGER, OUTSIDE_TIMEOUT,
                     START_TIMEOUT, VG, cpu_seconds, log, memory_mib, number,
                     settle_udev, summary, wait_idle)
from .raw import lvm_count
from .vg import BenchVg


class Counter:
    """`lvm` processes around one call: exited by its reply ("during") and by the
    time the machine is idle again ("until_idle"), of the daemon and of anyone."""

    def __init__(self, accounting, pid: int) -> None:
        self.accounting, self.parents = accounting, {pid}
        self.start = self.replied = 0

    def __enter__(self) -> "Counter":
        if self.accounting:
            self.start = self.accounting.mark()
        return self

    def __exit__(self, *exc) -> None:
        if self.accounting:
            self.replied = self.accounting.mark()

    async def result(self, stats: dict) -> dict:
        if self.accounting is None:
            return {}
        stats["idle_timeouts"] += not await wait_idle()
        await asyncio.sleep(0.2)
        idle = self.accounting.mark()
        count = lambda end, parents: lvm_count(self.accounting, self.start, end, parents)
        return {"during": {"daemon": count(self.replied, self.parents),
                           "all": count(self.replied, None)},
                "until_idle": {"daemon": count(idle, self.parents), "all": count(idle, None)}}


async def timed_call(coroutine) -> tuple[float, object]:
    started = time.perf_counter()
    result = await coroutine
    return time.perf_counter() - started, result


async def start_timed(bus, daemon, vg, accounting) -> tuple[Service, dict, AddedWatch]:
    """Start the service; start → its name on the bus, start → all N LVs visible."""
    watch = await AddedWatch(bus, daemon).__aenter__()
    try:
        async with NameWatch(bus, daemon.name) as names:
            mark = accounting.mark() if accounting else 0
            started = time.perf_counter()
            service = daemon.start()
            try:
                owned_at = await names.wait(service, started + START_TIMEOUT)
                ready_at, extra = await daemon.wait_ready(bus, service, watch, vg,
                                                          started + START_TIMEOUT)
            except BaseException:
                service.stop()
                raise
    except BaseException:
        await watch.__aexit__()
        raise
    figures = {"name_on_bus": owned_at - started, "ready": ready_at - started, **extra,
               "memory_ready": memory_mib(service.pid), "cpu_ready": cpu_seconds(service.pid)}
    if accounting:
        figures["lvm_processes_start"] = {
            "daemon": lvm_count(accounting, mark, accounting.mark(), {service.pid})}
    return service, figures, watch


async def timed_runs(times: int, make, what: str) -> tuple[list[float], object]:
    """Seconds of `times` calls of make(), back to back, and the last reply;
    LabError ("`what`: the error") on an error reply."""
    runs, reply = [], None
    for _ in range(times):
        seconds, reply = await timed_call(make())
        if error_text(reply):
            raise LabError(f"{what}: {error_text(reply)}")
        runs.append(seconds)
    return runs, reply


async def read_figures(bus, daemon, vg_path, lv_path, args, service, accounting,
                       stats) -> dict:
    """GMO, the list of the VG's LVs (R times each) and a property read (many
    times), back to back after one idle wait; then one of each counted."""
    figures: dict = {}
    stats["idle_timeouts"] += not await wait_idle()
    reads = {"gmo": lambda: call(bus, daemon.name, daemon.root, OBJECT_MANAGER,
                                 "GetManagedObjects"),
             "list": lambda: daemon.list_lvs(bus, vg_path),
             "prop_read": lambda: get_property(bus, daemon.name, lv_path,
                                               daemon.size_interface, daemon.size_property)}
    runs, reply = await timed_runs(args.repeats, reads["gmo"],
                                   f"GetManagedObjects of {daemon.label}")
    wire = reply_bytes(reply)
    figures.update({"gmo": summary(runs), "gmo_bytes": len(wire),
                    "gmo_objects": len(reply.body[0]), "gmo_client_decode": decode_seconds(wire)})
    del reply, wire
    runs, _ = await timed_runs(args.repeats, reads["list"],
                               f"listing the LVs with {daemon.label}")
    figures["list"], figures["list_via"] = summary(runs), daemon.list_note
    runs, _ = await timed_runs(args.property_reads, reads["prop_read"],
                               f"reading {daemon.size_property}")
    figures["prop_read"] = summary(runs)
    figures["prop_read_via"] = f"Properties.Get {daemon.size_interface}.{daemon.size_property}"
    figures["memory_after_reads"] = memory_mib(service.pid)
    figures["lvm_processes"] = await counted(reads, service.pid, accounting, stats)
    return figures


async def counted(reads: dict, pid: int, accounting, stats) -> dict:
    """One call of each of `reads` after an idle wait, in `lvm` processes."""
    counts = {}
    stats["idle_timeouts"] += not await wait_idle()
    for key, coroutine in reads.items():
        with Counter(accounting, pid) as counter:
            await coroutine()
        counts[key] = await counter.result(stats)
    return counts


async def guarded(coroutine) -> tuple[float, str | None, object]:
    """(seconds, error, result) of one change; "did not finish" past the timeout."""
    started = time.perf_counter()
    try:
        result = await coroutine
    except asyncio.TimeoutError:
        return time.perf_counter() - started, DID_NOT_FINISH, None
    seconds = time.perf_counter() - started
    if isinstance(result, tuple):            # create: (path or None, error)
        return seconds, (result[1] or None) if result[0] is None else None, result[0]
    return seconds, result, None


class Profile:
    """--profile DIR: py-spy samples the daemon (idle threads too) over one change
    into DIR/<label>.txt, as collapsed stacks (py-spy's raw format)."""

    def __init__(self, directory: Path | None, label: str, pid: int, wanted: bool) -> None:
        spy = Path(sys.executable).parent / "py-spy"
        self.command = None
        if directory is not None and wanted and spy.exists():
            directory.mkdir(parents=True, exist_ok=True)
            self.command = [str(spy), "record", "--idle", "--rate", "250", "--format", "raw",
                            "--pid", str(pid), "--output", str(directory / f"{label}.txt")]
        self.process = None

    def __enter__(self) -> "Profile":
        if self.command:
            self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
            time.sleep(1)                    # attached before the change starts
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def change_figures(bus, daemon, vg_path, args, service, accounting, stats) -> dict:
    """R creates of a 4 MiB LV (activated), R extends of them by 4 MiB, R removes,
    each after an idle wait; failures and timeouts counted, not timed. The first of
    each is also counted in `lvm` processes."""
    figures: dict = {"lvm_processes": {}}
    made = []
    for key in ("create", "extend", "remove"):
        runs, failures, unfinished = [], [], 0
        targets = range(args.repeats) if key == "create" else list(made)
        for index, target in enumerate(targets):
            stats["idle_timeouts"] += not await wait_idle()
            if key == "create":
                work = daemon.create(bus, vg_path, f"{daemon.prefix}{target}")
            else:
                work = getattr(daemon, key)(bus, target)
            with Counter(accounting if index == 0 else None, service.pid) as counter, \
                    Profile(args.profile, f"{daemon.label}-{key}-{index}", service.pid,
                            daemon.label == "ours"):
                seconds, error, result = await guarded(work)
            if index == 0:
                figures["lvm_processes"][key] = await counter.result(stats)
            if error is None:
                runs.append(seconds)
                if key == "create":
                    made.append(result)
            elif error == DID_NOT_FINISH:
                unfinished += 1
            else:
                failures.append(f"{error}"[:300])
        figures[key] = summary(runs)
        figures[f"{key}_failures"] = failures
        figures[f"{key}_did_not_finish"] = unfinished
        log(f"  {daemon.label} {key}: {len(runs)} done, {len(failures)} failed, "
            f"{unfinished} did not finish")
    return figures


async def outside_figures(daemon, watch: AddedWatch, args, stats) -> dict:
    """An LV made with `lvcreate` beside the service: from lvcreate's start and from
    its exit to the service's InterfacesAdded for it, R times, each bound to 60 s."""
    from_start, from_exit, unfinished = [], [], 0
    for i in range(args.repeats):
        name = f"outside{daemon.prefix}{i}"
        stats["idle_timeouts"] += not await wait_idle()
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            "lvcreate", "-y", "-L4m", "-n", name, "--", VG, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if await asyncio.wait_for(process.wait(), COMMAND_TIMEOUT) != 0:
            raise LabError(f"lvcreate {name} failed")
        exited = time.perf_counter()
        if await watch.wait_for(lambda seen: name in seen, exited + OUTSIDE_TIMEOUT):
            from_start.append(watch.seen[name] - started)
            from_exit.append(watch.seen[name] - exited)
        else:
            unfinished += 1
    return {"outside_from_start": summary(from_start), "outside_from_exit": summary(from_exit),
            "outside_did_not_finish": unfinished}


async def idle_cpu(pid: int, seconds: float) -> dict:
    """CPU seconds (utime + stime) the service uses while nobody asks it anything."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    after = cpu_seconds(pid)
    return {"window_s": seconds, "own": after["own"] - before["own"],
            "children": after["children"] - before["children"]}


async def find_paths(bus, daemon) -> tuple[str, str]:
    """The object paths of the bench VG and of its LV lv00000, as the service
    shows them."""
    reply = await call(bus, daemon.name, daemon.root, OBJECT_MANAGER, "GetManagedObjects")
    objects = {} if error_text(reply) else reply.body[0]
    vg_path = daemon.find_vg(objects)
    lv_path = daemon.lv_paths(objects, {"lv00000"}).get("lv00000")
    if vg_path is None or lv_path is None:
        raise LabError(f"{daemon.label} shows the LVs but not the VG {VG} or lv00000")
    return vg_path, lv_path


async def measure(bus, daemon, vg: BenchVg, args, accounting, section: dict,
                  save) -> None:
    """One service, alone on the machine; `section` filled as it goes (and saved
    after each step), the service stopped at the end."""
    stats = {"idle_timeouts": 0}
    settle_udev()
    stats["idle_timeouts"] += not await wait_idle()
    service, figures, watch = await start_timed(bus, daemon, vg, accounting)
    section.update(figures)
    log(f"  {daemon.label}: name {figures['name_on_bus']:.2f} s, ready {figures['ready']:.2f} s")
    save()
    try:
        vg_path, lv_path = await find_paths(bus, daemon)
        stats["idle_timeouts"] += not await wait_idle()
        section["idle_cpu"] = await idle_cpu(service.pid, args.idle_seconds)
        log(f"  {daemon.label}: idle CPU {section['idle_cpu']['own']:.2f} s "
            f"in {args.idle_seconds} s")
        section.update(await read_figures(bus, daemon, vg_path, lv_path, args, service,
                                          accounting, stats))
        log(f"  {daemon.label}: GMO {section['gmo']['median']:.3f} s, "
            f"list {section['list']['median']:.3f} s, "
            f"property {section['prop_read']['median'] * 1000:.1f} ms")
        save()
        if not args.native:
            await measure_changes(bus, daemon, vg_path, watch, args, service, accounting,
                                  stats, section, save)
        section["memory_end"] = memory_mib(service.pid)
        section["cpu_end"] = cpu_seconds(service.pid)
    finally:
        await watch.__aexit__()
        section["exit_status"] = service.stop()
        section["idle_timeouts"] = stats["idle_timeouts"]


async def measure_changes(bus, daemon, vg_path, watch, args, service, accounting,
                          stats, section: dict, save) -> None:
    """The creates, extends and removes, then the LVs made outside, into `section`."""
    changes = await change_figures(bus, daemon, vg_path, args, service, accounting,
                                   stats)
    counts = changes.pop("lvm_processes")
    section.update(changes)
    section["lvm_processes"].update(counts)
    save()
    section.update(await outside_figures(daemon, watch, args, stats))
    log(f"  {daemon.label}: outside lvcreate seen after "
        f"{number(section['outside_from_exit']['median'])} s (from its exit)")

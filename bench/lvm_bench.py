"""LVM at scale: our service next to raw `lvm`, lvmdbusd and udisks2 (LVM2 module).

How to run it: `make bench` (in the lab guest, N = 100, 1,000 and 10,000 in one
boot) or `make bench-native` (on this host: no device-mapper, so reads only). By
hand, inside the lab guest as root after `python -m tests.lab.labhost up`:

    python bench/lvm_bench.py [--lvs 100,1000] [--repeats R] [--idle-seconds S]
    python bench/lvm_bench.py --native --lvs 100,1000      # on a host, as root

`python` must be the project's virtualenv: the daemon is started from its bin
directory, as labhost starts it.

For each N: build VG `benchvg` once (a loop device over a sparse file in /tmp, N
inactive one-extent LVs loaded by vgcfgrestore), time the raw commands, then each
service alone on the machine, one after the other on the same VG: start-up,
GetManagedObjects, listing the VG's LVs, a property read, create / extend / remove
(not natively), an LV made outside with `lvcreate` until its InterfacesAdded, idle
CPU, memory, and the `lvm` processes each read and change starts (BSD process
accounting, bench/acct.py). Set-up as in ../shared/anchor-measurements.md: no
service can be D-Bus-activated behind the bench's back. Every wait is bounded; the
JSON is rewritten after every phase, so a killed run keeps what finished.
bench/report.py makes the markdown table and the chart from the JSON.
"""

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import re
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TOP / "bench"), str(TOP / "tests" / "lab"), str(TOP / "service")]

from dbus_fast import BusType, Message, MessageType, Variant  # noqa: E402
from dbus_fast.aio import MessageBus  # noqa: E402

import acct  # noqa: E402
import labhost  # noqa: E402
from labhost import BUS_NAME, LabError, Service, lvm_report, name_owner, run, settle  # noqa: E402
from solidice_storage import objpath  # noqa: E402
from solidice_storage.engine.host.lvm.commands import LvmCommands as Lvm  # noqa: E402
from solidice_storage.engine.host.runner import Runner  # noqa: E402

VG = "benchvg"
MiB = 1024**2
IMAGE_SIZE = 8 * 1024**3             # the anchor's; more when N needs it (sparse anyway)
LV_SIZE = 4 * MiB                     # one extent
IDLE_SHARE, IDLE_WINDOW, IDLE_TIMEOUT = 0.08, 1.0, 300
COMMAND_TIMEOUT = 600                 # s, any one command
CALL_TIMEOUT = 120                    # s, any one D-Bus call: past it "did not finish"
OUTSIDE_TIMEOUT = 60                  # s, an outside lvcreate until its InterfacesAdded
START_TIMEOUT = 600                   # s, a daemon's start until ready
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
OURS = "org.solidice.Storage."
LVMDBUSD = "/usr/sbin/lvmdbusd"
LVMDBUS_ACTIVATION = "/usr/share/dbus-1/system-services/com.redhat.lvmdbus1.service"
LVMDBUS_NAME = "com.redhat.lvmdbus1"
LVMDBUS_ROOT = "/com/redhat/lvmdbus1"
LVMDBUS = "com.redhat.lvmdbus1."
UDISKSD = "/usr/libexec/udisks2/udisksd"
UDISKS_NAME = "org.freedesktop.UDisks2"
UDISKS_ROOT = "/org/freedesktop/UDisks2"
UDISKS = "org.freedesktop.UDisks2."
RAW_REPORTS = {                       # key → what an administrator types
    "fullreport": ("lvm", "fullreport", "--reportformat", "json"),
    "lvs": ("lvs", "--reportformat", "json"),
    "version": ("lvm", "version"),
}


NATIVE = False                        # --native: on a host, no udevd, no device-mapper
STARTED = time.monotonic()


def log(message: str) -> None:
    """Progress with the time of day and the minutes since the start."""
    elapsed = (time.monotonic() - STARTED) / 60
    print(f"[{time.strftime('%H:%M:%S')} +{elapsed:5.1f} min] {message}", flush=True)


def settle_udev() -> None:
    """udevadm settle in the guest; natively no udevd runs to wait for."""
    if not NATIVE:
        settle()


# ---- small measurements ----

def summary(runs: list[float]) -> dict:
    """Median, min and max of some timings, and the runs themselves for the JSON."""
    if not runs:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs),
            "runs": runs}


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot: idle and iowait are not busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def wait_idle() -> bool:
    """Wait until the machine is under IDLE_SHARE busy for IDLE_WINDOW s, as the anchor
    did: a daemon's refresh after one change must not land in the next measurement.
    False if it never got there within IDLE_TIMEOUT (the caller counts those)."""
    deadline = time.monotonic() + IDLE_TIMEOUT
    while time.monotonic() < deadline:
        busy, total = cpu_ticks()
        await asyncio.sleep(IDLE_WINDOW)
        busy2, total2 = cpu_ticks()
        if (busy2 - busy) < IDLE_SHARE * max(1, total2 - total):
            return True
    return False


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (the peak) of a process, in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of a process itself and of its reaped children (the `lvm` runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return {"own": (int(fields[11]) + int(fields[12])) / tick,
            "children": (int(fields[13]) + int(fields[14])) / tick}


def alive(pid: int) -> bool:
    """Whether a process runs: a zombie has exited (nobody may ever reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def timed(*argv: str, env: dict | None = None) -> float:
    """Seconds `argv` takes from start to exit; a failure stops the bench. Blocking on
    purpose: nothing else runs meanwhile, and a thread hop would only add to it."""
    started = time.perf_counter()
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=COMMAND_TIMEOUT,
                            env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return seconds


# ---- what it runs on ----

def acceleration(cpuinfo: str) -> str:
    """KVM or TCG, from what the guest can see: KVM offers the kvm-clock clock source,
    TCG does not; both set the `hypervisor` CPU flag."""
    flags = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M)
    clocks = Path("/sys/devices/system/clocksource/clocksource0/available_clocksource")
    available = clocks.read_text().split() if clocks.exists() else []
    if "kvm-clock" in available:
        return "KVM (kvm-clock available)"
    if flags and "hypervisor" in flags[1].split():
        return "TCG (likely: a hypervisor flag but no kvm-clock)"
    return "no hypervisor seen (bare metal?)"


def environment() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    memory = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)
    version = run("lvm", "version", timeout=60).stdout
    notify = run("lvmconfig", "--typeconfig", "full", "global/notify_dbus", check=False,
                 timeout=60).stdout.strip()
    return {
        "kernel": os.uname().release,
        "acceleration": acceleration(cpuinfo),
        "cpu_model": model[1].strip() if model else "?",
        "cpus": os.cpu_count(),
        "memory_mib": int(memory[1]) // 1024 if memory else None,
        "lvm_version": next((line.strip() for line in version.splitlines()
                             if "LVM version" in line), version.strip()),
        "python": sys.version.split()[0],
        "notify_dbus": notify.partition("=")[2] or "?",
        "emulation": "native" if NATIVE else acceleration(cpuinfo).split()[0],
        "hostname": os.uname().nodename,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "packages": package_versions(),
    }


DEBIAN_PACKAGES = ("lvm2", "lvm2-dbusd", "udisks2", "udisks2-lvm2", "libblockdev-lvm2",
                   "dbus-daemon", "python3-dbus", "linux-image-amd64")


def package_versions() -> dict[str, str | None]:
    """Debian package versions (None: not installed), dbus-fast's and Python's."""
    versions: dict[str, str | None] = {}
    for package in DEBIAN_PACKAGES:
        result = run("dpkg-query", "-W", "-f", "${Version}", "--", package, check=False,
                     timeout=60)
        versions[package] = result.stdout.strip() or None if result.returncode == 0 else None
    from importlib.metadata import version
    versions["dbus-fast"] = version("dbus-fast")
    versions["python"] = sys.version.split()[0]
    return versions


def in_lab_guest() -> bool:
    """The lab guest exports LAB_RESULTS (lab/guest.sh) and boots with virtme's
    kernel parameters; anywhere else this script would touch a real machine."""
    return bool(os.environ.get("LAB_RESULTS")) or \
        "virtme" in Path("/proc/cmdline").read_text()


# ---- the bench VG ----

_UUID_CHARS = string.ascii_letters + string.digits


def lvm_uuid() -> str:
    """A new UUID in LVM's form: 32 characters grouped 6-4-4-4-4-4-6."""
    raw = "".join(random.choices(_UUID_CHARS, k=32))
    cuts = (0, 6, 10, 14, 18, 22, 26, 32)
    return "-".join(raw[a:b] for a, b in zip(cuts, cuts[1:]))


def lv_text(index: int, pv: str, now: int) -> str:
    """One linear LV of one extent, extent `index` of `pv`, inactive, in LVM's
    metadata text format (as `vgcfgbackup` writes an LV)."""
    return (f"\t\tlv{index:05d} {{\n"
            f'\t\t\tid = "{lvm_uuid()}"\n'
            '\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n'
            "\t\t\tflags = []\n"
            f"\t\t\tcreation_time = {now}\n"
            '\t\t\tcreation_host = "lvm-bench"\n'
            "\t\t\tsegment_count = 1\n\n"
            "\t\t\tsegment1 {\n"
            "\t\t\t\tstart_extent = 0\n"
            "\t\t\t\textent_count = 1\n\n"
            '\t\t\t\ttype = "striped"\n'
            "\t\t\t\tstripe_count = 1\n\n"
            "\t\t\t\tstripes = [\n"
            f'\t\t\t\t\t"{pv}", {index}\n'
            "\t\t\t\t]\n"
            "\t\t\t}\n"
            "\t\t}\n")


def with_lvs(backup: str, count: int, spare: int) -> str:
    """An empty VG's `vgcfgbackup` text with `count` LVs added before the VG's closing
    brace, keeping `spare` extents free for the creates the bench times."""
    if "logical_volumes" in backup:
        raise LabError(f"the backup of {VG} lists logical volumes already")
    pv = re.search(r"physical_volumes\s*\{\s*(\w+)\s*\{", backup)
    extents = re.search(r"pe_count\s*=\s*(\d+)", backup)
    lines = backup.rstrip().split("\n")
    if not pv or not extents or lines[-1].rstrip() != "}":
        raise LabError(f"the backup of {VG} is not in the expected form")
    if count + spare > int(extents[1]):
        raise LabError(f"{count} LVs and {spare} spare extents do not fit in "
                       f"{extents[1]} extents")
    now = int(time.time())
    block = ["", "\tlogical_volumes {", "",
             "\n".join(lv_text(i, pv[1], now) for i in range(count)), "\t}"]
    return "\n".join(lines[:-1] + block + lines[-1:]) + "\n"


class BenchVg:
    """VG `benchvg` on a loop device over a sparse file in /tmp (tmpfs in the guest),
    with `count` inactive LVs. `close` takes down exactly what `build` made, in
    reverse, each step tried even when one before it failed."""

    def __init__(self, count: int, spare: int) -> None:
        self.count, self.spare = count, spare
        self.image: Path | None = None
        self.device: str | None = None
        self.made_pv = self.made_vg = False
        self.vg_uuid = ""
        self.lv_uuids: list[str] = []
        self.lv_names: set[str] = set()

    def build(self) -> dict:
        if run("vgs", "--", VG, check=False, timeout=60).returncode == 0:
            raise LabError(f"a VG named {VG} exists already; not touching it")
        fd, name = tempfile.mkstemp(prefix="lvm-bench-", suffix=".img", dir="/tmp")
        self.image = Path(name)
        os.ftruncate(fd, max(IMAGE_SIZE, (self.count + self.spare + 64) * LV_SIZE))
        os.close(fd)
        run("modprobe", "loop", check=False)     # the lab guest loads modules on demand
        self.device = run("losetup", "-f", "--show", str(self.image)).stdout.strip()
        run("pvcreate", "-y", "--metadatasize", "16m", "--", self.device)
        self.made_pv = True
        run("vgcreate", "-s", "4m", "--", VG, self.device)
        self.made_vg = True
        restore = self._restore_with_lvs()
        settle_udev()
        self._check()
        return {"device": self.device, "restore_s": restore}

    def _restore_with_lvs(self) -> float:
        """vgcfgbackup, add the LVs, vgcfgrestore; the seconds the restore took."""
        fd, name = tempfile.mkstemp(prefix="lvm-bench-", suffix=".vg", dir="/tmp")
        os.close(fd)
        backup = Path(name)
        try:
            run("vgcfgbackup", "-f", str(backup), "--", VG)
            backup.write_text(with_lvs(backup.read_text(), self.count, self.spare))
            return timed("vgcfgrestore", "-f", str(backup), "--", VG)
        finally:
            backup.unlink(missing_ok=True)

    def _check(self) -> None:
        """The restore gave N inactive LVs; their UUIDs are what a daemon must show."""
        rows = lvm_report("lvs", "-o", "lv_name,lv_uuid,lv_attr", "--", VG)
        active = [row["lv_name"] for row in rows if row["lv_attr"][4:5] == "a"]
        if len(rows) != self.count or active:
            raise LabError(f"{VG} has {len(rows)} LVs ({len(active)} active) after the "
                           f"restore; expected {self.count}, none active")
        self.lv_uuids = [row["lv_uuid"] for row in rows]
        self.lv_names = {row["lv_name"] for row in rows}
        self.vg_uuid = lvm_report("vgs", "-o", "vg_uuid", "--", VG)[0]["vg_uuid"]

    def remove_extra(self) -> list[str]:
        """Remove every LV the bench made (any name but the N restored ones); the
        names removed. After a service's phase, so the next one starts alike."""
        rows = lvm_report("lvs", "-o", "lv_name", "--", VG)
        extra = [row["lv_name"] for row in rows if row["lv_name"] not in self.lv_names]
        for name in extra:
            run("lvremove", "-y", "--", f"{VG}/{name}", check=False, timeout=COMMAND_TIMEOUT)
        return extra

    def close(self) -> None:
        steps = []
        if self.made_vg:
            # natively there is no device-mapper: LVM must not ask for it
            steps.append(("vgremove", "-f", "-y", *(("--driverloaded", "n") if NATIVE else ()),
                          "--", VG))
        if self.made_pv:
            steps.append(("pvremove", "-ff", "-y", "--", self.device))
        if self.device:
            if not NATIVE:
                steps.append(("udevadm", "settle", "--timeout=60"))
            steps.append(("losetup", "-d", self.device))
        for argv in steps:
            result = run(*argv, check=False, timeout=COMMAND_TIMEOUT)
            if result.returncode != 0:
                print(f"clean-up: {' '.join(argv)} failed: "
                      f"{(result.stderr or result.stdout).strip()}", file=sys.stderr)
        if self.image is not None:
            self.image.unlink(missing_ok=True)
        if self.made_vg:        # what LVM wrote about benchvg on this machine's /etc
            Path("/etc/lvm/backup", VG).unlink(missing_ok=True)
            for path in Path("/etc/lvm/archive").glob(f"{VG}_*.vg"):
                path.unlink(missing_ok=True)


# ---- raw commands ----

async def daemon_report_argv() -> tuple[str, ...]:
    """The exact `lvm fullreport` our daemon runs for a full read, taken from its own
    engine code (one real run through its Runner), so the bench cannot drift from it."""
    runner = Runner()
    await Lvm(runner).report()
    return runner.history[-1]


def lvm_count(accounting, start: int, end: int, parents: set[int] | None = None) -> int | None:
    """`lvm` processes that exited between two marks (of `parents` only, if given)."""
    if accounting is None:
        return None
    return acct.count_lvm(accounting.between(start, end), parents)


async def raw_counted(accounting, argv: tuple[str, ...]) -> dict:
    """The `lvm` processes one raw command starts: 1, the floor."""
    mark = accounting.mark() if accounting else 0
    timed(*argv)
    await asyncio.sleep(0.2)
    return {"all": lvm_count(accounting, mark, accounting.mark() if accounting else 0)}


async def raw_figures(args, stats: dict, accounting) -> dict:
    """The commands as an administrator runs them, and our daemon's own report command
    (in the environment our Runner gives it). Creates activate the LV (the default)."""
    repeats = args.repeats
    reads = {**RAW_REPORTS,
             "list": ("lvs", "--reportformat", "json", "--", VG),
             "prop_read": ("lvs", "--reportformat", "json", "-o", "lv_size", "--units", "b",
                           "--", f"{VG}/lv00000")}
    figures: dict = {key: summary([timed(*argv) for _ in range(repeats)])
                     for key, argv in reads.items()}
    figures["gmo"] = figures["fullreport"]          # the floor of a full read
    argv = await daemon_report_argv()
    runner_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    figures["daemon_report"] = summary([timed(*argv, env=runner_env)
                                        for _ in range(repeats)])
    figures["daemon_report_argv"] = list(argv)
    figures["lvm_processes"] = {"gmo": {"until_idle": await raw_counted(accounting,
                                                                       RAW_REPORTS["fullreport"])},
                                "prop_read": {"until_idle": await raw_counted(accounting,
                                                                             reads["prop_read"])}}
    if args.native:
        return figures
    changes = {"create": lambda i: ("lvcreate", "-y", "-L4m", "-n", f"raw{i}", "--", VG),
               "extend": lambda i: ("lvextend", "-L+4m", "--", f"{VG}/raw{i}"),
               "remove": lambda i: ("lvremove", "-y", "--", f"{VG}/raw{i}")}
    # the same commands as our daemon runs them: its --config and --devices
    from solidice_storage.engine.host.lvm.commands import CONFIG
    (device,) = run("vgs", "--noheadings", "-o", "pv_name", "--", VG).stdout.split()
    ours = ("--config", CONFIG, "--devices", device)
    changes.update({
        "create_as_ours": lambda i: ("lvm", "lvcreate", *ours, "-y", "-L4m", "-n",
                                     f"rawf{i}", "--", VG),
        "extend_as_ours": lambda i: ("lvm", "lvextend", *ours, "-L+4m", "--",
                                     f"{VG}/rawf{i}"),
        "remove_as_ours": lambda i: ("lvm", "lvremove", *ours, "-y", "--", f"{VG}/rawf{i}")})
    for key, argv_of in changes.items():
        runs = []
        for i in range(repeats):
            stats["idle_timeouts"] += not await wait_idle()
            runs.append(timed(*argv_of(i)))
        figures[key] = summary(runs)
    figures["lvcreate"], figures["lvremove"] = figures["create"], figures["remove"]
    figures["lvextend"] = figures["extend"]
    return figures


# ---- D-Bus ----

async def call(bus: MessageBus, destination: str, path: str, interface: str, member: str,
               signature: str = "", body: list | None = None,
               timeout: float = CALL_TIMEOUT) -> Message:
    """The reply, an error reply included: the caller decides what a failure means.
    asyncio.TimeoutError past `timeout`: the call "did not finish"."""
    return await asyncio.wait_for(bus.call(Message(
        destination=destination, path=path, interface=interface, member=member,
        signature=signature, body=body or [])), timeout)


def error_text(reply: Message) -> str | None:
    if reply.message_type != MessageType.ERROR:
        return None
    return f"{reply.error_name}: {reply.body[0] if reply.body else ''}"


async def bus_driver(bus: MessageBus, member: str, signature: str, body: list) -> Message:
    reply = await call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                       "org.freedesktop.DBus", member, signature, body)
    if error_text(reply):
        raise LabError(f"{member} failed: {error_text(reply)}")
    return reply


async def get_property(bus: MessageBus, name: str, path: str, interface: str,
                       prop_name: str) -> Message:
    return await call(bus, name, path, "org.freedesktop.DBus.Properties", "Get", "ss",
                      [interface, prop_name])


class NameWatch:
    """The moment a bus name gets an owner, from the bus's own NameOwnerChanged.
    Polling `busctl` (labhost.name_owner) would start a process every 0.2 s: under
    TCG that takes CPU from the daemon being timed, and blurs the figure as much."""

    def __init__(self, bus: MessageBus, name: str) -> None:
        self.bus, self.name = bus, name
        self.owned = asyncio.Event()
        self.owned_at = 0.0
        self.rule = ("type='signal',sender='org.freedesktop.DBus',"
                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                     f"arg0='{name}'")

    async def __aenter__(self) -> "NameWatch":
        self.bus.add_message_handler(self._on_message)
        await bus_driver(self.bus, "AddMatch", "s", [self.rule])
        if (await bus_driver(self.bus, "NameHasOwner", "s", [self.name])).body[0]:
            raise LabError(f"{self.name} has an owner already")
        return self

    async def __aexit__(self, *exc) -> None:
        self.bus.remove_message_handler(self._on_message)
        await call(self.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                   "org.freedesktop.DBus", "RemoveMatch", "s", [self.rule])

    def _on_message(self, message: Message) -> None:
        if (message.message_type == MessageType.SIGNAL
                and message.member == "NameOwnerChanged"
                and message.body[0] == self.name and message.body[2]
                and not self.owned.is_set()):
            self.owned_at = time.perf_counter()
            self.owned.set()

    async def wait(self, service: Service, deadline: float) -> float:
        """perf_counter() when the name got its owner; fails if the process exits."""
        while not self.owned.is_set():
            if not service.alive():
                raise LabError(f"{service.name} exited {service.proc.returncode} before "
                               f"taking {self.name}; see {service.log_path}")
            if time.perf_counter() > deadline:
                raise LabError(f"{service.name} did not take {self.name} in time")
            try:
                await asyncio.wait_for(self.owned.wait(), 0.1)
            except asyncio.TimeoutError:
                pass
        return self.owned_at


class AddedWatch:
    """Every InterfacesAdded on the bus, with the time it arrived: the LVs a service
    shows, by LV name, as `daemon.added_lv_name` reads them from the signal."""

    RULE = ("type='signal',interface='org.freedesktop.DBus.ObjectManager',"
            "member='InterfacesAdded'")

    def __init__(self, bus: MessageBus, daemon) -> None:
        self.bus, self.daemon = bus, daemon
        self.seen: dict[str, float] = {}          # LV name → first InterfacesAdded
        self.changed = asyncio.Event()

    async def __aenter__(self) -> "AddedWatch":
        self.bus.add_message_handler(self._on_message)
        await bus_driver(self.bus, "AddMatch", "s", [self.RULE])
        return self

    async def __aexit__(self, *exc) -> None:
        self.bus.remove_message_handler(self._on_message)
        with contextlib.suppress(Exception):
            await call(self.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                       "org.freedesktop.DBus", "RemoveMatch", "s", [self.RULE])

    def _on_message(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL or message.member != "InterfacesAdded":
            return
        name = self.daemon.added_lv_name(message.body[1])
        if name is not None and name not in self.seen:
            self.seen[name] = time.perf_counter()
            self.changed.set()

    async def wait_for(self, test, deadline: float, service: Service | None = None):
        """Until test(self.seen) holds; False at `deadline` (or if `service` exits)."""
        while not test(self.seen):
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or (service is not None and not service.alive()):
                return False
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))
        return True


def reply_bytes(reply: Message) -> bytes:
    """The reply as dbus-fast marshals it: header and body, the size that crossed the
    socket to within a few bytes of header padding."""
    return bytes(reply._marshall(False))


def decode_seconds(wire: bytes) -> float | None:
    """Seconds dbus-fast takes to unmarshal this reply: the client's share of a GMO
    time (the anchor's client kept GVariants unparsed). Private API: None if gone."""
    try:
        from dbus_fast._private.unmarshaller import Unmarshaller
    except ImportError:
        return None
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        Unmarshaller(io.BytesIO(wire), negotiate_unix_fd=False).unmarshall()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


# ---- the three services: what differs between them ----

def prop(interfaces: dict, interface: str, name: str):
    """A property's value in one object's interfaces (GMO or InterfacesAdded), or None."""
    variant = interfaces.get(interface, {}).get(name)
    return None if variant is None else variant.value


def bus_env() -> dict:
    """The environment systemd gives a service, and natively the private bus."""
    env = dict(labhost.DAEMON_ENV)
    if NATIVE:
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


# ---- one service, measured ----

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


async def read_figures(bus, daemon, vg_path, lv_path, args, service, accounting,
                       stats) -> dict:
    """GMO, the list of the VG's LVs (R times each) and a property read (many
    times), back to back after one idle wait; then one of each counted."""
    figures: dict = {}
    stats["idle_timeouts"] += not await wait_idle()
    gmo_runs, reply = [], None
    for _ in range(args.repeats):
        seconds, reply = await timed_call(call(bus, daemon.name, daemon.root,
                                               OBJECT_MANAGER, "GetManagedObjects"))
        if error_text(reply):
            raise LabError(f"GetManagedObjects of {daemon.label}: {error_text(reply)}")
        gmo_runs.append(seconds)
    wire = reply_bytes(reply)
    figures.update({"gmo": summary(gmo_runs), "gmo_bytes": len(wire),
                    "gmo_objects": len(reply.body[0]), "gmo_client_decode": decode_seconds(wire)})
    del reply, wire
    list_runs = []
    for _ in range(args.repeats):
        seconds, reply = await timed_call(daemon.list_lvs(bus, vg_path))
        if error_text(reply):
            raise LabError(f"listing the LVs with {daemon.label}: {error_text(reply)}")
        list_runs.append(seconds)
    figures["list"], figures["list_via"] = summary(list_runs), daemon.list_note
    prop_runs = []
    for _ in range(args.property_reads):
        seconds, reply = await timed_call(get_property(
            bus, daemon.name, lv_path, daemon.size_interface, daemon.size_property))
        if error_text(reply):
            raise LabError(f"reading {daemon.size_property}: {error_text(reply)}")
        prop_runs.append(seconds)
    figures["prop_read"] = summary(prop_runs)
    figures["prop_read_via"] = f"Properties.Get {daemon.size_interface}.{daemon.size_property}"
    figures["memory_after_reads"] = memory_mib(service.pid)
    counts = figures["lvm_processes"] = {}
    stats["idle_timeouts"] += not await wait_idle()
    for key, coroutine in (
            ("gmo", lambda: call(bus, daemon.name, daemon.root, OBJECT_MANAGER,
                                 "GetManagedObjects")),
            ("list", lambda: daemon.list_lvs(bus, vg_path)),
            ("prop_read", lambda: get_property(bus, daemon.name, lv_path,
                                               daemon.size_interface, daemon.size_property))):
        with Counter(accounting, service.pid) as counter:
            await coroutine()
        counts[key] = await counter.result(stats)
    return figures


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
        reply = await call(bus, daemon.name, daemon.root, OBJECT_MANAGER, "GetManagedObjects")
        objects = {} if error_text(reply) else reply.body[0]
        vg_path = daemon.find_vg(objects)
        lv_path = daemon.lv_paths(objects, {"lv00000"}).get("lv00000")
        del reply, objects
        if vg_path is None or lv_path is None:
            raise LabError(f"{daemon.label} shows the LVs but not the VG {VG} or lv00000")
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
            changes = await change_figures(bus, daemon, vg_path, args, service, accounting,
                                           stats)
            counts = changes.pop("lvm_processes")
            section.update(changes)
            section["lvm_processes"].update(counts)
            save()
            section.update(await outside_figures(daemon, watch, args, stats))
            log(f"  {daemon.label}: outside lvcreate seen after "
                f"{number(section['outside_from_exit']['median'])} s (from its exit)")
        section["memory_end"] = memory_mib(service.pid)
        section["cpu_end"] = cpu_seconds(service.pid)
    finally:
        await watch.__aexit__()
        section["exit_status"] = service.stop()
        section["idle_timeouts"] = stats["idle_timeouts"]


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
# ---- the lab's own daemon ----

def stop_lab_daemon() -> int | None:
    """Stop the lab's solidice-storaged, if one runs; its PID, or None. It is not our
    child (labhost's `up` started it and exited): wait until its name is gone and the
    process has exited; SIGKILL after 30 s, as labhost.Service.stop does after 20."""
    pid = name_owner(BUS_NAME)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        labhost.wait_for(lambda: not alive(pid), f"solidice-storaged ({pid}) to exit", 30)
    except LabError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        labhost.wait_for(lambda: not alive(pid), f"solidice-storaged ({pid}) to die", 30)
    labhost.wait_for(lambda: name_owner(BUS_NAME) is None, f"{BUS_NAME} to be free", 30)
    return pid


def restart_lab_daemon() -> None:
    """The lab's daemon back as labhost starts it (--debug included), after the bench
    VG is gone, so the lab host is left as it was found."""
    try:
        labhost.start_daemon()
    except LabError as error:
        print(f"the lab's solidice-storaged did not start again: {error}", file=sys.stderr)


# ---- lvmdbusd outside its own phase ----

def lvmdbusd_pids() -> list[int]:
    """Running lvmdbusd processes (`python3 /sbin/lvmdbusd ...`), however started:
    D-Bus activation, the bench, or an administrator."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:2]
        except OSError:
            continue
        if any(arg.rsplit(b"/", 1)[-1] == b"lvmdbusd" for arg in argv) and \
                alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def stop_lvmdbusd() -> list[int]:
    """Stop every running lvmdbusd (SIGTERM, SIGKILL after 30 s); the PIDs stopped."""
    pids = lvmdbusd_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        labhost.wait_for(lambda: not any(alive(pid) for pid in pids), "lvmdbusd to exit", 30)
    except LabError:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        labhost.wait_for(lambda: not any(alive(pid) for pid in pids), "lvmdbusd to die", 30)
    return pids


def keep_lvmdbusd_out(results: dict, args) -> None:
    """Before anything is measured: refuse to run where LVM would D-Bus-activate
    lvmdbusd, and stop one that runs already. Natively the private bus activates
    nothing, and an lvmdbusd of the host's is refused, not stopped."""
    checks = results.setdefault("lvmdbusd_checks", {"stopped_before": [], "seen_during": []})
    if args.native:
        if lvmdbusd_pids():
            raise LabError(f"an lvmdbusd runs on this host ({lvmdbusd_pids()}); not touching it")
        return
    if os.path.exists(LVMDBUS_ACTIVATION) and get(results, "environment",
                                                  "notify_dbus") != "0":
        raise LabError("global/notify_dbus is not 0 while lvm2-dbusd is installed: LVM "
                       "would D-Bus-activate lvmdbusd under the measurements (the lab's "
                       "lvmlocal.conf sets notify_dbus = 0)")
    checks["stopped_before"] = stop_lvmdbusd()
    if checks["stopped_before"]:
        log(f"stopped an lvmdbusd that was running: {checks['stopped_before']}")


def lvmdbusd_ran_during(results: dict, phase: str, args) -> None:
    """After a phase that must run without lvmdbusd: none may be running. One that
    is marks the run (its figures carry lvmdbusd's load) and is stopped."""
    pids = lvmdbusd_pids() if args.native else stop_lvmdbusd()
    if pids:
        results["lvmdbusd_checks"]["seen_during"].append({"phase": phase, "pids": pids})
        log(f"lvmdbusd ran during {phase} (pids {pids}): those figures carry its load")


def get(results: dict, *keys: str):
    """results[k1][k2]...; None where a step is missing (a phase that failed)."""
    value = results
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


# ---- nothing D-Bus-activated behind the bench's back ----

MASKED_ACTIVATION = ("com.redhat.lvmdbus1.service", "org.freedesktop.UDisks2.service",
                     "org.freedesktop.login1.service")
SYSTEM_SERVICES = Path("/usr/share/dbus-1/system-services")


class MaskedActivation:
    """In the guest, the bus's activation directory without lvmdbus1, UDisks2 and
    login1 (the anchor's set-up): a copy of it bind-mounted over it, the bus told to
    reload. The host's /usr is read-only in the guest, so nothing is deleted."""

    def __init__(self) -> None:
        self.copy: Path | None = None

    async def __aenter__(self) -> "MaskedActivation":
        self.copy = Path(tempfile.mkdtemp(prefix="bench-services-", dir="/tmp"))
        for path in SYSTEM_SERVICES.iterdir():
            if path.name not in MASKED_ACTIVATION:
                (self.copy / path.name).write_bytes(path.read_bytes())
        run("mount", "--bind", "--", str(self.copy), str(SYSTEM_SERVICES))
        await self._reload()
        return self

    async def __aexit__(self, *exc) -> None:
        run("umount", "--", str(SYSTEM_SERVICES), check=False)
        with contextlib.suppress(Exception):
            await self._reload()

    async def _reload(self) -> None:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            await bus_driver(bus, "ReloadConfig", "", [])
        finally:
            bus.disconnect()


# ---- natively: a private system bus ----

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """A dbus-daemon of the bench's own, as the system bus of everything it starts
    (DBUS_SYSTEM_BUS_ADDRESS): root may own and call anything, nothing is activated."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bench-bus-", dir="/tmp"))
        self.process: subprocess.Popen | None = None
        self.saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")

    def __enter__(self) -> "PrivateBus":
        config = self.directory / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.directory / "socket"))
        self.process = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
             "--print-address=1"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True)
        address = self.process.stdout.readline().strip()
        if not address:
            raise LabError("the private dbus-daemon printed no address")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
        if self.saved is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.saved
        for path in self.directory.iterdir():
            path.unlink(missing_ok=True)
        self.directory.rmdir()


# ---- the whole run ----

DID_NOT_FINISH = "did not finish"
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


# ---- the command line ----

def sizes(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of LV counts, each >= 1")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lvs", type=sizes, default=[100, 1000, 10000], metavar="N,N,...",
                        help="LV counts, one VG each (default 100,1000,10000)")
    parser.add_argument("--repeats", type=int, default=5, metavar="R",
                        help="runs of each timed step; the median is reported (default 5)")
    parser.add_argument("--property-reads", type=int, default=50, metavar="K",
                        help="property reads timed (default 50)")
    parser.add_argument("--idle-seconds", type=float, default=60, metavar="S",
                        help="the idle window for each service's CPU use (default 60)")
    parser.add_argument("--services", type=lambda text: text.split(","),
                        default=["ours", "lvmdbusd", "udisks2"],
                        help="which services to measure (default ours,lvmdbusd,udisks2)")
    parser.add_argument("--phase-timeout", type=float, default=3600, metavar="S",
                        help="the bound on one service's phase at one N (default 3600)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy over each of our changes into DIR, and our daemon "
                             "with --debug (its commands timed in its log); not a "
                             "figure run: the sampling slows the daemon")
    parser.add_argument("--native", action="store_true",
                        help="on this host, not in the lab guest: a private bus, reads only")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where bench.json goes (default $LAB_RESULTS in the guest, "
                             "bench/results/<date>-native natively)")
    parser.add_argument("--outside-lab", action="store_true",
                        help="run although this does not look like the lab guest")
    args = parser.parse_args(argv)
    OurService.debug = args.profile is not None
    if args.repeats < 1 or args.property_reads < 1 or args.idle_seconds < 0:
        parser.error("--repeats and --property-reads must be at least 1")
    return args


def output_dir(args) -> Path:
    if args.out:
        return args.out
    if args.native:
        return TOP / "bench" / "results" / f"{time.strftime('%Y-%m-%d')}-native"
    return Path(os.environ.get("LAB_RESULTS", "/tmp/lab-results"))


def main(argv: list[str] | None = None) -> int:
    global NATIVE
    args = parse_args(argv)
    NATIVE = args.native
    if os.geteuid() != 0:
        print("lvm_bench: run as root", file=sys.stderr)
        return 2
    if not args.native and not in_lab_guest() and not args.outside_lab:
        print("lvm_bench: this does not look like the lab guest (no LAB_RESULTS, no "
              "virtme boot); it stops solidice-storaged and makes a VG. Use `make bench`, "
              "`--native` on a host, or pass --outside-lab.", file=sys.stderr)
        return 2
    if not (Path(sys.executable).parent / "solidice-storaged").exists():
        print("lvm_bench: run it with the project's virtualenv python (the daemon is "
              "started from the same bin directory)", file=sys.stderr)
        return 2
    results: dict = {"schema": 2, "args": {
        "lvs": args.lvs, "repeats": args.repeats, "property_reads": args.property_reads,
        "idle_seconds": args.idle_seconds, "native": args.native}, "sizes": {}}
    save = Saver(results, output_dir(args))
    status = 0
    try:
        with PrivateBus() if args.native else contextlib.nullcontext():
            asyncio.run(bench(args, results, save))
    except Exception as error:          # report what was measured, then fail
        traceback.print_exc()
        results["error"] = f"{type(error).__name__}: {error}"
        status = 1
    if get(results, "lvmdbusd_checks", "seen_during"):
        status = 1
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    log(f"results: {save.out / 'bench.json'}")
    try:
        import report
        print(report.markdown(results))
        if args.native:
            report.write(results, save.out)
    except Exception as error:           # the JSON is there; bench/report.py redoes it
        print(f"the report failed: {type(error).__name__}: {error}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())

"""LVM at scale: our service next to raw `lvm` and lvmdbusd, in the kernel lab guest.

How to run it: inside the lab guest only, as root, after `python -m tests.lab.labhost up`
(`LAB_MODE=shell lab/run` gives such a shell). From the repository's top:

    python bench/lvm_bench.py [--lvs N] [--repeats R]        # N = 1000, R = 5 by default

`python` must be the project's virtualenv (lab/guest.sh puts it first on PATH): the
daemon is started from that virtualenv's bin directory, as labhost starts it. The
script puts tests/lab and service on sys.path itself; no PYTHONPATH is needed.

What it does, following ../shared/anchor-measurements.md (where the lvmdbusd and udisks2
figures we compare against come from):
1. stops the lab's solidice-storaged, so no daemon reacts to the set-up or to the raw
   commands; builds VG `benchvg` on a loop device over a sparse 8 GiB file in /tmp,
   with N inactive one-extent LVs (a `vgcfgbackup` of the empty VG, N LVs added by a
   generator, `vgcfgrestore -f`);
2. times raw commands as an administrator runs them (median of R);
3. starts solidice-storaged as the unit does and times start-up, GetManagedObjects,
   CreateLogicalVolume and LogicalVolume.Remove; then the same for lvmdbusd if it is
   installed, started by the bench as its unit starts it (each daemon alone on the
   machine). lvmdbusd must not run before that: LVM's `global/notify_dbus` would
   D-Bus-activate it on the first command that changes something, and it would
   reload in the background under the other figures. The lab's lvmlocal.conf sets
   notify_dbus = 0 (the bench refuses to run with it on while lvm2-dbusd is
   installed), any lvmdbusd found running first is stopped, and the bench looks for
   one again after the raw commands and after our daemon's phase: one found there
   marks the run as failed;
4. prints a table and the ratios, and writes $LAB_RESULTS/bench-lvm.json when
   LAB_RESULTS is set; then removes everything it made and starts the lab's daemon
   again (labhost.start_daemon) if one was running.

Between two changes it waits until the whole machine is idle (under 8 % busy for 1 s),
as the anchor's client did, so a daemon's background refresh is not billed to the next
call. Ratios carry over between machines better than seconds (TCG slows Python ~17x).
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
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TOP / "tests" / "lab"), str(TOP / "service")]

from dbus_fast import BusType, Message, MessageType, Variant  # noqa: E402
from dbus_fast.aio import MessageBus  # noqa: E402

import labhost  # noqa: E402
from labhost import BUS_NAME, LabError, Service, lvm_report, name_owner, run, settle  # noqa: E402
from solidice_storage import objpath  # noqa: E402
from solidice_storage.engine.lvm import Lvm  # noqa: E402
from solidice_storage.engine.runner import Runner  # noqa: E402

VG = "benchvg"
MiB = 1024**2
IMAGE_SIZE = 8 * 1024**3             # the anchor's; more when N needs it (sparse anyway)
LV_SIZE = 4 * MiB                     # one extent
IDLE_SHARE, IDLE_WINDOW, IDLE_TIMEOUT = 0.08, 1.0, 300
COMMAND_TIMEOUT = 600                 # s, any one command
CALL_TIMEOUT = 900                    # s, any one D-Bus call (TCG outliers reached 21 s)
START_TIMEOUT = 600                   # s, a daemon's start until ready
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
OURS = "org.solidice.Storage."
LVMDBUSD = "/usr/sbin/lvmdbusd"
LVMDBUS_ACTIVATION = "/usr/share/dbus-1/system-services/com.redhat.lvmdbus1.service"
LVMDBUS_NAME = "com.redhat.lvmdbus1"
LVMDBUS_ROOT = "/com/redhat/lvmdbus1"
LVMDBUS = "com.redhat.lvmdbus1."
RAW_REPORTS = {                       # key → what an administrator types
    "fullreport": ("lvm", "fullreport", "--reportformat", "json"),
    "lvs": ("lvs", "--reportformat", "json"),
    "version": ("lvm", "version"),
}


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
    }


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
        settle()
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
        self.vg_uuid = lvm_report("vgs", "-o", "vg_uuid", "--", VG)[0]["vg_uuid"]

    def close(self) -> None:
        steps = []
        if self.made_vg:
            steps.append(("vgremove", "-f", "-y", "--", VG))
        if self.made_pv:
            steps.append(("pvremove", "-y", "--", self.device))
        if self.device:
            steps.append(("udevadm", "settle", "--timeout=60"))
            steps.append(("losetup", "-d", self.device))
        for argv in steps:
            result = run(*argv, check=False, timeout=COMMAND_TIMEOUT)
            if result.returncode != 0:
                print(f"clean-up: {' '.join(argv)} failed: "
                      f"{(result.stderr or result.stdout).strip()}", file=sys.stderr)
        if self.image is not None:
            self.image.unlink(missing_ok=True)


# ---- raw commands ----

async def daemon_report_argv() -> tuple[str, ...]:
    """The exact `lvm fullreport` our daemon runs for a full read, taken from its own
    engine code (one real run through its Runner), so the bench cannot drift from it."""
    runner = Runner()
    await Lvm(runner).report()
    return runner.history[-1]


async def raw_figures(repeats: int, stats: dict) -> dict:
    """The commands as an administrator runs them, and our daemon's own report command
    (in the environment our Runner gives it). Creates activate the LV (the default)."""
    figures = {key: summary([timed(*argv) for _ in range(repeats)])
               for key, argv in RAW_REPORTS.items()}
    argv = await daemon_report_argv()
    runner_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    figures["daemon_report"] = summary([timed(*argv, env=runner_env)
                                        for _ in range(repeats)])
    figures["daemon_report_argv"] = list(argv)
    creates, removes = [], []
    for i in range(repeats):
        stats["idle_timeouts"] += not await wait_idle()
        creates.append(timed("lvcreate", "-y", "-L4m", "-n", f"raw{i}", "--", VG))
    for i in range(repeats):
        stats["idle_timeouts"] += not await wait_idle()
        removes.append(timed("lvremove", "-y", "--", f"{VG}/raw{i}"))
    figures["lvcreate"], figures["lvremove"] = summary(creates), summary(removes)
    return figures


# ---- D-Bus ----

async def call(bus: MessageBus, destination: str, path: str, interface: str, member: str,
               signature: str = "", body: list | None = None) -> Message:
    """The reply, an error reply included: the caller decides what a failure means."""
    return await asyncio.wait_for(bus.call(Message(
        destination=destination, path=path, interface=interface, member=member,
        signature=signature, body=body or [])), CALL_TIMEOUT)


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


# ---- the two daemons: what differs between them ----

def prop(interfaces: dict, interface: str, name: str):
    """A property's value in one object of a GetManagedObjects reply, or None."""
    variant = interfaces.get(interface, {}).get(name)
    return None if variant is None else variant.value


class OurService:
    """solidice-storaged, started as the unit starts it (labhost.exec_start and the
    unit's environment). Without the lab's --debug: no per-command log line is timed."""

    label, name, root = "ours", BUS_NAME, objpath.ROOT
    prefix = "ours"                       # the names of the LVs it creates

    def __init__(self, vg: BenchVg) -> None:
        self.vg_path = objpath.path("VolumeGroup", vg.vg_uuid)
        self.lv_paths = {objpath.path("LogicalVolume", uuid) for uuid in vg.lv_uuids}

    def start(self) -> Service:
        return Service("solidice-storaged-bench", *labhost.exec_start(),
                       env=dict(labhost.DAEMON_ENV))

    def lv_count(self, objects: dict) -> int:
        return sum(1 for path in self.lv_paths
                   if OURS + "LogicalVolume" in objects.get(path, {}))

    def find_vg(self, objects: dict) -> str | None:
        return self.vg_path if OURS + "VolumeGroup" in objects.get(self.vg_path, {}) else None

    async def create(self, bus: MessageBus, vg_path: str, lv_name: str) -> tuple[str | None, str]:
        reply = await call(bus, self.name, vg_path, OURS + "VolumeGroup",
                           "CreateLogicalVolume", "sta{sv}", [lv_name, LV_SIZE, {}])
        return (None, error_text(reply)) if error_text(reply) else (reply.body[0], "")

    async def remove(self, bus: MessageBus, lv_path: str) -> str | None:
        # force: the contract's option for an LV of a VG the service did not create,
        # which benchvg is (vgcfgrestore made it)
        reply = await call(bus, self.name, lv_path, OURS + "LogicalVolume", "Remove",
                           "a{sv}", [{"force": Variant("b", True)}])
        return error_text(reply)


class Lvmdbusd:
    """lvmdbusd in its default mode (it forks `lvm` with JSON output), in the
    foreground in its own session. API as in lvm2's daemons/lvmdbusd (vg.py, lv.py):
    Vg.LvCreateLinear(s name, t size, b thin_pool, i tmo, a{sv}) → (o lv, o job) and
    Lv.Remove(i tmo, a{sv}) → o job; tmo = -1 waits for the end instead of a job."""

    label, name, root = "lvmdbusd", LVMDBUS_NAME, LVMDBUS_ROOT
    prefix = "lvmdbus"

    def __init__(self, vg: BenchVg) -> None:
        self.lv_uuids = set(vg.lv_uuids)

    def start(self) -> Service:
        # the environment systemd gives a service, as for ours: nothing of this shell's
        # PATH or PYTHONPATH reaches its python
        return Service("lvmdbusd-bench", LVMDBUSD, env=dict(labhost.DAEMON_ENV))

    def lv_count(self, objects: dict) -> int:
        return sum(1 for interfaces in objects.values()
                   if prop(interfaces, LVMDBUS + "LvCommon", "Uuid") in self.lv_uuids)

    def find_vg(self, objects: dict) -> str | None:
        return next((path for path, interfaces in objects.items()
                     if prop(interfaces, LVMDBUS + "Vg", "Name") == VG), None)

    async def create(self, bus: MessageBus, vg_path: str, lv_name: str) -> tuple[str | None, str]:
        reply = await call(bus, self.name, vg_path, LVMDBUS + "Vg", "LvCreateLinear",
                           "stbia{sv}", [lv_name, LV_SIZE, False, -1, {}])
        if error_text(reply):
            return None, error_text(reply)
        lv, job = reply.body[0]
        return (lv, "") if lv != "/" else (None, f"a job ({job}) instead of the LV")

    async def remove(self, bus: MessageBus, lv_path: str) -> str | None:
        reply = await call(bus, self.name, lv_path, LVMDBUS + "Lv", "Remove", "ia{sv}",
                           [-1, {}])
        return error_text(reply)


# ---- one daemon, measured ----

async def managed_objects(bus: MessageBus, daemon) -> tuple[float, Message]:
    started = time.perf_counter()
    reply = await call(bus, daemon.name, daemon.root, OBJECT_MANAGER, "GetManagedObjects")
    return time.perf_counter() - started, reply


async def start_timed(bus: MessageBus, daemon, vg: BenchVg) -> tuple[Service, dict, dict]:
    """Start the daemon and time it as the anchor did: start → its name on the bus, and
    start → the first GetManagedObjects, sent as soon as the name appears, that holds
    every LV of benchvg ("ready"). A reply short of that (or an error: objects not yet
    exported) is asked again 50 ms later, not in a tight loop that would take CPU
    from the load being timed."""
    async with NameWatch(bus, daemon.name) as watch:
        started = time.perf_counter()
        service = daemon.start()
        try:
            owned_at = await watch.wait(service, started + START_TIMEOUT)
            attempts, objects = 0, {}
            while daemon.lv_count(objects) < vg.count:
                if attempts:
                    if not service.alive() or time.perf_counter() > started + START_TIMEOUT:
                        raise LabError(f"{daemon.label} never showed the {vg.count} LVs "
                                       f"of {VG}; see {service.log_path}")
                    await asyncio.sleep(0.05)
                attempts += 1
                _, reply = await managed_objects(bus, daemon)
                objects = {} if error_text(reply) else reply.body[0]
            ready_at = time.perf_counter()
        except BaseException:
            service.stop()
            raise
    return service, {"name_on_bus": owned_at - started, "ready": ready_at - started,
                     "ready_gmo_calls": attempts, "memory_ready": memory_mib(service.pid),
                     "cpu_ready": cpu_seconds(service.pid)}, objects


async def gmo_figures(bus: MessageBus, daemon, repeats: int) -> dict:
    """GetManagedObjects R times back to back, after one idle wait; the reply's size
    and the client's own share of the time."""
    runs, reply = [], None
    for _ in range(repeats):
        seconds, reply = await managed_objects(bus, daemon)
        if error_text(reply):
            raise LabError(f"GetManagedObjects of {daemon.label}: {error_text(reply)}")
        runs.append(seconds)
    wire = reply_bytes(reply)
    return {"gmo": summary(runs), "gmo_bytes": len(wire), "gmo_objects": len(reply.body[0]),
            "gmo_client_decode": decode_seconds(wire)}


async def change_figures(bus: MessageBus, daemon, vg_path: str, repeats: int,
                         stats: dict) -> dict:
    """R creates of a 4 MiB LV (activated), then R removes of them, each after an
    idle wait; failures are counted and their first words kept, not timed."""
    creates, removes, failures, made = [], [], [], []
    for i in range(repeats):
        stats["idle_timeouts"] += not await wait_idle()
        started = time.perf_counter()
        lv_path, error = await daemon.create(bus, vg_path, f"{daemon.prefix}{i}")
        seconds = time.perf_counter() - started
        if lv_path:
            creates.append(seconds)
            made.append(lv_path)
        else:
            failures.append(f"create: {error}"[:300])
    for lv_path in made:
        stats["idle_timeouts"] += not await wait_idle()
        started = time.perf_counter()
        error = await daemon.remove(bus, lv_path)
        seconds = time.perf_counter() - started
        if error:
            failures.append(f"remove: {error}"[:300])
        else:
            removes.append(seconds)
    return {"create": summary(creates), "remove": summary(removes), "failures": failures}


async def measure(bus: MessageBus, daemon, vg: BenchVg, repeats: int) -> dict:
    """One daemon, alone on the machine: start-up, GMO, creates and removes, memory
    and CPU; stopped again at the end."""
    stats = {"idle_timeouts": 0}
    settle()
    stats["idle_timeouts"] += not await wait_idle()
    service, figures, objects = await start_timed(bus, daemon, vg)
    try:
        vg_path = daemon.find_vg(objects)
        if vg_path is None:
            raise LabError(f"{daemon.label} shows the LVs but not the VG {VG}")
        stats["idle_timeouts"] += not await wait_idle()
        figures.update(await gmo_figures(bus, daemon, repeats))
        figures["memory_after_gmo"] = memory_mib(service.pid)
        figures.update(await change_figures(bus, daemon, vg_path, repeats, stats))
        figures["memory_end"] = memory_mib(service.pid)
        figures["cpu_end"] = cpu_seconds(service.pid)
    finally:
        figures["exit_status"] = service.stop()
    return {**figures, **stats}


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


def keep_lvmdbusd_out(results: dict) -> None:
    """Before anything is measured: refuse to run where LVM would D-Bus-activate
    lvmdbusd, and stop one that runs already."""
    checks = results.setdefault("lvmdbusd_checks", {"stopped_before": [], "seen_during": []})
    if os.path.exists(LVMDBUS_ACTIVATION) and get(results, "environment",
                                                  "notify_dbus") != "0":
        raise LabError("global/notify_dbus is not 0 while lvm2-dbusd is installed: LVM "
                       "would D-Bus-activate lvmdbusd under the measurements (the lab's "
                       "lvmlocal.conf sets notify_dbus = 0)")
    checks["stopped_before"] = stop_lvmdbusd()
    if checks["stopped_before"]:
        print(f"stopped an lvmdbusd that was running: {checks['stopped_before']}")


def lvmdbusd_ran_during(results: dict, phase: str) -> None:
    """After a phase that must run without lvmdbusd: none may be running. One that
    is marks the run (its figures carry lvmdbusd's load) and is stopped."""
    pids = stop_lvmdbusd()
    if pids:
        results["lvmdbusd_checks"]["seen_during"].append({"phase": phase, "pids": pids})
        print(f"lvmdbusd ran during {phase} (pids {pids}): those figures carry its load")


# ---- the whole run ----

async def measure_lvmdbusd(bus: MessageBus, vg: BenchVg, repeats: int) -> dict:
    if not os.access(LVMDBUSD, os.X_OK):
        return {"installed": False}
    if (await bus_driver(bus, "NameHasOwner", "s", [LVMDBUS_NAME])).body[0]:
        print(f"lvmdbusd: {LVMDBUS_NAME} is owned already; not measured")
        return {"installed": True, "error": "already running"}
    return {"installed": True, **await measure(bus, Lvmdbusd(vg), vg, repeats)}


async def daemon_phase(label: str, measuring) -> dict:
    """A daemon's figures, or the error that stopped them: the other daemon's phase
    and the report still run."""
    print(f"measuring {label} ...", flush=True)
    try:
        return await measuring
    except Exception as error:
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {error}"}


async def bench(args: argparse.Namespace, results: dict) -> None:
    """Fills `results` as it goes, so a failure still leaves what was measured."""
    results["environment"] = environment()
    vg = BenchVg(args.lvs, spare=args.repeats + 8)     # free extents for the creates
    stopped = None
    try:
        stopped = stop_lab_daemon()
        results["lab_daemon_stopped"] = stopped
        keep_lvmdbusd_out(results)
        print(f"building {VG} with {args.lvs} LVs ...", flush=True)
        results["build"] = vg.build()
        lvmdbusd_ran_during(results, "the set-up")
        print(f"raw commands, {args.repeats} times each ...", flush=True)
        stats = {"idle_timeouts": 0}
        results["raw"] = await raw_figures(args.repeats, stats)
        results["raw"].update(stats)
        lvmdbusd_ran_during(results, "the raw commands")
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            results["ours"] = await daemon_phase(
                "solidice-storaged", measure(bus, OurService(vg), vg, args.repeats))
            lvmdbusd_ran_during(results, "solidice-storaged's phase")
            results["lvmdbusd"] = await daemon_phase(
                "lvmdbusd", measure_lvmdbusd(bus, vg, args.repeats))
        finally:
            bus.disconnect()
    finally:
        vg.close()
        if "lvmdbusd_checks" in results:
            stop_lvmdbusd()            # the host as it was found: no lvmdbusd left
        if stopped is not None:
            restart_lab_daemon()


# ---- the report ----

def get(results: dict, *keys: str):
    """results[k1][k2]...; None where a step is missing (a phase that failed)."""
    value = results
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


RATIOS = (   # (label, (section, key) divided by (section, key)): medians
    ("ours GMO / raw fullreport", ("ours", "gmo"), ("raw", "fullreport")),
    ("ours create / raw lvcreate", ("ours", "create"), ("raw", "lvcreate")),
    ("ours remove / raw lvremove", ("ours", "remove"), ("raw", "lvremove")),
    ("ours ready / its own fullreport command", ("ours", "ready"), ("raw", "daemon_report")),
    ("lvmdbusd GMO / raw fullreport", ("lvmdbusd", "gmo"), ("raw", "fullreport")),
    ("lvmdbusd create / raw lvcreate", ("lvmdbusd", "create"), ("raw", "lvcreate")),
    ("lvmdbusd remove / raw lvremove", ("lvmdbusd", "remove"), ("raw", "lvremove")),
    ("ours / lvmdbusd: GMO", ("ours", "gmo"), ("lvmdbusd", "gmo")),
    ("ours / lvmdbusd: create", ("ours", "create"), ("lvmdbusd", "create")),
    ("ours / lvmdbusd: remove", ("ours", "remove"), ("lvmdbusd", "remove")),
    ("ours / lvmdbusd: ready", ("ours", "ready"), ("lvmdbusd", "ready")),
)


def median(results: dict, section: str, key: str) -> float | None:
    """A figure's median (timings are summaries; start-up figures single runs)."""
    value = get(results, section, key)
    return value.get("median") if isinstance(value, dict) else value


def ratios(results: dict) -> dict[str, float | None]:
    return {label: ratio(median(results, *top), median(results, *bottom))
            for label, top, bottom in RATIOS}


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def timing(value) -> str:
    """A summary as `median [min-max]`, a single figure as itself."""
    if not isinstance(value, dict):
        return number(value)
    if value.get("median") is None:
        return "-"
    return f"{value['median']:.3f} [{value['min']:.2f}-{value['max']:.2f}]"


def pair(a: float | None, b: float | None, digits: int = 1) -> str:
    return "-" if a is None or b is None else f"{a:.{digits}f} / {b:.{digits}f}"


def daemon_cells(section: dict | None, n: int) -> list[tuple[str, str]]:
    """(label, cell) for one daemon's column, in table order."""
    def g(*keys: str):
        return get(section or {}, *keys)
    size = "-" if g("gmo_bytes") is None else \
        f"{g('gmo_bytes') / 1024:.0f} ({g('gmo_objects')})"
    failures = g("failures")
    return [
        ("create 4 MiB LV, activated [s]", timing(g("create"))),
        ("remove that LV [s]", timing(g("remove"))),
        ("start -> name on bus [s]", timing(g("name_on_bus"))),
        (f"start -> GMO with all {n} LVs (ready) [s]", timing(g("ready"))),
        ("GetManagedObjects [s]", timing(g("gmo"))),
        ("  of which client decode (dbus-fast) [s]", timing(g("gmo_client_decode"))),
        ("GMO reply message [KiB] (objects)", size),
        ("VmRSS ready / end [MiB]", pair(g("memory_ready", "VmRSS"),
                                         g("memory_end", "VmRSS"))),
        ("VmHWM (peak) at end [MiB]", number(g("memory_end", "VmHWM"), 1)),
        ("own CPU s until ready / whole run", pair(g("cpu_ready", "own"),
                                                   g("cpu_end", "own"), 2)),
        ("its children's (lvm) CPU s, whole run", number(g("cpu_end", "children"), 2)),
        ("failed creates + removes", "-" if failures is None else str(len(failures))),
        ("idle waits that timed out", number(g("idle_timeouts"), 0)),
    ]


def table(results: dict) -> list[tuple[str, str, str, str]]:
    """Rows of (label, raw, ours, lvmdbusd)."""
    raw = results.get("raw") or {}
    rows = [(label, timing(raw.get(key)), "", "") for label, key in (
        ("lvm fullreport --reportformat json [s]", "fullreport"),
        ("lvs --reportformat json [s]", "lvs"),
        ("our daemon's own fullreport command [s]", "daemon_report"),
        ("lvm version (exec floor) [s]", "version"))]
    raw_cells = {"create 4 MiB LV, activated [s]": timing(raw.get("lvcreate")),
                 "remove that LV [s]": timing(raw.get("lvremove")),
                 "idle waits that timed out": number(raw.get("idle_timeouts"), 0)}
    ours = daemon_cells(results.get("ours"), results["n"])
    lvmdbusd = daemon_cells(results.get("lvmdbusd"), results["n"])
    for (label, our_cell), (_, their_cell) in zip(ours, lvmdbusd):
        rows.append((label, raw_cells.get(label, ""), our_cell, their_cell))
    return rows


def report(results: dict) -> None:
    env = results.get("environment", {})
    build = results.get("build", {})
    print(f"\nran on: kernel {env.get('kernel')}, {env.get('acceleration')}, "
          f"CPU model {env.get('cpu_model')!r}, {env.get('cpus')} CPUs, "
          f"{env.get('memory_mib')} MiB")
    print(f"lvm: {env.get('lvm_version')}")
    print(f"N = {results['n']} inactive LVs in {VG} on {build.get('device', '?')} "
          f"(vgcfgrestore {number(build.get('restore_s'), 2)} s); "
          f"R = {results['repeats']}: medians [min-max]")
    if "error" in results:
        print(f"THE RUN STOPPED EARLY: {results['error']}")
    checks = results.get("lvmdbusd_checks", {})
    if checks.get("seen_during"):
        phases = ", ".join(seen["phase"] for seen in checks["seen_during"])
        print(f"INVALID: lvmdbusd was running during {phases}: those figures carry its load")
    elif checks:
        print(f"lvmdbusd: not running while raw lvm and ours were measured (notify_dbus = "
              f"{env.get('notify_dbus')}; checked before and after each phase"
              + (f"; stopped one found running first: {checks['stopped_before']})"
                 if checks.get("stopped_before") else ")"))
    if get(results, "lvmdbusd", "installed") is False:
        print("lvmdbusd: not installed (apt install lvm2-dbusd)")
    for label in ("ours", "lvmdbusd"):
        if get(results, label, "error"):
            print(f"{label}: failed: {results[label]['error']}")
    print(f"\n{'':44}{'raw':>22}{'ours':>22}{'lvmdbusd':>22}")
    for label, *cells in table(results):
        print(f"{label:44}" + "".join(f"{cell:>22}" for cell in cells))
    print("\nratios of medians (same machine, same run):")
    for label, value in results.get("ratios", {}).items():
        print(f"  {label:44}{number(value, 2):>8}")
    for label in ("ours", "lvmdbusd"):
        for failure in (get(results, label, "failures") or [])[:3]:
            print(f"{label} failure: {failure}")
    print("\nGMO reply size: the whole reply message as dbus-fast marshals it (header + "
          "body),\nthe bytes on the socket. GMO times include the client's decode, shown "
          "apart.")


def write_json(results: dict) -> None:
    where = os.environ.get("LAB_RESULTS")
    if where:
        path = Path(where) / "bench-lvm.json"
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results: {path}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lvs", type=int, default=1000, metavar="N",
                        help="inactive LVs in the bench VG (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, metavar="R",
                        help="runs of each timed step; the median is reported (default 5)")
    parser.add_argument("--outside-lab", action="store_true",
                        help="run although this does not look like the lab guest")
    args = parser.parse_args(argv)
    if args.lvs < 1 or args.repeats < 1:
        parser.error("--lvs and --repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("lvm_bench: run as root, inside the lab guest", file=sys.stderr)
        return 2
    if not in_lab_guest() and not args.outside_lab:
        print("lvm_bench: this does not look like the lab guest (no LAB_RESULTS, no "
              "virtme boot); it stops solidice-storaged and makes a VG. Use "
              "`LAB_MODE=shell lab/run`, or pass --outside-lab.", file=sys.stderr)
        return 2
    if not (Path(sys.executable).parent / "solidice-storaged").exists():
        print("lvm_bench: run it with the project's virtualenv python (the daemon is "
              "started from the same bin directory)", file=sys.stderr)
        return 2
    results: dict = {"n": args.lvs, "repeats": args.repeats}
    status = 0
    try:
        asyncio.run(bench(args, results))
    except Exception as error:          # report what was measured, then fail
        traceback.print_exc()
        results["error"] = f"{type(error).__name__}: {error}"
        status = 1
    if get(results, "lvmdbusd_checks", "seen_during"):
        status = 1
    results["ratios"] = ratios(results)
    report(results)
    write_json(results)
    return status


if __name__ == "__main__":
    sys.exit(main())

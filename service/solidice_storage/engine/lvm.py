"""The only code that runs LVM, and what its reports and errors mean.

Every command is `lvm <command> --config <CONFIG> [--devices <list>] <args>`: an
argument list, `--` before the names a caller gave, under a timeout (Runner), at most
`runner.LIMITS["lvm"]` at a time.

CONFIG keeps LVM from rescanning the world on each call (vdsm's lesson): no hints
file, and the device list from /dev, not from udev's database (a udev database
lagging behind a new map would hide the map from LVM). VG-scoped commands get
`--devices` with the VG's own PVs, so a command never opens a device it has no
business with, and a dead LUN elsewhere cannot stall it.

The devices file, on purpose: Debian 12's lvm2 defaults to `use_devicesfile=0`,
Fedora and RHEL to 1. We do not override the administrator's choice for full
reports (a devices file is how an administrator hides devices from LVM, and we must
see what LVM sees); `--devices` on our VG-scoped commands works either way, and after
`pvcreate` a device is added to the devices file when one is in use
(`lvmdevices --adddev`), so our PVs stay visible to LVM's own tools. In use means
`use_devicesfile=1` *and* the file exists: LVM ignores a devices file that does not
exist and uses every device, and `lvmdevices --adddev` would create one listing only
our PVs, hiding every other PV on the host (its root VG's too) from LVM.

Hints, on purpose: our commands run with `hints="none"` (a hints file is a cache
of which devices are PVs; we name our devices), and LVM skips clearing the hints
file for a command that does not use hints. So after each command that changes
which devices are PVs or which VG names exist, we remove /run/lvm/hints as LVM's own
commands would (hints.c: "a user could also just rm /run/lvm/hints"); otherwise an
administrator's next `pvs` would trust stale hints and miss our new PVs (the lab
showed exactly that).

Reports are `fullreport --reportformat json --units b --nosuffix` (this lvm2 has no
`json_std`: numbers arrive as strings), one process for VGs, PVs and LVs together.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Callable

from ..errors import AlreadyExists, Busy, Failed, InvalidArgument, NoSpace, NotFound, StorageError
from .host.runner import Result, Runner

log = logging.getLogger(__name__)

CONFIG = 'devices { hints="none" obtain_device_list_from_udev=0 }'
TIMEOUT = 120              # seconds, for a command that changes something
REPORT_TIMEOUT = 60
VG_COLUMNS = ("vg_name", "vg_uuid", "vg_size", "vg_free", "vg_extent_size", "vg_tags",
              "vg_attr")
PV_COLUMNS = ("pv_name", "pv_uuid", "pv_size", "pv_free", "pv_used", "vg_uuid", "vg_name")
LV_COLUMNS = ("lv_name", "lv_uuid", "vg_uuid", "vg_name", "lv_size", "lv_path",
              "lv_attr", "origin_uuid", "lv_role")
# commands that change which devices are PVs or which VG names exist: LVM's own
# list of those that clear the hints file (lib/label/hints.c)
GLOBAL_CHANGES = frozenset({"pvcreate", "pvremove", "vgcreate", "vgremove", "vgextend",
                            "vgreduce", "vgrename", "pvchange"})
HINTS_FILE = "/run/lvm/hints"
DEVICES_DIR = "/etc/lvm/devices"        # LVM's system dir + devices/ (lvmdevices(8))
# lvm's exit code when a VG is exported, or partial and some rows are missing:
# the report is still there (lvmdbusd accepts it too)
ECMD_FAILED = 5


@dataclass
class Report:
    vgs: list[dict[str, str]] = field(default_factory=list)
    pvs: list[dict[str, str]] = field(default_factory=list)
    lvs: list[dict[str, str]] = field(default_factory=list)


def parse_report(text: str) -> Report:
    """`lvm fullreport --reportformat json` → rows. Each VG is one report entry;
    orphan PVs come in an entry of their own with no VG."""
    report = Report()
    try:
        entries = json.loads(text)["report"]
    except (ValueError, KeyError, TypeError) as error:
        raise Failed(f"LVM's report could not be read: {error}") from None
    for entry in entries:
        report.vgs.extend(entry.get("vg", []))
        report.pvs.extend(entry.get("pv", []))
        report.lvs.extend(entry.get("lv", []))
    # an orphan PV appears once per entry it is listed in; keep one row per UUID
    report.pvs = list({row["pv_uuid"]: row for row in report.pvs if row.get("pv_uuid")}
                      .values())
    return report


_ERRORS: tuple[tuple[str, type[StorageError]], ...] = (
    ("insufficient free space", NoSpace),
    ("insufficient free extents", NoSpace),
    ("already exists", AlreadyExists),
    ("not found", NotFound),
    ("failed to find", NotFound),
    ("in use", Busy),
    ("open logical volume", Busy),
    ("is open", Busy),
    ("device is busy", Busy),
    ("invalid", InvalidArgument),
)


def error_for(result: Result, doing: str) -> StorageError:
    """The contract's error for a failed LVM command, with LVM's own words."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()
             and not line.strip().startswith(("WARNING", "  WARNING"))]
    reason = " ".join(lines[-2:]) if lines else f"lvm exited {result.returncode}"
    lower = reason.lower()
    for marker, kind in _ERRORS:
        if marker in lower:
            return kind(f"cannot {doing}: {reason}")
    return Failed(f"cannot {doing}: {reason}")


def _argv(command: str, devices: tuple[str, ...] | list[str]) -> list[str]:
    argv = [command, "--config", CONFIG]
    if devices:
        argv += ["--devices", ",".join(devices)]
    return argv


def extents(size: int, extent_size: int) -> int:
    """Whole extents for `size` bytes, rounded up: what `-l` takes. LVM refuses
    `-L <n>b` unless n is a multiple of 512 ("Invalid argument for --size")."""
    if extent_size <= 0:
        raise Failed("the volume group's extent size is unknown")
    return -(-size // extent_size)


class Lvm:
    def __init__(self, runner: Runner, hints_file: str | None = None) -> None:
        self.runner = runner
        self.hints_file = hints_file or HINTS_FILE
        #: whether LVM is set to use a devices file here (`probe`); PVs we create
        #: are added to it while it exists (`devices_file_path`)
        self.devices_file = False
        self.devices_file_path = os.path.join(DEVICES_DIR, "system.devices")

    async def probe(self) -> None:
        """Read the settings that change what we must do: the devices file."""
        result = await self.run("lvmconfig", "--typeconfig", "full",
                                "devices/use_devicesfile", "devices/devicesfile",
                                timeout=REPORT_TIMEOUT)
        settings = dict(line.strip().partition("=")[::2]
                        for line in result.stdout.splitlines() if "=" in line)
        self.devices_file = result.ok and settings.get("use_devicesfile") == "1"
        name = settings.get("devicesfile", "").strip('"')
        if result.ok and name:
            self.devices_file_path = os.path.join(DEVICES_DIR, name)

    def _devices_file_in_use(self) -> bool:
        """Set to use one, and it exists (see the module's docstring). Looked at each
        time: an administrator may create or remove the file while we run."""
        return self.devices_file and os.path.exists(self.devices_file_path)

    async def run(self, command: str, *args: str, devices: tuple[str, ...] | list[str] = (),
                  timeout: float = TIMEOUT) -> Result:
        return await self.runner.run("lvm", *_argv(command, devices), *args,
                                     timeout=timeout)

    async def run_long(self, command: str, *args: str, devices: tuple[str, ...] | list[str],
                       timeout: float, on_line: Callable[[str], None]) -> Result:
        """A command of hours (pvmove), its output line by line: it takes none of
        the runner's LVM slots, which stay for reports, changes and its abort."""
        return await self.runner.run_lines("lvm", *_argv(command, devices), *args,
                                           timeout=timeout, on_line=on_line,
                                           long_running=True)

    async def change(self, doing: str, command: str, *args: str,
                     devices: tuple[str, ...] | list[str] = (),
                     timeout: float = TIMEOUT) -> Result:
        """Run a command that changes something; its failure as a contract error."""
        try:
            result = await self.run(command, *args, devices=devices, timeout=timeout)
        finally:
            if command in GLOBAL_CHANGES:
                self.drop_hints()
        if not result.ok:
            raise error_for(result, doing)
        return result

    async def add_devices(self, devices: list[str]) -> None:
        """Our PVs into LVM's devices file, when one is in use: our commands name
        their devices (`--devices` overrides the file), LVM's tools and our full
        reports do not, and would not see a PV missing from it."""
        if not self._devices_file_in_use():
            return
        for device in devices:
            result = await self.run("lvmdevices", "--adddev", device)
            if not result.ok and "already" not in (result.stderr + result.stdout).lower():
                raise error_for(result, f"add {device} to LVM's devices file")

    async def remove_devices(self, devices: list[str]) -> None:
        """Entries of devices that are no longer PVs out of the devices file."""
        if not self._devices_file_in_use():
            return
        for device in devices:
            result = await self.run("lvmdevices", "--deldev", device)
            if not result.ok:
                log.warning("%s stays in LVM's devices file: %s", device,
                            result.error_line())

    def drop_hints(self) -> None:
        """Remove LVM's hints file (see the module's docstring); the next command
        that uses hints scans and writes a new one. /run is tmpfs: no hang."""
        try:
            os.unlink(self.hints_file)
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("cannot remove %s (LVM's tools may miss new PVs until "
                        "`pvscan --cache`): %s", self.hints_file, error)

    async def vg_names(self) -> set[str]:
        """The names of every VG LVM finds, on any device it may use (no
        `--devices`: the administrator's devices file still applies)."""
        result = await self.run("vgs", "--reportformat", "json", "-o", "vg_name",
                                timeout=REPORT_TIMEOUT)
        if not result.ok and not (result.returncode == ECMD_FAILED
                                  and result.stdout.strip().startswith("{")):
            raise error_for(result, "list the volume groups")
        return {row.get("vg_name", "") for row in parse_report(result.stdout).vgs}

    async def vg_uuid_on(self, name: str, devices: list[str]) -> str:
        """The UUID of VG `name` as LVM reports it on exactly `devices` (the PVs a
        vgcreate was given): that VG, whatever else bears its name."""
        result = await self.run("vgs", "--reportformat", "json", "-o", "vg_name,vg_uuid",
                                devices=devices, timeout=REPORT_TIMEOUT)
        if not result.ok:
            raise error_for(result, f"read volume group {name}")
        uuids = {row.get("vg_uuid") for row in parse_report(result.stdout).vgs
                 if row.get("vg_name") == name}
        if len(uuids) != 1:
            raise Failed(f"volume group {name} is not on {', '.join(devices)} after "
                         "vgcreate")
        return uuids.pop()

    async def report(self, vg_names: tuple[str, ...] | list[str] = (),
                     devices: tuple[str, ...] | list[str] = ()) -> tuple[Report, Result]:
        """One fullreport: every VG (and the orphan PVs), or only `vg_names`."""
        args = ["--reportformat", "json", "--units", "b", "--nosuffix",
                "--configreport", "vg", "-o", ",".join(VG_COLUMNS),
                "--configreport", "pv", "-o", ",".join(PV_COLUMNS),
                "--configreport", "lv", "-o", ",".join(LV_COLUMNS),
                "--configreport", "seg", "-o", "lv_uuid",
                "--configreport", "pvseg", "-o", "pv_uuid"]
        if vg_names:
            args += ["--", *vg_names]
        result = await self.run("fullreport", *args, devices=devices, timeout=REPORT_TIMEOUT)
        if not result.ok and not (result.returncode == ECMD_FAILED
                                  and result.stdout.strip().startswith("{")):
            raise error_for(result, "read LVM's state")
        return parse_report(result.stdout), result

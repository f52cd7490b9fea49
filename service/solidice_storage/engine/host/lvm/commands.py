# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every LVM command the service runs, built here and nowhere else, and what LVM's
errors mean.

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

import logging
import os
from typing import Callable, Sequence

from ....errors import AlreadyExists, Busy, Failed, InvalidArgument, NoSpace, NotFound, StorageError
from ...protocol import MANAGED_TAG
from ..runner import Result, Runner
from .report import LV_COLUMNS, PV_COLUMNS, VG_COLUMNS, Report, parse_report

log = logging.getLogger(__name__)

CONFIG = 'devices { hints="none" obtain_device_list_from_udev=0 }'
TIMEOUT = 120              # seconds, for a command that changes something
REPORT_TIMEOUT = 60
MOVE_TIMEOUT = 24 * 3600   # a pvmove of a big PV takes hours; cancel is the way
# commands that change which devices are PVs or which VG names exist: LVM's own
# list of those that clear the hints file (lib/label/hints.c)
GLOBAL_CHANGES = frozenset({"pvcreate", "pvremove", "vgcreate", "vgremove", "vgextend",
                            "vgreduce", "vgrename", "pvchange"})
HINTS_FILE = "/run/lvm/hints"
DEVICES_DIR = "/etc/lvm/devices"        # LVM's system dir + devices/ (lvmdevices(8))
# lvm's exit code when a VG is exported, or partial and some rows are missing:
# the report is still there (lvmdbusd accepts it too)
ECMD_FAILED = 5
Devices = Sequence[str]

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


def _argv(command: str, devices: Devices) -> list[str]:
    argv = [command, "--config", CONFIG]
    if devices:
        argv += ["--devices", ",".join(devices)]
    return argv


def _report_read(result: Result, doing: str) -> Report:
    """A report's rows; one that lvm exited 5 on but printed is still read."""
    if not result.ok and not (result.returncode == ECMD_FAILED
                              and result.stdout.strip().startswith("{")):
        raise error_for(result, doing)
    return parse_report(result.stdout)


class LvmCommands:
    """The `lvm` tool: one method per command the engine runs."""

    def __init__(self, runner: Runner, hints_file: str | None = None,
                 devices_dir: str = DEVICES_DIR) -> None:
        self.runner = runner
        self.hints_file = hints_file or HINTS_FILE
        self.devices_dir = devices_dir
        #: whether LVM is set to use a devices file here (`probe`); PVs we create
        #: are added to it while it exists (`devices_file_path`)
        self.devices_file = False
        self.devices_file_path = os.path.join(devices_dir, "system.devices")

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
            self.devices_file_path = os.path.join(self.devices_dir, name)

    def _devices_file_in_use(self) -> bool:
        """Set to use one, and it exists (see the module's docstring). Looked at each
        time: an administrator may create or remove the file while we run."""
        return self.devices_file and os.path.exists(self.devices_file_path)

    async def run(self, command: str, *args: str, devices: Devices = (),
                  timeout: float = TIMEOUT) -> Result:
        return await self.runner.run("lvm", *_argv(command, devices), *args,
                                     timeout=timeout)

    async def change(self, doing: str, command: str, *args: str, devices: Devices = (),
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

    # ---- the devices file ----

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

    # ---- reports ----

    async def vg_names(self) -> set[str]:
        """The names of every VG LVM finds, on any device it may use (no
        `--devices`: the administrator's devices file still applies)."""
        result = await self.run("vgs", "--reportformat", "json", "-o", "vg_name",
                                timeout=REPORT_TIMEOUT)
        return {row.get("vg_name", "") for row in
                _report_read(result, "list the volume groups").vgs}

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

    async def report(self, vg_names: Sequence[str] = (),
                     devices: Devices = ()) -> tuple[Report, Result]:
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
        return _report_read(result, "read LVM's state"), result

    async def hidden_lvs(self, vg_name: str, devices: Devices) -> Report:
        """The VG's LVs with the hidden ones (a pvmove's: fullreport leaves it out)."""
        result = await self.run("lvs", "-a", "--reportformat", "json", "-o",
                                "lv_name,lv_attr", "--", vg_name, devices=devices)
        if not result.ok:
            raise error_for(result, f"look for a data move in {vg_name}")
        return parse_report(result.stdout)

    # ---- physical volumes ----

    async def pvcreate(self, devices: list[str], wipe: bool) -> None:
        await self.change(f"make physical volumes of {', '.join(devices)}", "pvcreate",
                          *(["-y"] if wipe else []), "--", *devices, devices=devices)

    async def pvremove(self, devices: list[str], doing: str) -> None:
        await self.change(doing, "pvremove", "-y", "--", *devices, devices=devices)

    async def pvresize(self, device: str, devices: Devices) -> None:
        await self.change(f"resize the physical volume on {device}", "pvresize", "--",
                          device, devices=devices)

    async def pvmove(self, device: str, devices: Devices,
                     on_line: Callable[[str], None]) -> Result:
        """The data off `device`, its output line by line (`--atomic`: an aborted
        move leaves every extent where it was). A command of hours: it takes none
        of the runner's LVM slots, which stay for reports, changes and its abort."""
        return await self.runner.run_lines(
            "lvm", *_argv("pvmove", devices), "-i", "1", "--atomic", "--", device,
            timeout=MOVE_TIMEOUT, on_line=on_line, long_running=True)

    async def abort_moves(self, devices: Devices, doing: str | None = None) -> Result:
        """`pvmove --abort`; with `doing`, its failure as a contract error."""
        if doing is None:
            return await self.run("pvmove", "--abort", devices=devices)
        return await self.change(doing, "pvmove", "--abort", devices=devices)

    # ---- volume groups ----

    async def vgcreate(self, name: str, devices: list[str], extent_size: int | None) -> None:
        extent = ["-s", f"{extent_size}b"] if extent_size is not None else []
        await self.change(f"create volume group {name}", "vgcreate", "--addtag",
                          MANAGED_TAG, *extent, "--", name, *devices, devices=devices)

    async def vgextend(self, name: str, new: list[str], devices: Devices) -> None:
        await self.change(f"extend volume group {name}", "vgextend", "--", name, *new,
                          devices=devices)

    async def vgreduce(self, name: str, device: str, devices: Devices) -> None:
        await self.change(f"take {device} out of {name}", "vgreduce", "--", name, device,
                          devices=devices)

    async def vgremove(self, name: str, devices: Devices) -> None:
        await self.change(f"remove volume group {name}", "vgremove", "-y", "-f", "--",
                          name, devices=devices)

    # ---- logical volumes ----

    async def lvcreate(self, vg_name: str, name: str, extents: int, active: bool,
                       devices: Devices) -> None:
        inactive = [] if active else ["-an", "-Zn"]
        await self.change(f"create {vg_name}/{name}", "lvcreate", "-y", "-l", str(extents),
                          "-n", name, *inactive, "--", vg_name, devices=devices)

    async def lvcreate_snapshot(self, vg_name: str, origin: str, name: str, extents: int,
                                devices: Devices) -> None:
        await self.change(f"snapshot {vg_name}/{origin}", "lvcreate", "-y", "-s", "-l",
                          str(extents), "-n", name, "--", f"{vg_name}/{origin}",
                          devices=devices)

    async def lvextend(self, vg_name: str, name: str, extents: int,
                       devices: Devices) -> None:
        await self.change(f"extend {vg_name}/{name}", "lvextend", "-l", f"+{extents}",
                          "--", f"{vg_name}/{name}", devices=devices)

    async def lvresize(self, vg_name: str, name: str, extents: int, shrink: bool,
                       devices: Devices) -> None:
        """The LV becomes `extents` extents. Shrinking: `-f` answers LVM's "Do you
        really want to reduce" (the caller said `shrink`; open LVs are refused
        before). Never `-r`: no filesystem is touched."""
        await self.change(f"resize {vg_name}/{name}", "lvresize", *(["-f"] if shrink else []),
                          "-l", str(extents), "--", f"{vg_name}/{name}", devices=devices)

    async def lvrename(self, vg_name: str, name: str, new: str, devices: Devices) -> None:
        await self.change(f"rename {vg_name}/{name} to {new}", "lvrename", "--", vg_name,
                          name, new, devices=devices)

    async def vgrename(self, name: str, new: str, devices: Devices) -> None:
        await self.change(f"rename volume group {name} to {new}", "vgrename", "--", name,
                          new, devices=devices)

    async def vgrefresh(self, name: str, devices: Devices) -> None:
        """The VG's active LVs reloaded from its metadata (their maps renamed after
        the VG's own name, when vgrename left the old ones)."""
        await self.change(f"refresh volume group {name}", "vgchange", "--refresh", "--",
                          name, devices=devices)

    async def change_tags(self, kind: str, target: str, add: Sequence[str],
                          remove: Sequence[str], devices: Devices) -> None:
        """Tags added to and removed from `target`: a VG name, `vg/lv`, or a PV's
        device (`kind`: "vg", "lv", "pv"), in one command."""
        command = {"vg": "vgchange", "lv": "lvchange", "pv": "pvchange"}[kind]
        args = [arg for tag in add for arg in ("--addtag", tag)]
        args += [arg for tag in remove for arg in ("--deltag", tag)]
        await self.change(f"change the tags of {target}", command, *args, "--", target,
                          devices=devices)

    async def lvremove(self, vg_name: str, name: str, devices: Devices) -> None:
        await self.change(f"remove {vg_name}/{name}", "lvremove", "-y", "--",
                          f"{vg_name}/{name}", devices=devices)

    async def lvchange(self, vg_name: str, name: str, active: bool,
                       devices: Devices) -> None:
        await self.change(f"{'activate' if active else 'deactivate'} {vg_name}/{name}",
                          "lvchange", "-ay" if active else "-an", "--", f"{vg_name}/{name}",
                          devices=devices)

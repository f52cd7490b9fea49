# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bench VG: `benchvg` on a loop device, with N inactive one-extent LVs loaded
at once by vgcfgrestore from LVM's own metadata text."""

import os
import random
import re
import string
import sys
import tempfile
import time
from pathlib import Path

from lab.host import LabError, lvm_report, run

from . import common
from .common import COMMAND_TIMEOUT, IMAGE_SIZE, LV_SIZE, VG, settle_udev, timed


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
            steps.append(("vgremove", "-f", "-y", *(("--driverloaded", "n") if common.NATIVE else ()),
                          "--", VG))
        if self.made_pv:
            steps.append(("pvremove", "-ff", "-y", "--", self.device))
        if self.device:
            if not common.NATIVE:
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

# SPDX-License-Identifier: LGPL-2.1-or-later
"""device-mapper, read through `dmsetup`: the one place that runs it."""

from ...errors import Failed
from .multipath import parse_dm_status
from .runner import Runner

DMSETUP_TIMEOUT = 30


async def multipath_path_states(runner: Runner) -> dict[str, dict[str, str]]:
    """Map name → {path major:minor → state}, from `dmsetup status` (the kernel's own
    answer); empty without device-mapper's tools or when dmsetup fails."""
    if not runner.has("dmsetup"):
        return {}
    result = await runner.run("dmsetup", "status", "--target", "multipath",
                              timeout=DMSETUP_TIMEOUT)
    return parse_dm_status(result.stdout) if result.ok else {}


async def open_lvm_uuids(runner: Runner) -> set[str]:
    """The concatenated VG+LV UUIDs (no dashes) of the LVM maps something holds open,
    from device-mapper's open counts: fresher than LVM's report, and no LVM process.
    Empty without device-mapper's tools (nothing can be active)."""
    if not runner.has("dmsetup"):
        return set()
    result = await runner.run("dmsetup", "info", "-c", "--noheadings", "--separator", ":",
                              "-o", "uuid,open", timeout=DMSETUP_TIMEOUT)
    if not result.ok:
        raise Failed(f"cannot read device-mapper's open counts: {result.error_line()}")
    opened = set()
    for line in result.stdout.splitlines():
        uuid, _, count = line.strip().rpartition(":")
        # LVM-<vg uuid><lv uuid>, 68 characters; "-real", "-cow" are LVM's own
        # layers under a snapshot, held by it, never by a user
        if (uuid.startswith("LVM-") and len(uuid) == 68 and count.strip().isdigit()
                and int(count) > 0):
            opened.add(uuid[4:])
    return opened

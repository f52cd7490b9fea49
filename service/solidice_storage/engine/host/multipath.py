# SPDX-License-Identifier: LGPL-2.1-or-later
"""multipath and multipathd: the one place that runs them; and device-mapper's view
of each path of each multipath map, parsed.

Source: `dmsetup status --target multipath`, the kernel's own answer (docs/api.md:
Lun.Paths states are device-mapper's view). Asking multipathd instead could race
its own handling of the uevent that told us something changed. Test data:
tests/unit/data/lab/dmsetup-status*.txt.
"""

import asyncio
import logging

from ...errors import Busy, Failed
from ...models import PathState
from .runner import Runner

log = logging.getLogger(__name__)
ASK_TIMEOUT = 15            # multipathd's answer to a question
FLUSH_TIMEOUT = 30
RESIZE_TIMEOUT = 60


def parse_dm_status(text: str) -> dict[str, dict[str, PathState]]:
    """Map name → {path major:minor → state}, from `dmsetup status --target
    multipath`: the kernel's own view of each path (A active, F failed).

    Per line: `<name>: <start> <len> multipath <#features> <features…> <#hw args>
    <hw args…> <#groups> <next group>`, then per group `<state> <#group args>
    <args…> <#paths> <#selector args>`, then per path `<maj:min> <A|F> <fails>
    <selector args…>` (the kernel's dm-multipath documentation)."""
    maps: dict[str, dict[str, PathState]] = {}
    for line in text.splitlines():
        name, _, status = line.partition(": ")
        words = status.split()
        if len(words) < 3 or words[2] != "multipath":
            continue
        try:
            at = 3
            at += 1 + int(words[at])                  # features
            at += 1 + int(words[at])                  # hardware handler arguments
            groups = int(words[at])
            at += 2
            paths: dict[str, PathState] = {}
            for _ in range(groups):
                at += 1                               # group state
                at += 1 + int(words[at])              # group status arguments
                count, selector_args = int(words[at]), int(words[at + 1])
                at += 2
                for _ in range(count):
                    paths[words[at]] = {"A": "active", "F": "failed"}.get(words[at + 1],
                                                                        "unknown")
                    at += 3 + selector_args
        except (IndexError, ValueError):
            raise Failed(f"cannot read dmsetup's status of {name}: {status!r}") from None
        maps[name] = paths
    return maps


async def multipathd_running(runner: Runner) -> bool:
    """Whether multipathd answers (it makes the maps of the paths it claims)."""
    if not runner.has("multipathd"):
        return False
    result = await runner.run("multipathd", "show", "daemon", timeout=ASK_TIMEOUT)
    return result.ok and "pid" in result.stdout


async def claims(runner: Runner, node: str) -> bool:
    """Whether multipathd will make a map of the path at `node` (`multipath -c`: the
    check its udev rules make, blacklist and find_multipaths included)."""
    if not runner.has("multipath"):
        return False
    result = await runner.run("multipath", "-c", node, timeout=ASK_TIMEOUT)
    return result.ok


async def flush_maps(runner: Runner, maps: list[str]) -> None:
    """Remove multipath maps about to lose their last path. `Busy` if one is in
    use; udev's probe may hold a new map for a moment, so that is retried."""
    for name in maps:
        for attempt in range(10):
            result = await runner.run("multipath", "-f", "--", name, timeout=FLUSH_TIMEOUT)
            if result.ok:
                break
            if "in use" not in result.stderr and "in use" not in result.stdout:
                raise Failed(f"cannot remove multipath map {name}: {result.error_line()}")
            await asyncio.sleep(0.5)
        else:
            raise Busy(f"multipath map {name} is in use (open, or holding a volume "
                       "group); close it first")


async def resize_map(runner: Runner, name: str, wwid: str) -> None:
    """The map `name` takes its paths' size; a failure is logged (the map keeps
    working at its old size)."""
    result = await runner.run("multipathd", "resize", "map", name, timeout=RESIZE_TIMEOUT)
    if not result.ok or "fail" in result.stdout:
        log.warning("multipathd could not resize %s: %s", wwid,
                    result.error_line() if not result.ok else result.stdout)

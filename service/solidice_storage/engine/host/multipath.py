"""device-mapper's view of each path of each multipath map, parsed.

Source: `dmsetup status --target multipath`, the kernel's own answer (DESIGN.md:
path states are "from device-mapper's view"). Asking multipathd instead could race
its own handling of the uevent that told us something changed. Test data:
tests/unit/data/lab/dmsetup-status*.txt.
"""

from ...errors import Failed
from ...models import PathState


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

"""multipathd's view of the host's multipath maps, parsed.

Source: `multipathd show maps json` (multipath-tools 0.9). Each map is named by its
WWID (`user_friendly_names no`); each path carries its device-mapper state, and for
iSCSI its target (`target_wwnn`). Its `host_adapter` is the initiator's own address,
not the portal: which portal a path goes through comes from iscsiadm
(`iscsi_parse.parse_session_disks`). Test data:
tests/unit/data/lab/multipathd-show-maps-json*.txt.
"""

import json
from dataclasses import dataclass

from ..errors import Failed
from ..models import PathState

_UNDEFINED = "[undef]"


@dataclass(frozen=True)
class MapPath:
    device: str                 # sdX
    state: PathState            # device-mapper's view: active, failed, unknown
    target: str | None = None   # iSCSI target name, when the path is iSCSI


@dataclass(frozen=True)
class MultipathMap:
    wwid: str
    sysfs_name: str             # dm-N
    paths: tuple[MapPath, ...]

    @property
    def device(self) -> str:
        return f"/dev/mapper/{self.wwid}"


def _state(dm_state: str) -> PathState:
    return dm_state if dm_state in ("active", "failed") else "unknown"   # type: ignore


def _defined(value: str | None) -> str | None:
    return None if value in (None, "", _UNDEFINED) else value


def parse_maps(text: str) -> dict[str, MultipathMap]:
    """WWID → map, from `multipathd show maps json`."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise Failed(f"multipathd answered something that is not JSON: {error}") from None
    maps = {}
    for item in document.get("maps", []):
        paths = tuple(
            MapPath(device=path["dev"], state=_state(path.get("dm_st", "")),
                    target=_defined(path.get("target_wwnn")))
            for group in item.get("path_groups", []) for path in group.get("paths", []))
        maps[item["name"]] = MultipathMap(wwid=item["name"], sysfs_name=item.get("sysfs", ""),
                                          paths=paths)
    return maps


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

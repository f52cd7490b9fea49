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

# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/multipath.py on device-mapper's real output (tests/unit/data/lab)."""

from pathlib import Path

import pytest

from solidice_storage.engine.host.multipath import parse_dm_status
from solidice_storage.errors import Failed

DATA = Path(__file__).parent.parent / "data/lab"


def stdout(name: str) -> str:
    text = (DATA / name).read_text()
    return text.split("# stdout:\n", 1)[1].split("# stderr:\n", 1)[0]


def test_device_mappers_view_of_each_path():
    healthy = parse_dm_status(stdout("dmsetup-status.txt"))
    assert len(healthy) == 4
    assert all(list(paths.values()) == ["active", "active"] for paths in healthy.values())
    failed = parse_dm_status(stdout("dmsetup-status-failed-path.txt"))
    assert failed["360014050b2ad49498d048429d4213f47"] == {"8:16": "failed", "8:64": "active"}
    assert sum(list(p.values()).count("failed") for p in failed.values()) == 1


def test_no_maps_and_garbage():
    assert parse_dm_status("") == {}
    assert parse_dm_status("vg-lv: 0 2048 linear\n") == {}
    with pytest.raises(Failed, match="cannot read"):
        parse_dm_status("x: 0 1 multipath 2 0")

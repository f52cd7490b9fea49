"""engine/multipath.py on multipathd's real output (tests/unit/data/lab)."""

from pathlib import Path

import pytest

from solidice_storage.engine.multipath import MapPath, parse_maps
from solidice_storage.errors import Failed

DATA = Path(__file__).parent / "data/lab"


def stdout(name: str) -> str:
    text = (DATA / name).read_text()
    return text.split("# stdout:\n", 1)[1].split("# stderr:\n", 1)[0]


def test_four_lab_maps_each_on_two_active_iscsi_paths():
    maps = parse_maps(stdout("multipathd-show-maps-json.txt"))
    assert len(maps) == 4
    for wwid, item in maps.items():
        assert wwid.startswith("36001405") and item.device == f"/dev/mapper/{wwid}"
        assert item.sysfs_name.startswith("dm-")
        assert [p.state for p in item.paths] == ["active", "active"]
        assert {p.target for p in item.paths} == {"iqn.2026-11.org.solidice.lab:data"}
    devices = [p.device for item in maps.values() for p in item.paths]
    assert len(devices) == len(set(devices)) == 8


def test_a_failed_path():
    maps = parse_maps(stdout("multipathd-show-maps-json-failed-path.txt"))
    failed = [(wwid, p) for wwid, item in maps.items() for p in item.paths
              if p.state == "failed"]
    assert len(failed) == 1
    wwid, path = failed[0]
    assert path == MapPath("sdb", "failed", "iqn.2026-11.org.solidice.lab:data")
    assert [p.state for p in maps[wwid].paths].count("active") == 1


def test_no_maps_and_garbage():
    assert parse_maps('{"major_version": 0, "minor_version": 1, "maps": []}') == {}
    with pytest.raises(Failed, match="not JSON"):
        parse_maps("timeout\n")


def test_device_mappers_view_of_each_path():
    from solidice_storage.engine.multipath import parse_dm_status
    healthy = parse_dm_status(stdout("dmsetup-status.txt"))
    assert len(healthy) == 4
    assert all(list(paths.values()) == ["active", "active"] for paths in healthy.values())
    failed = parse_dm_status(stdout("dmsetup-status-failed-path.txt"))
    assert failed["360014050b2ad49498d048429d4213f47"] == {"8:16": "failed", "8:64": "active"}
    assert parse_dm_status("") == {}
    with pytest.raises(Failed, match="cannot read"):
        parse_dm_status("x: 0 1 multipath 2 0")

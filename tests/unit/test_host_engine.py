"""engine/host.py's rules on a host described in memory: the path-device rule and
WWID resolution the LVM engine uses, and which maps a logout would leave pathless.
The same code on real devices is proven in tests/lab."""

import pytest

from solidice_storage.engine.blockdev import Disk
from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.iscsi import SysSession
from solidice_storage.errors import Busy, NotFound

WWID_A = "36001405aaaaaaaaaaaaaaaaaaaaaaaaa"
WWID_B = "36001405bbbbbbbbbbbbbbbbbbbbbbbbb"
TARGET = "iqn.2026-11.org.solidice.lab:data"


def disk(name, wwid, **more):
    node = f"/dev/mapper/{wwid}" if more.get("multipath") else f"/dev/{name}"
    return Disk(name=name, node=node, size=64 << 20, wwid=wwid, **more)


@pytest.fixture
def engine():
    engine = HostEngine()
    engine._disks = [
        disk("dm-0", WWID_A, multipath=True, slaves=["sda", "sdb"]),
        disk("sda", WWID_A, path_of=WWID_A, iscsi_session=1),
        disk("sdb", WWID_A, path_of=WWID_A, iscsi_session=2),
        disk("dm-1", WWID_B, multipath=True, slaves=["sdc"], holders=["dm-5"], status="other"),
        disk("sdc", WWID_B, path_of=WWID_B, iscsi_session=2),
        disk("vda", "pci-0000:00:04.0"),
    ]
    return engine


def test_a_path_device_is_no_lun_for_lvm(engine):
    assert engine.lun_for_device("/dev/sda") is None
    assert engine.lun_for_device("/dev/dm-0") == WWID_A
    assert engine.lun_for_device("/dev/vda") == "pci-0000:00:04.0"
    assert engine.lun_for_device("/dev/nonexistent") is None


def test_wwid_resolves_to_the_map_in_any_spelling(engine):
    assert engine.device_for_wwid(WWID_A) == f"/dev/mapper/{WWID_A}"
    assert engine.device_for_wwid("naa." + WWID_B[1:]) == f"/dev/mapper/{WWID_B}"
    with pytest.raises(NotFound):
        engine.device_for_wwid("36001405ccccccccccccccccccccccccc")


def test_logout_flushes_only_maps_it_leaves_pathless(engine):
    first = SysSession(1, TARGET, "127.0.0.1:3260", "LOGGED_IN")
    assert engine._maps_left_without_paths(first) == []       # dm-0 keeps sdb
    engine._disks[3].holders = []
    second = SysSession(2, TARGET, "127.0.0.2:3260", "LOGGED_IN")
    assert engine._maps_left_without_paths(second) == [WWID_B]


def test_logout_refuses_to_take_the_last_path_of_a_map_in_use(engine):
    second = SysSession(2, TARGET, "127.0.0.2:3260", "LOGGED_IN")
    with pytest.raises(Busy, match="held by dm-5"):
        engine._maps_left_without_paths(second)


def test_session_objects_list_the_maps_behind_them(engine):
    session = engine._session(SysSession(2, TARGET, "127.0.0.2:3260", "LOGGED_IN"))
    assert session.key == f"{TARGET}@127.0.0.2:3260"
    assert session.luns == (WWID_A, WWID_B)


def test_block_info_of_a_path_names_its_map(engine):
    info = engine._block_info("sdc")
    assert (info.type, info.used_by, info.uuid) == ("disk", f"multipath:/dev/mapper/{WWID_B}",
                                                    WWID_B)
    assert engine._block_info(WWID_B).used_by == "holders:dm-5"

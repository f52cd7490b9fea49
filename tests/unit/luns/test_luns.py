# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/luns/luns.py's rules on a host described in memory: the path-device
rule and WWID resolution the LVM domain uses, block information of a path, and a
path multipath will claim kept out until its map exists. The same code on real
devices is proven in tests/lab."""

import pytest

from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.host.luns.blockdev import Disk
from solidice_storage.engine.host.luns.luns import Luns
from solidice_storage.engine.host.runner import Runner
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import NotFound

WWID_A = "36001405aaaaaaaaaaaaaaaaaaaaaaaaa"
WWID_B = "36001405bbbbbbbbbbbbbbbbbbbbbbbbb"


def disk(name, wwid, **more):
    node = f"/dev/mapper/{wwid}" if more.get("multipath") else f"/dev/{name}"
    return Disk(name=name, node=node, size=64 << 20, wwid=wwid, **more)


def host_disks() -> list[Disk]:
    return [
        disk("dm-0", WWID_A, multipath=True, slaves=["sda", "sdb"]),
        disk("sda", WWID_A, path_of=WWID_A, iscsi_session=1),
        disk("sdb", WWID_A, path_of=WWID_A, iscsi_session=2),
        disk("dm-1", WWID_B, multipath=True, slaves=["sdc"], holders=["dm-5"], status="other"),
        disk("sdc", WWID_B, path_of=WWID_B, iscsi_session=2),
        disk("vda", "pci-0000:00:04.0"),
    ]


@pytest.fixture
async def luns(tmp_path):
    """The LUN index after one scan of the described host; no tool installed."""
    index = Luns(Runner({}), StateStore(), tmp_path / "sys",
                 read=lambda sysfs: (host_disks(), [], {}))
    await index.scan()
    return index


async def test_a_path_device_is_no_lun_for_lvm(luns):
    assert luns.lun_for_device("/dev/sda") is None
    assert luns.lun_for_device("/dev/dm-0") == WWID_A
    assert luns.lun_for_device("/dev/vda") == "pci-0000:00:04.0"
    assert luns.lun_for_device("/dev/nonexistent") is None


async def test_wwid_resolves_to_the_map_in_any_spelling(luns):
    assert luns.device_for_wwid(WWID_A) == f"/dev/mapper/{WWID_A}"
    assert luns.device_for_wwid("naa." + WWID_B[1:]) == f"/dev/mapper/{WWID_B}"
    with pytest.raises(NotFound):
        luns.device_for_wwid("36001405ccccccccccccccccccccccccc")


async def test_block_info_of_a_path_names_its_map(tmp_path):
    engine = HostEngine(Runner({}), sysfs=tmp_path / "sys", state_dir=tmp_path / "state",
                        read=lambda sysfs: (host_disks(), [], {}))
    await engine.scan()
    info = await engine.get_block_info("sdc")
    assert (info.type, info.used_by, info.uuid) == ("disk", f"multipath:/dev/mapper/{WWID_B}",
                                                    WWID_B)
    assert (await engine.get_block_info(WWID_B)).used_by == "holders:dm-5"


async def test_a_path_multipath_will_claim_is_no_lun_until_its_map_exists(tmp_path):
    """multipathd claims the path (udev's DM_MULTIPATH_DEVICE_PATH=1) but has not
    made the map yet: offering the path as a LUN would let LVM label a path."""
    multipathd = tmp_path / "multipathd"
    multipathd.write_text("#!/bin/sh\necho 'pid 42 running'\n")
    multipathd.chmod(0o755)
    host: list[Disk] = []
    engine = Luns(Runner({"multipathd": str(multipathd)}), StateStore(), tmp_path / "sys",
                  read=lambda sysfs: (host, [], {}))
    wwid, other = "36001405" + "c" * 25, "36001405" + "d" * 25
    waiting = Disk(name="sdc", node="/dev/sdc", size=64 << 20, wwid=wwid,
                   multipath_candidate=True)
    plain = Disk(name="sdd", node="/dev/sdd", size=64 << 20, wwid=other)
    host[:] = [waiting, plain]
    await engine.scan()
    assert engine.enumerate() == [other]
    assert engine.lun_for_device("/dev/sdc") is None
    mapped = Disk(name="dm-0", node=f"/dev/mapper/{wwid}", size=64 << 20, wwid=wwid,
                  multipath=True, slaves=["sdc"])
    claimed = Disk(name="sdc", node="/dev/sdc", size=64 << 20, wwid=wwid,
                   multipath_candidate=True, path_of=wwid)
    host[:] = [mapped, claimed, plain]
    await engine.scan()
    assert sorted(engine.enumerate()) == sorted([wwid, other])
    assert engine.device_for_wwid(wwid) == f"/dev/mapper/{wwid}"

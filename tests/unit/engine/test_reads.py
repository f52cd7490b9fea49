# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/reads.py: the reads both engines answer from their store, and the device
resolver an engine may put in place of the store's."""

import pytest

from solidice_storage.engine.reads import Reads
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import InvalidArgument, NotFound
from solidice_storage.models import Lun, LogicalVolume, PhysicalVolume, VolumeGroup

GiB = 1024**3
WWID = "36001405d0e1f2a3b4c5d6e7f80910001"
NVME = "eui.0025388b91c2d3e4"
VMSTORE = "Xk3Pq1-aB2c-dE3f-gH4i-jK5l-mN6o-pQ7rS8"
PV = "Pv0001-aaaa-bbbb-cccc-dddd-eeee-ffff00"
LVS = ("Lv0001-aaaa-bbbb-cccc-dddd-eeee-ffff00", "Lv0002-aaaa-bbbb-cccc-dddd-eeee-ffff00")


@pytest.fixture
def store():
    """vmstore: one PV on a multipathed LUN, two LVs; a free NVMe disk."""
    store = StateStore()
    store.publish([
        Lun(wwid=WWID, device="/dev/mapper/mpatha", size=100 * GiB, transport="iscsi",
            multipath=True, paths=(("sda", "active"),), physical_volume=PV, status="pv"),
        Lun(wwid=NVME, device="/dev/nvme0n1", size=512 * GiB, transport="nvme"),
        VolumeGroup(uuid=VMSTORE, name="vmstore", size=100 * GiB, free_size=50 * GiB,
                    extent_size=4 * 1024**2, physical_volumes=(PV,)),
        PhysicalVolume(uuid=PV, device="/dev/mapper/mpatha", size=100 * GiB,
                       free_size=50 * GiB, volume_group=VMSTORE, lun=WWID),
        *(LogicalVolume(uuid=uuid, name=f"disk{n}", volume_group=VMSTORE, size=GiB,
                        path=f"/dev/vmstore/disk{n}", active=True,
                        attributes="-wi-a-----") for n, uuid in enumerate(LVS)),
    ])
    return store


def test_enumerates_and_lists_from_the_store(store):
    reads = Reads(store)
    assert reads.enumerate_luns() == [WWID, NVME]
    assert reads.enumerate_volume_groups() == [VMSTORE]
    assert reads.list_physical_volumes("vmstore") == [PV]
    assert reads.list_logical_volumes(VMSTORE) == list(LVS)


def test_a_list_of_no_volume_group_is_not_found(store):
    with pytest.raises(NotFound, match="no volume group"):
        Reads(store).list_logical_volumes("nothing")


def test_resolves_each_kind(store):
    reads = Reads(store)
    assert reads.resolve_volume_group("vmstore").uuid == VMSTORE
    assert reads.resolve_logical_volume("vmstore/disk1").uuid == LVS[1]
    assert reads.resolve_physical_volume("vmstore", WWID).uuid == PV
    assert reads.resolve_device("/dev/nvme0n1").wwid == NVME


def test_devices_in_order_and_never_one_lun_twice(store):
    reads = Reads(store)
    assert [lun.wwid for lun in reads.resolve_devices([NVME, WWID])] == [NVME, WWID]
    with pytest.raises(InvalidArgument, match="same LUN twice"):
        reads.resolve_devices([WWID, "naa." + WWID[1:]])


def test_devices_go_through_the_engines_resolver(store):
    asked = []

    def device_resolver(ref: str) -> Lun:
        asked.append(ref)
        return store.get(Lun, NVME)
    reads = Reads(store, device_resolver)
    assert reads.resolve_device("/dev/disk/by-id/x").wwid == NVME
    with pytest.raises(InvalidArgument, match="same LUN twice"):
        reads.resolve_devices(["/dev/a", "/dev/b"])
    assert asked == ["/dev/disk/by-id/x", "/dev/a", "/dev/b"]

# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/resolve.py: one resolver for every reference; UUID first, then name.
(Object paths are the D-Bus layer's: tests/unit/test_dbus_base.py.)"""

import pytest

from solidice_storage.engine import resolve
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import InvalidArgument, NotFound
from solidice_storage.models import Lun, LogicalVolume, PhysicalVolume, VolumeGroup

GiB = 1024**3
WWID = "36001405d0e1f2a3b4c5d6e7f80910001"     # scsi_id's form: NAA type 3 + naa
MAP = "/dev/mapper/mpatha"                      # a user_friendly_names map node
VMSTORE = "Xk3Pq1-aB2c-dE3f-gH4i-jK5l-mN6o-pQ7rS8"
BACKUP = "Yy7Tt2-cD3e-fG4h-iJ5k-lM6n-oP7q-rS8tU9"
PV = "Pv0001-aaaa-bbbb-cccc-dddd-eeee-ffff00"
LV_VMSTORE = "Lv0001-aaaa-bbbb-cccc-dddd-eeee-ffff00"
LV_BACKUP = "Lv0002-aaaa-bbbb-cccc-dddd-eeee-ffff00"


def vg(uuid, name, pvs=()):
    return VolumeGroup(uuid=uuid, name=name, size=100 * GiB, free_size=50 * GiB,
                       extent_size=4 * 1024**2, physical_volumes=pvs)


def lv(uuid, name, vg_uuid, vg_name):
    return LogicalVolume(uuid=uuid, name=name, volume_group=vg_uuid, size=GiB,
                         path=f"/dev/{vg_name}/{name}", active=True,
                         attributes="-wi-a-----")


@pytest.fixture
def store():
    """Two VGs with an LV named `disk0` each; a multipathed LUN holding vmstore's PV;
    a local NVMe disk."""
    store = StateStore()
    store.publish([
        Lun(wwid=WWID, device=MAP, size=100 * GiB, transport="iscsi", multipath=True,
            paths=(("sda", "active"), ("sdb", "failed")), physical_volume=PV,
            status="pv"),
        Lun(wwid="eui.0025388b91c2d3e4", device="/dev/nvme0n1", size=512 * GiB,
            transport="nvme"),
        vg(VMSTORE, "vmstore", (PV,)),
        vg(BACKUP, "backup"),
        PhysicalVolume(uuid=PV, device=MAP, size=100 * GiB, free_size=50 * GiB,
                       volume_group=VMSTORE, lun=WWID),
        lv(LV_VMSTORE, "disk0", VMSTORE, "vmstore"),
        lv(LV_BACKUP, "disk0", BACKUP, "backup"),
    ])
    return store


@pytest.fixture
def duplicated(store):
    """The store plus two VGs both named `dup`, each with an LV `x`."""
    store.publish([vg("Dup001", "dup"), vg("Dup002", "dup"),
                   lv("DupLv1", "x", "Dup001", "dup"), lv("DupLv2", "x", "Dup002", "dup")])
    return store


# ---- volume groups ----

@pytest.mark.parametrize("ref", [
    pytest.param(VMSTORE, id="uuid"),
    pytest.param("vmstore", id="name"),
])
def test_volume_group_found(store, ref):
    assert resolve.volume_group(store, ref).uuid == VMSTORE


def test_volume_group_uuid_before_name(store):
    # a VG whose *name* is another VG's UUID: the UUID wins
    store.publish([vg("Zz0000", VMSTORE)])
    assert resolve.volume_group(store, VMSTORE).uuid == VMSTORE


def test_a_uuid_shaped_reference_is_only_ever_a_uuid(store):
    # a VG named after a UUID no VG has (made outside the service): the string
    # means that UUID, never the name, so it names nothing
    other = VMSTORE[::-1]
    store.publish([vg("Zz0001", other)])
    with pytest.raises(NotFound, match="no volume group"):
        resolve.volume_group(store, other)
    with pytest.raises(NotFound, match="no logical volume"):
        resolve.logical_volume(store, other.replace("-", ""))


def test_a_uuid_without_its_dashes_is_the_same_uuid(store):
    assert resolve.volume_group(store, VMSTORE.replace("-", "")).uuid == VMSTORE
    assert resolve.logical_volume(store, LV_VMSTORE.replace("-", "")).uuid == LV_VMSTORE
    assert resolve.physical_volume(store, PV.replace("-", "")).uuid == PV


def test_volume_group_ambiguous_name(duplicated):
    with pytest.raises(InvalidArgument, match="UUID") as info:
        resolve.volume_group(duplicated, "dup")
    assert "2 volume groups" in str(info.value)


def test_volume_group_duplicate_names_still_resolve_by_uuid(duplicated):
    assert resolve.volume_group(duplicated, "Dup002").uuid == "Dup002"


@pytest.mark.parametrize("ref,error,word", [
    pytest.param("nothing", NotFound, "no volume group", id="unknown-name"),
    pytest.param(PV, NotFound, "no volume group", id="uuid-of-a-pv"),
])
def test_volume_group_refused(store, ref, error, word):
    with pytest.raises(error, match=word):
        resolve.volume_group(store, ref)


# ---- logical volumes ----

@pytest.mark.parametrize("ref", [
    pytest.param(LV_VMSTORE, id="uuid"),
    pytest.param("vmstore/disk0", id="vg-slash-lv"),
])
def test_logical_volume_found(store, ref):
    assert resolve.logical_volume(store, ref).uuid == LV_VMSTORE


def test_logical_volume_plain_name_needs_a_volume_group(store):
    with pytest.raises(NotFound, match="no logical volume 'disk0'"):
        resolve.logical_volume(store, "disk0")


@pytest.mark.parametrize("vg_uuid,expected", [
    pytest.param(VMSTORE, LV_VMSTORE, id="vmstore"),
    pytest.param(BACKUP, LV_BACKUP, id="backup"),
])
def test_logical_volume_plain_name_within_volume_group(store, vg_uuid, expected):
    within = store.get(VolumeGroup, vg_uuid)
    assert resolve.logical_volume(store, "disk0", within).uuid == expected


@pytest.mark.parametrize("ref", [
    pytest.param(LV_VMSTORE, id="uuid-of-other-vg"),
    pytest.param("vmstore/disk0", id="vg-lv-of-other-vg"),
])
def test_logical_volume_outside_the_given_volume_group(store, ref):
    with pytest.raises(NotFound, match="no logical volume"):
        resolve.logical_volume(store, ref, store.get(VolumeGroup, BACKUP))


@pytest.mark.parametrize("ref,error,word", [
    pytest.param("vmstore/nope", NotFound, "no logical volume", id="unknown-lv"),
    pytest.param("nope/disk0", NotFound, "no logical volume", id="unknown-vg"),
])
def test_logical_volume_refused(store, ref, error, word):
    with pytest.raises(error, match=word):
        resolve.logical_volume(store, ref)


def test_logical_volume_ambiguous_vg_lv(duplicated):
    with pytest.raises(InvalidArgument, match="2 logical volumes"):
        resolve.logical_volume(duplicated, "dup/x")


# ---- LUNs ----

@pytest.mark.parametrize("ref", [
    pytest.param(WWID, id="scsi-id-form"),
    pytest.param("naa." + WWID[1:], id="naa-form"),
    pytest.param("NAA." + WWID[1:].upper(), id="naa-form-uppercase"),
    pytest.param("0x" + WWID[1:], id="0x-form"),
    pytest.param(MAP, id="map-node"),
])
def test_lun_found(store, ref):
    assert resolve.lun(store, ref).wwid == WWID


@pytest.mark.parametrize("ref", ["eui.0025388b91c2d3e4", "/dev/nvme0n1"],
                         ids=["eui-key", "local-node"])
def test_lun_local_disk(store, ref):
    assert resolve.lun(store, ref).device == "/dev/nvme0n1"


@pytest.mark.parametrize("ref", ["/dev/sda", "/dev/sdb"], ids=["active", "failed"])
def test_lun_path_device_refused(store, ref):
    with pytest.raises(InvalidArgument, match="use the map") as info:
        resolve.lun(store, ref)
    assert MAP in str(info.value)


@pytest.mark.parametrize("ref,error,word", [
    pytest.param("/dev/sdz", NotFound, "no LUN", id="unknown-node"),
    pytest.param("36001405ffffffffffffffffffffffff", NotFound, "no LUN",
                 id="unknown-wwid"),
    pytest.param("sda", NotFound, "no LUN", id="bare-kernel-name"),
])
def test_lun_refused(store, ref, error, word):
    with pytest.raises(error, match=word):
        resolve.lun(store, ref)


# ---- physical volumes ----

@pytest.mark.parametrize("ref", [
    pytest.param(PV, id="uuid"),
    pytest.param(MAP, id="device"),
    pytest.param(WWID, id="lun-wwid"),
    pytest.param("naa." + WWID[1:], id="lun-naa"),
])
def test_physical_volume_found(store, ref):
    assert resolve.physical_volume(store, ref).uuid == PV


def test_physical_volume_within_its_volume_group(store):
    assert resolve.physical_volume(store, MAP, store.get(VolumeGroup, VMSTORE)).uuid == PV


def test_physical_volume_outside_the_given_volume_group(store):
    with pytest.raises(NotFound, match="no physical volume"):
        resolve.physical_volume(store, PV, store.get(VolumeGroup, BACKUP))


@pytest.mark.parametrize("ref,error,word", [
    pytest.param("/dev/nvme0n1", NotFound, "no physical volume", id="not-a-pv"),
    pytest.param("vmstore", NotFound, "no physical volume", id="vg-name"),
])
def test_physical_volume_refused(store, ref, error, word):
    with pytest.raises(error, match=word):
        resolve.physical_volume(store, ref)

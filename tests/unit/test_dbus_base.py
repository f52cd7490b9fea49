# SPDX-License-Identifier: LGPL-2.1-or-later
"""dbus/base.py's `key_of`: one of our object paths, as a caller may pass for any
reference, becomes its object's key before the engine resolves it; the errors are
the ones the resolver gave when it read object paths itself."""

import pytest

from solidice_storage import objpath
from solidice_storage.dbus.base import Context, key_of
from solidice_storage.engine import resolve
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import InvalidArgument, NotFound
from solidice_storage.models import Lun, LogicalVolume, PhysicalVolume, VolumeGroup

GiB = 1024**3
WWID = "36001405d0e1f2a3b4c5d6e7f80910001"
MAP = "/dev/mapper/mpatha"
VMSTORE = "Xk3Pq1-aB2c-dE3f-gH4i-jK5l-mN6o-pQ7rS8"
BACKUP = "Yy7Tt2-cD3e-fG4h-iJ5k-lM6n-oP7q-rS8tU9"
PV = "Pv0001-aaaa-bbbb-cccc-dddd-eeee-ffff00"
LV = "Lv0001-aaaa-bbbb-cccc-dddd-eeee-ffff00"
DEVICE = (Lun, PhysicalVolume, LogicalVolume)      # what GetBlockInfo takes


class Host:
    """What key_of asks of the engine: its store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store


@pytest.fixture
def store():
    """vmstore (one PV on a multipathed LUN, one LV) and an empty VG backup."""
    store = StateStore()
    store.publish([
        Lun(wwid=WWID, device=MAP, size=100 * GiB, transport="iscsi", multipath=True,
            paths=(("sda", "active"),), physical_volume=PV, status="pv"),
        VolumeGroup(uuid=VMSTORE, name="vmstore", size=100 * GiB, free_size=50 * GiB,
                    extent_size=4 * 1024**2, physical_volumes=(PV,)),
        VolumeGroup(uuid=BACKUP, name="backup", size=0, free_size=0,
                    extent_size=4 * 1024**2),
        PhysicalVolume(uuid=PV, device=MAP, size=100 * GiB, free_size=50 * GiB,
                       volume_group=VMSTORE, lun=WWID),
        LogicalVolume(uuid=LV, name="disk0", volume_group=VMSTORE, size=GiB,
                      path="/dev/vmstore/disk0", active=True, attributes="-wi-a-----"),
    ])
    return store


@pytest.fixture
def ctx(store):
    return Context(engine=Host(store), auth=None)


@pytest.mark.parametrize("ref", ["vmstore", VMSTORE, "/dev/mapper/mpatha", "vmstore/disk0",
                                 "naa.x"])
def test_a_reference_that_is_no_object_path_is_left_as_it_is(ctx, ref):
    assert key_of(ctx, ref, "volume group", VolumeGroup) == ref


@pytest.mark.parametrize("kind,cls,what,key,find", [
    pytest.param("VolumeGroup", VolumeGroup, "volume group", VMSTORE,
                 resolve.volume_group, id="volume-group"),
    pytest.param("LogicalVolume", LogicalVolume, "logical volume", LV,
                 resolve.logical_volume, id="logical-volume"),
    pytest.param("Lun", Lun, "LUN", WWID, lambda s, k: resolve.lun(s, k), id="lun"),
    pytest.param("PhysicalVolume", PhysicalVolume, "physical volume", PV,
                 resolve.physical_volume, id="physical-volume"),
])
def test_an_object_path_becomes_its_key(ctx, store, kind, cls, what, key, find):
    found = find(store, key_of(ctx, objpath.path(kind, key), what, cls))
    assert found.key == key


@pytest.mark.parametrize("kind,key", [("Lun", WWID), ("PhysicalVolume", PV),
                                      ("LogicalVolume", LV)])
def test_block_info_takes_the_object_path_of_any_device(ctx, kind, key):
    assert key_of(ctx, objpath.path(kind, key), "device", *DEVICE) == key


@pytest.mark.parametrize("ref,what,cls,error,word", [
    pytest.param(objpath.path("VolumeGroup", "gone"), "volume group", VolumeGroup,
                 NotFound, "no volume group at /org/", id="vg-path-of-missing"),
    pytest.param(objpath.path("Lun", WWID), "volume group", VolumeGroup,
                 InvalidArgument, "not the object path of a volume group",
                 id="vg-wrong-kind-path"),
    pytest.param(objpath.ROOT + "/VolumeGroup/_zz", "volume group", VolumeGroup,
                 InvalidArgument, "not the object path", id="bad-escape-path"),
    pytest.param("/org/freedesktop/DBus", "volume group", VolumeGroup,
                 InvalidArgument, "not the object path", id="foreign-path"),
    pytest.param(objpath.path("VolumeGroup", VMSTORE), "logical volume", LogicalVolume,
                 InvalidArgument, "not the object path of a logical volume",
                 id="lv-wrong-kind-path"),
    pytest.param(objpath.path("LogicalVolume", "gone"), "logical volume", LogicalVolume,
                 NotFound, "no logical volume at /org/", id="lv-path-of-missing"),
    pytest.param(objpath.path("Lun", "gone"), "LUN", Lun, NotFound, "no LUN at /org/",
                 id="lun-path-of-missing"),
    pytest.param(objpath.path("PhysicalVolume", PV), "LUN", Lun, InvalidArgument,
                 "not the object path of a LUN", id="lun-wrong-kind-path"),
    pytest.param(objpath.path("Lun", WWID), "physical volume", PhysicalVolume,
                 InvalidArgument, "not the object path of a physical volume",
                 id="pv-wrong-kind-path"),
])
def test_an_object_path_refused(ctx, ref, what, cls, error, word):
    with pytest.raises(error, match=word):
        key_of(ctx, ref, what, cls)


@pytest.mark.parametrize("ref,error,word", [
    pytest.param(objpath.path("VolumeGroup", VMSTORE), InvalidArgument,
                 "not the object path of a device", id="wrong-kind"),
    pytest.param(objpath.path("Lun", "gone"), NotFound, "no LUN at /org/",
                 id="missing-lun"),
    pytest.param(objpath.path("LogicalVolume", "gone"), NotFound,
                 "no logical volume at /org/", id="missing-lv"),
])
def test_block_info_object_path_refused(ctx, ref, error, word):
    with pytest.raises(error, match=word):
        key_of(ctx, ref, "device", *DEVICE)


def test_the_path_of_an_lv_of_another_vg_names_none_in_this_one(ctx, store):
    key = key_of(ctx, objpath.path("LogicalVolume", LV), "logical volume", LogicalVolume)
    with pytest.raises(NotFound, match="no logical volume"):
        resolve.logical_volume(store, key, store.get(VolumeGroup, BACKUP))

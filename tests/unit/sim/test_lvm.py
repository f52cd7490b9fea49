# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/sim/lvm.py: VGs, PVs and LVs on the simulated host, with extent allocation."""

import asyncio

import pytest

from solidice_storage.engine.protocol import MANAGED_TAG
from solidice_storage.errors import (AlreadyExists, Busy, InvalidArgument, NoSpace,
                                     NotFound, NotSupported)
from solidice_storage.models import Job, LogicalVolume, PhysicalVolume, VolumeGroup
from solidice_storage.options import (CreateLogicalVolumeOptions, CreateVolumeGroupOptions,
                                      ExtendLogicalVolumeOptions, ExtendVolumeGroupOptions,
                                      Options, RemoveOptions, RemovePhysicalVolumeOptions,
                                      ResizeLogicalVolumeOptions)

from .helpers import (ATA, EXTENT, GiB, LUN1, LUN2, LUN3, LUN4, MiB, assert_consistent,
                      lun, lv_named, mapper, pv_size, seed, vg_named, vmstore_pv,
                      wait_for_job)


# ---- volume groups ----

@pytest.mark.parametrize("device", [
    pytest.param(LUN3, id="wwid"),
    pytest.param("naa." + LUN3[1:], id="naa"),
    pytest.param(mapper(LUN3), id="map-node"),
])
async def test_create_volume_group_on_a_free_lun(engine, device):
    uuid = await engine.create_volume_group("data", [device], CreateVolumeGroupOptions())
    vg = engine.store.get(VolumeGroup, uuid)
    assert (vg.name, vg.managed, vg.extent_size) == ("data", True, EXTENT)
    assert MANAGED_TAG in vg.tags
    [pv] = [engine.store.get(PhysicalVolume, p) for p in vg.physical_volumes]
    assert (pv.device, pv.lun, pv.volume_group) == (mapper(LUN3), LUN3, uuid)
    assert pv.size == pv.free_size == pv_size(50 * GiB)
    assert (vg.size, vg.free_size) == (pv.size, pv.size)
    assert lun(engine, LUN3).status == "pv"
    assert lun(engine, LUN3).physical_volume == pv.uuid
    assert uuid in engine.reads.enumerate_volume_groups()
    assert engine.reads.list_physical_volumes("data") == [pv.uuid]
    assert_consistent(engine.store)


async def test_create_volume_group_over_two_luns(engine):
    uuid = await engine.create_volume_group("data", [LUN3, LUN4],
                                            CreateVolumeGroupOptions())
    vg = engine.store.get(VolumeGroup, uuid)
    assert len(vg.physical_volumes) == 2
    assert vg.size == 2 * pv_size(50 * GiB)
    assert_consistent(engine.store)


async def test_create_volume_group_with_extent_size(engine):
    opts = CreateVolumeGroupOptions(extent_size=32 * MiB)
    uuid = await engine.create_volume_group("data", [LUN3], opts)
    vg = engine.store.get(VolumeGroup, uuid)
    assert vg.extent_size == 32 * MiB
    assert vg.size == pv_size(50 * GiB, 32 * MiB)
    assert_consistent(engine.store)


async def test_create_volume_group_name_taken(engine):
    with pytest.raises(AlreadyExists, match="vmstore"):
        await engine.create_volume_group("vmstore", [LUN3], CreateVolumeGroupOptions())
    assert lun(engine, LUN3).status == "free"
    assert_consistent(engine.store)


async def test_create_volume_group_on_a_pv(engine):
    with pytest.raises(Busy, match="already a physical volume"):
        await engine.create_volume_group("data", [LUN1], CreateVolumeGroupOptions())
    assert_consistent(engine.store)


@pytest.mark.parametrize("wipe", [False, True], ids=["plain", "wipe"])
@pytest.mark.parametrize("device", [seed.SYSTEM_DISK, "/dev/vda"],
                         ids=["id-path", "node"])
async def test_create_volume_group_on_the_system_disk(engine, device, wipe):
    with pytest.raises(Busy, match="running system"):
        await engine.create_volume_group("data", [device],
                                         CreateVolumeGroupOptions(wipe=wipe))
    assert lun(engine, seed.SYSTEM_DISK).status == "partitioned"
    assert_consistent(engine.store)


async def test_create_volume_group_on_a_filesystem_needs_wipe(engine):
    with pytest.raises(Busy, match="wipe"):
        await engine.create_volume_group("data", ["/dev/sdi"], CreateVolumeGroupOptions())
    uuid = await engine.create_volume_group("data", ["/dev/sdi"],
                                            CreateVolumeGroupOptions(wipe=True))
    assert lun(engine, ATA).status == "pv"
    assert engine.store.get(VolumeGroup, uuid).size == pv_size(4000 * GiB)
    assert_consistent(engine.store)


@pytest.mark.parametrize("device", ["/dev/sde", "/dev/sdf"], ids=["active", "second"])
async def test_create_volume_group_on_a_path_device(engine, device):
    with pytest.raises(InvalidArgument, match="use the map") as info:
        await engine.create_volume_group("data", [device], CreateVolumeGroupOptions())
    assert mapper(LUN3) in str(info.value)
    assert lun(engine, LUN3).status == "free"
    assert_consistent(engine.store)


async def test_create_volume_group_on_an_unknown_device(engine):
    with pytest.raises(NotFound, match="no LUN"):
        await engine.create_volume_group("data", ["/dev/sdz"], CreateVolumeGroupOptions())
    assert_consistent(engine.store)


async def test_create_volume_group_same_lun_under_two_spellings(engine):
    # validation.devices only sees two different strings; they are one LUN, which
    # must not become two PVs (the VG would count its space twice)
    with pytest.raises(InvalidArgument, match="twice|same"):
        await engine.create_volume_group("data", [LUN3, mapper(LUN3)],
                                         CreateVolumeGroupOptions())
    assert_consistent(engine.store)


async def test_extend_volume_group(engine, data_vg):
    await engine.extend_volume_group("data", [LUN4], ExtendVolumeGroupOptions())
    vg = engine.store.get(VolumeGroup, data_vg.uuid)
    assert len(vg.physical_volumes) == 2
    assert vg.size == 2 * pv_size(50 * GiB)
    assert lun(engine, LUN4).status == "pv"
    assert_consistent(engine.store)


async def test_extend_volume_group_with_a_pv(engine, data_vg):
    with pytest.raises(Busy, match="already a physical volume"):
        await engine.extend_volume_group("data", [LUN1], ExtendVolumeGroupOptions())
    assert_consistent(engine.store)


async def test_remove_volume_group(engine, data_vg):
    await engine.extend_volume_group("data", [LUN4], ExtendVolumeGroupOptions())
    await engine.create_logical_volume("data", "disk1", 60 * GiB,
                                       CreateLogicalVolumeOptions())
    pvs = engine.store.get(VolumeGroup, data_vg.uuid).physical_volumes
    await engine.remove_volume_group("data", RemoveOptions())
    assert engine.store.get(VolumeGroup, data_vg.uuid) is None
    assert not [lv for lv in engine.store.all(LogicalVolume).values()
                if lv.volume_group == data_vg.uuid]
    assert not [p for p in pvs if engine.store.get(PhysicalVolume, p)]
    for wwid in (LUN3, LUN4):
        assert (lun(engine, wwid).status, lun(engine,
                                              wwid).physical_volume) == ("free", None)
    assert_consistent(engine.store)


async def test_remove_volume_group_frees_the_name(engine, data_vg):
    await engine.remove_volume_group(data_vg.uuid, RemoveOptions())
    await engine.create_volume_group("data", [LUN3], CreateVolumeGroupOptions())
    assert_consistent(engine.store)


async def test_remove_unmanaged_volume_group_needs_force(engine):
    with pytest.raises(InvalidArgument, match="force"):
        await engine.remove_volume_group("vmstore", RemoveOptions())
    assert vg_named(engine, "vmstore")
    assert_consistent(engine.store)


async def test_remove_volume_group_with_an_open_lv(engine):
    with pytest.raises(Busy, match="vm-101-disk-0"):
        await engine.remove_volume_group("vmstore", RemoveOptions(force=True))
    assert len(engine.reads.list_logical_volumes("vmstore")) == 4
    assert_consistent(engine.store)


async def test_remove_unknown_volume_group(engine):
    with pytest.raises(NotFound, match="no volume group"):
        await engine.remove_volume_group("nothing", RemoveOptions())


# ---- logical volumes ----

@pytest.mark.parametrize("size,allocated", [
    pytest.param(1, EXTENT, id="one-byte"),
    pytest.param(EXTENT, EXTENT, id="one-extent"),
    pytest.param(10 * MiB + 1, 12 * MiB, id="rounded-up"),
    pytest.param(GiB, GiB, id="gib"),
])
async def test_create_logical_volume(engine, data_vg, size, allocated):
    uuid = await engine.create_logical_volume("data", "disk1", size,
                                              CreateLogicalVolumeOptions())
    lv = engine.store.get(LogicalVolume, uuid)
    assert (lv.name, lv.volume_group, lv.size) == ("disk1", data_vg.uuid, allocated)
    assert lv.path == "/dev/data/disk1"
    assert lv.active and lv.attributes[4] == "a" and lv.origin is None
    vg = engine.store.get(VolumeGroup, data_vg.uuid)
    assert vg.free_size == data_vg.free_size - allocated
    assert uuid in engine.reads.list_logical_volumes("data")
    assert_consistent(engine.store)


async def test_create_logical_volume_inactive(engine, data_vg):
    uuid = await engine.create_logical_volume("data", "disk1", GiB,
                                              CreateLogicalVolumeOptions(activate=False))
    lv = engine.store.get(LogicalVolume, uuid)
    assert not lv.active and lv.attributes[4] == "-"
    assert_consistent(engine.store)


async def test_create_logical_volume_too_big(engine, data_vg):
    with pytest.raises(NoSpace, match="bytes free"):
        await engine.create_logical_volume("data", "huge", 50 * GiB,
                                           CreateLogicalVolumeOptions())
    assert engine.store.get(VolumeGroup, data_vg.uuid) == data_vg
    assert engine.reads.list_logical_volumes("data") == [lv_named(engine, "data",
                                                                  "disk0").uuid]
    assert_consistent(engine.store)


async def test_create_logical_volume_fills_the_vg_exactly(engine, data_vg):
    await engine.create_logical_volume("data", "rest", data_vg.free_size,
                                       CreateLogicalVolumeOptions())
    assert engine.store.get(VolumeGroup, data_vg.uuid).free_size == 0
    assert_consistent(engine.store)


async def test_create_logical_volume_name_taken(engine, data_vg):
    with pytest.raises(AlreadyExists, match="data/disk0"):
        await engine.create_logical_volume("data", "disk0", GiB,
                                           CreateLogicalVolumeOptions())
    assert_consistent(engine.store)


async def test_create_logical_volume_same_name_in_another_vg(engine, data_vg):
    await engine.create_logical_volume("vmstore", "disk0", GiB,
                                       CreateLogicalVolumeOptions())
    assert_consistent(engine.store)


async def test_create_logical_volume_spans_pvs(engine):
    uuid = await engine.create_volume_group("data", [LUN3, LUN4],
                                            CreateVolumeGroupOptions())
    await engine.create_logical_volume(uuid, "big", 70 * GiB, CreateLogicalVolumeOptions())
    vg = engine.store.get(VolumeGroup, uuid)
    pvs = [engine.store.get(PhysicalVolume, p) for p in vg.physical_volumes]
    assert [pv.free_size for pv in pvs] == [0, 2 * pv_size(50 * GiB) - 70 * GiB]
    assert_consistent(engine.store)


async def test_extend_logical_volume(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    await engine.extend_logical_volume("data/disk0", MiB, ExtendLogicalVolumeOptions())
    assert engine.store.get(LogicalVolume, lv.uuid).size == GiB + EXTENT
    assert_consistent(engine.store)


async def test_extend_logical_volume_with_expected_size(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    await engine.extend_logical_volume(lv.uuid, GiB,
                                       ExtendLogicalVolumeOptions(expected_size=GiB))
    assert engine.store.get(LogicalVolume, lv.uuid).size == 2 * GiB
    assert_consistent(engine.store)


async def test_extend_logical_volume_retry_does_not_grow_twice(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    opts = ExtendLogicalVolumeOptions(expected_size=GiB)
    await engine.extend_logical_volume(lv.uuid, GiB, opts)
    vg_before = engine.store.get(VolumeGroup, data_vg.uuid)
    with pytest.raises(InvalidArgument, match="not the expected") as info:
        await engine.extend_logical_volume(lv.uuid, GiB, opts)
    assert "not extended" in str(info.value)
    assert engine.store.get(LogicalVolume, lv.uuid).size == 2 * GiB
    assert engine.store.get(VolumeGroup, data_vg.uuid) == vg_before
    assert_consistent(engine.store)


async def test_extend_logical_volume_too_far(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    with pytest.raises(NoSpace, match="bytes free"):
        await engine.extend_logical_volume(lv.uuid, 50 * GiB, ExtendLogicalVolumeOptions())
    assert engine.store.get(LogicalVolume, lv.uuid).size == GiB
    assert_consistent(engine.store)


async def test_remove_logical_volume(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    await engine.remove_logical_volume("data/disk0", RemoveOptions())
    assert engine.store.get(LogicalVolume, lv.uuid) is None
    vg = engine.store.get(VolumeGroup, data_vg.uuid)
    assert vg.free_size == vg.size
    assert_consistent(engine.store)


async def test_remove_logical_volume_open(engine):
    with pytest.raises(Busy, match="open"):
        await engine.remove_logical_volume("vmstore/vm-101-disk-0",
                                           RemoveOptions(force=True))
    assert lv_named(engine, "vmstore", "vm-101-disk-0")
    assert_consistent(engine.store)


async def test_remove_logical_volume_of_unmanaged_vg_needs_force(engine):
    with pytest.raises(InvalidArgument, match="force"):
        await engine.remove_logical_volume("vmstore/templates", RemoveOptions())
    await engine.remove_logical_volume("vmstore/templates", RemoveOptions(force=True))
    assert "templates" not in {lv.name for lv in engine.store.all(LogicalVolume).values()}
    assert_consistent(engine.store)


async def test_remove_logical_volume_with_snapshots(engine):
    with pytest.raises(Busy, match="vm-102-snap"):
        await engine.remove_logical_volume("vmstore/vm-102-disk-0",
                                           RemoveOptions(force=True))
    assert_consistent(engine.store)


async def test_remove_last_snapshot_clears_origin_attribute(engine):
    await engine.remove_logical_volume("vmstore/vm-102-snap", RemoveOptions(force=True))
    origin = lv_named(engine, "vmstore", "vm-102-disk-0")
    assert origin.attributes[0] == "-"
    assert_consistent(engine.store)


async def test_remove_unknown_logical_volume(engine):
    with pytest.raises(NotFound, match="no logical volume"):
        await engine.remove_logical_volume("vmstore/nothing", RemoveOptions())


async def test_snapshot_logical_volume(engine, data_vg, completed):
    origin = lv_named(engine, "data", "disk0")
    uuid = await engine.snapshot_logical_volume(origin.uuid, "snap", 100 * MiB + 1,
                                                Options(), uid=1000)
    snap = engine.store.get(LogicalVolume, uuid)
    assert (snap.name, snap.origin, snap.size) == ("snap", origin.uuid, 104 * MiB)
    assert snap.attributes.startswith("s") and snap.active
    assert engine.store.get(LogicalVolume, origin.uuid).attributes[0] == "o"
    assert not engine.store.all(Job)
    assert [success for _, success, _ in completed] == [True]
    assert_consistent(engine.store)


async def test_snapshot_of_a_snapshot(engine):
    with pytest.raises(NotSupported, match="snapshot"):
        await engine.snapshot_logical_volume("vmstore/vm-102-snap", "snap2", GiB,
                                             Options(), uid=0)
    assert_consistent(engine.store)


async def test_snapshot_name_taken(engine):
    with pytest.raises(AlreadyExists, match="vmstore/templates"):
        await engine.snapshot_logical_volume("vmstore/vm-101-disk-0", "templates", GiB,
                                             Options(), uid=0)
    assert_consistent(engine.store)


async def test_snapshot_too_big(engine, data_vg, completed):
    with pytest.raises(NoSpace):
        await engine.snapshot_logical_volume("data/disk0", "snap", 50 * GiB,
                                             Options(), uid=0)
    assert not engine.store.all(Job)
    assert [success for _, success, _ in completed] == [False]
    assert lv_named(engine, "data", "disk0").attributes[0] == "-"
    assert_consistent(engine.store)


async def test_concurrent_snapshots_with_one_name(engine, data_vg):
    # the second call must see the first one's snapshot, as create_logical_volume
    # does by checking the name under the VG lock
    results = await asyncio.gather(*(
        engine.snapshot_logical_volume("data/disk0", "snap", 100 * MiB, Options(), uid=0)
        for _ in range(2)), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["AlreadyExists", "str"]
    assert_consistent(engine.store)


async def test_activate_and_deactivate(engine):
    await engine.activate_logical_volume("vmstore/templates", Options())
    assert lv_named(engine, "vmstore", "templates").attributes[4] == "a"
    await engine.deactivate_logical_volume("vmstore/templates", Options())
    lv = lv_named(engine, "vmstore", "templates")
    assert not lv.active and lv.attributes[4] == "-"
    with pytest.raises(Busy, match="open"):
        await engine.deactivate_logical_volume("vmstore/vm-101-disk-0", Options())
    assert_consistent(engine.store)


# ---- physical volumes ----


async def test_remove_physical_volume_holding_data(engine):
    pv = vmstore_pv(engine, LUN1)
    with pytest.raises(Busy, match="move-data"):
        await engine.remove_physical_volume("vmstore", LUN1,
                                            RemovePhysicalVolumeOptions(), uid=0)
    assert engine.store.get(PhysicalVolume, pv.uuid) == pv
    assert_consistent(engine.store)


async def test_remove_empty_physical_volume(engine):
    pv = vmstore_pv(engine, LUN2)
    assert await engine.remove_physical_volume("vmstore", mapper(LUN2),
                                               RemovePhysicalVolumeOptions(),
                                               uid=0) is None
    assert engine.store.get(PhysicalVolume, pv.uuid) is None
    assert lun(engine, LUN2).status == "free"
    assert vg_named(engine, "vmstore").physical_volumes == (vmstore_pv(engine, LUN1).uuid,)
    assert_consistent(engine.store)


async def test_remove_last_physical_volume(engine, data_vg):
    with pytest.raises(Busy, match="last physical volume"):
        await engine.remove_physical_volume("data", LUN3,
                                            RemovePhysicalVolumeOptions(), uid=0)
    assert_consistent(engine.store)


async def test_remove_physical_volume_of_another_vg(engine, data_vg):
    with pytest.raises(NotFound, match="no physical volume"):
        await engine.remove_physical_volume("data", LUN1,
                                            RemovePhysicalVolumeOptions(), uid=0)
    assert_consistent(engine.store)


async def test_remove_physical_volume_moving_data(engine, completed):
    pv1, pv2 = vmstore_pv(engine, LUN1), vmstore_pv(engine, LUN2)
    sizes = {lv.uuid: lv.size for lv in engine.store.all(LogicalVolume).values()}
    job_id = await engine.remove_physical_volume(
        "vmstore", pv1.uuid, RemovePhysicalVolumeOptions(move_data=True), uid=1000)
    assert isinstance(job_id, int)
    job = engine.store.get(Job, str(job_id))
    assert job.operation == "pv-move" and job.started_by_uid == 1000
    assert ("PhysicalVolume", pv1.uuid) in job.objects
    await wait_for_job(engine, job_id)
    assert completed == [(job_id, True, "")]
    assert engine.store.get(PhysicalVolume, pv1.uuid) is None
    assert lun(engine, LUN1).status == "free"
    assert vg_named(engine, "vmstore").physical_volumes == (pv2.uuid,)
    assert {lv.uuid: lv.size for lv in engine.store.all(LogicalVolume).values()} == sizes
    assert_consistent(engine.store)


async def test_remove_physical_volume_move_cancelled(engine, completed):
    pv1 = vmstore_pv(engine, LUN1)
    job_id = await engine.remove_physical_volume(
        "vmstore", pv1.uuid, RemovePhysicalVolumeOptions(move_data=True), uid=0)
    engine.cancel_job(job_id)
    await wait_for_job(engine, job_id)
    [(done_id, success, message)] = completed
    assert (done_id, success) == (job_id, False)
    assert "cancelled" in message
    assert engine.store.get(PhysicalVolume, pv1.uuid) == pv1
    assert_consistent(engine.store)


async def test_remove_physical_volume_without_room_elsewhere(engine):
    await engine.create_logical_volume("vmstore", "filler", 90 * GiB,
                                       CreateLogicalVolumeOptions())
    with pytest.raises(NoSpace, match="lack the space"):
        await engine.remove_physical_volume("vmstore", LUN1,
                                            RemovePhysicalVolumeOptions(move_data=True),
                                            uid=0)
    assert not engine.store.all(Job)
    assert_consistent(engine.store)


async def test_extend_volume_group_while_moving_data(engine):
    # the extend waits for the VG lock the move holds; it must then work on the VG
    # as the move left it, not on the copy it read before waiting
    job_id = await engine.remove_physical_volume(
        "vmstore", LUN1, RemovePhysicalVolumeOptions(move_data=True), uid=0)
    await asyncio.sleep(0)   # the move starts and takes the VG lock
    try:
        await engine.extend_volume_group("vmstore", [LUN3], ExtendVolumeGroupOptions())
        extended = True
    except Busy:             # refusing while data moves is fine too; crashing is not
        extended = False
    await wait_for_job(engine, job_id)
    vg = vg_named(engine, "vmstore")
    assert {engine.store.get(PhysicalVolume, p).lun for p in vg.physical_volumes} == (
        {LUN2, LUN3} if extended else {LUN2})
    assert_consistent(engine.store)


async def test_remove_volume_group_while_moving_data(engine):
    uuid = await engine.create_volume_group("data", [LUN3, LUN4],
                                            CreateVolumeGroupOptions())
    await engine.create_logical_volume(uuid, "disk0", GiB,
                                       CreateLogicalVolumeOptions())   # on LUN 3
    job_id = await engine.remove_physical_volume(
        uuid, LUN3, RemovePhysicalVolumeOptions(move_data=True), uid=0)
    await asyncio.sleep(0)   # the move starts and takes the VG lock
    try:
        await engine.remove_volume_group(uuid, RemoveOptions())
        removed = True
    except Busy:             # refusing while data moves is fine too; crashing is not
        removed = False
    await wait_for_job(engine, job_id)
    assert lun(engine, LUN3).status == "free"
    if removed:
        assert engine.store.get(VolumeGroup, uuid) is None
        assert lun(engine, LUN4).status == "free"
    assert_consistent(engine.store)


# ---- resize, renames, tags (engine/sim/lvm_changes.py) ----

async def test_resize_across_two_pvs_gives_back_the_last_extents_first(engine):
    vg = engine.store.get(VolumeGroup, await engine.create_volume_group(
        "data", [LUN3, LUN4], CreateVolumeGroupOptions()))
    first, second = vg.physical_volumes
    uuid = await engine.create_logical_volume("data", "big", pv_size(50 * GiB) + GiB,
                                              CreateLogicalVolumeOptions())
    assert engine.store.get(PhysicalVolume, first).free_size == 0   # the rest on the second
    await engine.resize_logical_volume(uuid, 10 * GiB,
                                       ResizeLogicalVolumeOptions(shrink=True))
    assert engine.store.get(LogicalVolume, uuid).size == 10 * GiB
    assert engine.store.get(PhysicalVolume, second).free_size == pv_size(50 * GiB)
    assert engine.store.get(PhysicalVolume, first).free_size == pv_size(50 * GiB) - 10 * GiB
    assert_consistent(engine.store)
    with pytest.raises(NoSpace):
        await engine.resize_logical_volume(uuid, 200 * GiB, ResizeLogicalVolumeOptions())
    assert engine.store.get(LogicalVolume, uuid).size == 10 * GiB
    assert_consistent(engine.store)


async def test_renames_and_tags_keep_the_models_consistent(engine):
    vg = vg_named(engine, "vmstore")
    await engine.rename_volume_group(vg.uuid, "vmdata", Options())
    await engine.rename_logical_volume(lv_named(engine, "vmdata", "templates").uuid, "tmpl",
                                       Options())
    assert_consistent(engine.store)                  # paths follow both renames
    assert lv_named(engine, "vmdata", "tmpl").path == "/dev/vmdata/tmpl"
    await engine.add_tags("VolumeGroup", vg.uuid, [MANAGED_TAG], Options())
    assert vg_named(engine, "vmdata").managed        # (validation refuses this tag first)
    await engine.remove_tags("VolumeGroup", vg.uuid, [MANAGED_TAG, "absent"], Options())
    assert not vg_named(engine, "vmdata").managed
    with pytest.raises(NotFound):
        await engine.add_tags("PhysicalVolume", "nope", ["x"], Options())

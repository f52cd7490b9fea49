# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/sim/luns.py: the simulated array's LUNs, what a rescan finds of them, and
block info (engine/sim/engine.py composes the rescan)."""

from collections import Counter

import pytest

from solidice_storage.errors import NotFound
from solidice_storage.models import IscsiSession, PhysicalVolume, VolumeGroup
from solidice_storage.options import (CreateLogicalVolumeOptions, CreateVolumeGroupOptions,
                                      EnumerateIscsiLunsOptions, Options,
                                      RemovePhysicalVolumeOptions)

from .helpers import (ATA, BACKUP, CHAP, DATA, GiB, LUN1, LUN2, LUN3, LUN5, NVME,
                      PORTAL_A, PORTAL_B, assert_consistent, lun, lv_named, mapper,
                      pv_size, snapshot, vg_named, vmstore_pv, wait_for_job)


# ---- Rescan ----

async def test_rescan_finds_what_the_array_changed(engine):
    vmstore = vg_named(engine, "vmstore")
    pv = vmstore_pv(engine, LUN2)
    assert lun(engine, LUN5) is None and lun(engine, LUN2).size == 100 * GiB
    await engine.rescan(Options())
    new = lun(engine, LUN5)
    assert (new.size, new.device, new.transport, new.status) == (
        200 * GiB, mapper(LUN5), "iscsi", "free")
    assert new.paths == (("sdn", "active"), ("sdo", "active"))
    assert LUN5 in engine.reads.enumerate_luns()
    for portal in (PORTAL_A, PORTAL_B):
        assert LUN5 in engine.store.get(IscsiSession, f"{DATA}@{portal}").luns
    assert lun(engine, LUN2).size == 120 * GiB
    grown = engine.store.get(PhysicalVolume, pv.uuid)
    assert grown.size == pv_size(120 * GiB)
    assert grown.free_size - pv.free_size == grown.size - pv.size > 0
    after = vg_named(engine, "vmstore")
    assert after.size - vmstore.size == after.free_size - vmstore.free_size == \
        grown.size - pv.size
    assert_consistent(engine.store)


async def test_rescan_again_is_no_change(engine):
    await engine.rescan(Options())
    before = snapshot(engine)
    await engine.rescan(Options())
    assert snapshot(engine) == before


async def test_rescan_publishes_each_change_once(engine):
    changes = []
    engine.store.subscribe(changes.append)
    await engine.rescan(Options())
    upserts = Counter((m.KIND, m.key) for batch in changes for m in batch.upserts)
    assert upserts[("Lun", LUN5)] == upserts[("Lun", LUN2)] == 1
    assert not [batch for batch in changes if batch.removals]


async def test_rescan_a_grown_free_lun(engine):
    engine.grow_lun(LUN3, 80 * GiB)
    assert lun(engine, LUN3).size == 50 * GiB      # not before the host looks
    await engine.rescan(Options())
    assert lun(engine, LUN3).size == 80 * GiB
    info = await engine.get_block_info(LUN3)
    assert (info.size, info.used_by) == (80 * GiB, "")
    assert_consistent(engine.store)


async def test_rescan_grows_the_pv_of_a_managed_vg(engine, data_vg):
    [pv_uuid] = data_vg.physical_volumes
    pv = engine.store.get(PhysicalVolume, pv_uuid)
    engine.grow_lun(LUN3, 60 * GiB)
    await engine.rescan(Options())
    assert engine.store.get(PhysicalVolume, pv.uuid).size == pv_size(60 * GiB)
    vg = engine.store.get(VolumeGroup, data_vg.uuid)
    assert vg.free_size == data_vg.free_size + pv_size(60 * GiB) - pv.size
    await engine.create_logical_volume(vg.uuid, "bigger", 55 * GiB,
                                       CreateLogicalVolumeOptions())
    assert_consistent(engine.store)


async def test_rescan_finds_a_newly_mapped_lun(engine):
    await engine.rescan(Options())
    wwid = engine.map_lun(DATA, 10 * GiB)
    assert wwid == "36001405d0e1f2a3b4c5d6e7f80910006"
    assert lun(engine, wwid) is None
    assert wwid not in await engine.enumerate_iscsi_luns(PORTAL_A, DATA,
                                                         EnumerateIscsiLunsOptions(),
                                                         uid=0)
    await engine.rescan(Options())
    assert lun(engine, wwid).size == 10 * GiB
    assert [dev for dev, _ in lun(engine, wwid).paths] == ["sdp", "sdq"]
    assert wwid in await engine.enumerate_iscsi_luns(PORTAL_A, DATA,
                                                     EnumerateIscsiLunsOptions(), uid=0)
    uuid = await engine.create_volume_group("fresh", [wwid], CreateVolumeGroupOptions())
    assert engine.store.get(VolumeGroup, uuid).size == pv_size(10 * GiB)
    assert_consistent(engine.store)


async def test_rescan_looks_only_behind_sessions(engine):
    wwid = engine.map_lun(BACKUP, 20 * GiB)
    await engine.rescan(Options())
    assert lun(engine, wwid) is None
    assert engine.store.get(IscsiSession, f"{BACKUP}@{PORTAL_A}") is None
    await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    await engine.rescan(Options())
    assert lun(engine, wwid).paths == (("sdp", "active"),)
    assert_consistent(engine.store)


async def test_rescan_after_a_logout_keeps_one_path(engine):
    await engine.logout_iscsi(PORTAL_A, DATA, Options())
    await engine.rescan(Options())
    assert lun(engine, LUN5).paths == (("sdo", "active"),)
    assert engine.store.get(IscsiSession, f"{DATA}@{PORTAL_A}") is None
    assert_consistent(engine.store)


async def test_rescan_during_a_data_move(engine, completed):
    """pvresize waits for the move off the other PV of vmstore to finish."""
    job = await engine.remove_physical_volume("vmstore", vmstore_pv(engine, LUN1).uuid,
                                              RemovePhysicalVolumeOptions(move_data=True),
                                              uid=0)
    await engine.rescan(Options())
    await wait_for_job(engine, job)
    assert [success for _, success, _ in completed] == [True]
    vmstore = vg_named(engine, "vmstore")
    assert vmstore.physical_volumes == (vmstore_pv(engine, LUN2).uuid,)
    assert vmstore.size == pv_size(120 * GiB)
    assert_consistent(engine.store)


@pytest.mark.parametrize("wwid,size", [
    pytest.param(LUN3, 50 * GiB, id="same-size"),
    pytest.param(LUN3, 40 * GiB, id="shrink"),
    pytest.param(NVME, 1024 * GiB, id="local-disk"),
    pytest.param("36001405ffffffffffffffffffffffff", 1024 * GiB, id="unknown"),
])
def test_grow_lun_only_grows_array_luns(engine, wwid, size):
    with pytest.raises(ValueError, match="cannot grow"):
        engine.grow_lun(wwid, size)


# ---- GetBlockInfo ----

@pytest.mark.parametrize("ref", [
    pytest.param("vmstore/templates", id="vg-lv"),
    pytest.param("/dev/vmstore/templates", id="dev-vg-lv"),
    pytest.param("/dev/mapper/vmstore-templates", id="dm-name"),
])
async def test_block_info_of_an_lv(engine, ref):
    lv = lv_named(engine, "vmstore", "templates")
    info = await engine.get_block_info(ref)
    assert (info.uuid, info.size, info.path, info.type, info.used_by) == (
        lv.uuid, 8 * GiB, "/dev/vmstore/templates", "lvm", "")


async def test_block_info_of_an_lv_with_dashes_in_its_dm_name(engine):
    info = await engine.get_block_info("/dev/mapper/vmstore-vm--101--disk--0")
    assert (info.name, info.used_by) == ("vm-101-disk-0", "open")


@pytest.mark.parametrize("ref", ["/dev/sda", "sda"], ids=["node", "kernel-name"])
async def test_block_info_of_a_path_device(engine, ref):
    info = await engine.get_block_info(ref)
    assert (info.uuid, info.size, info.path, info.type) == (
        LUN1, 100 * GiB, "/dev/sda", "disk")
    assert info.used_by == f"multipath:{mapper(LUN1)}"


@pytest.mark.parametrize("ref", [
    pytest.param(LUN3, id="wwid"),
    pytest.param("naa." + LUN3[1:], id="naa"),
    pytest.param(mapper(LUN3), id="map-node"),
])
async def test_block_info_of_a_free_lun(engine, ref):
    info = await engine.get_block_info(ref)
    assert (info.uuid, info.size, info.path, info.type, info.used_by) == (
        LUN3, 50 * GiB, mapper(LUN3), "multipath", "")


async def test_block_info_of_a_local_disk(engine):
    info = await engine.get_block_info("/dev/sdi")
    assert (info.uuid, info.type, info.used_by) == (ATA, "disk", "filesystem")


async def test_block_info_of_a_pv(engine):
    pv = vmstore_pv(engine, LUN1)
    info = await engine.get_block_info(pv.uuid)
    assert (info.uuid, info.size, info.path, info.used_by) == (
        pv.uuid, pv.size, mapper(LUN1), "pv:vmstore")



@pytest.mark.parametrize("ref", [
    pytest.param("nothing", id="unknown-name"),
    pytest.param("/dev/sdz", id="unknown-node"),
    pytest.param("vmstore", id="vg-name"),
    pytest.param("36001405ffffffffffffffffffffffff", id="unknown-wwid"),
])
async def test_block_info_unknown(engine, ref):
    with pytest.raises(NotFound, match="no device"):
        await engine.get_block_info(ref)

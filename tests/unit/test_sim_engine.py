"""engine/sim.py and engine/sim_lvm.py: the seed operations on the simulated host.

The simulated host (engine/sim_host.py): target `data` logged in on both portals with
four two-path LUNs, LUN 1 and 2 holding the unmanaged VG `vmstore`; target `backup`
behind CHAP; a partitioned system disk, a free NVMe disk, an ATA disk with a
filesystem; an NFS mount on /mnt/iso that is in use. Found on the next rescan only:
LUN 5 of 200 GiB newly mapped on `data`, and LUN 2 grown to 120 GiB on the array.
"""

import asyncio
from collections import Counter
from types import SimpleNamespace

import pytest

from solidice_storage import objpath
from solidice_storage.engine import sim_host, sim_lvm
from solidice_storage.engine.sim import engine as sim
from solidice_storage.engine.protocol import MANAGED_TAG
from solidice_storage.engine.sim.engine import SimEngine
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import (AlreadyExists, Busy, Failed, InvalidArgument,
                                     NoSpace, NotFound, NotSupported, Timeout)
from solidice_storage.models import (IscsiSession, Job, Lun, LogicalVolume, Mount,
                                     PhysicalVolume, VolumeGroup)
from solidice_storage.validation import Options

GiB, MiB = sim_host.GiB, sim_host.MiB
EXTENT = 4 * MiB
LUN1, LUN2, LUN3, LUN4, LUN5 = (f"36001405d0e1f2a3b4c5d6e7f8091000{n}" for n in range(1, 6))
BACKUP_LUNS = ("36001405d0e1f2a3b4c5d6e7f80910101", "36001405d0e1f2a3b4c5d6e7f80910102")
NVME = "eui.0025388b91c2d3e4"
ATA = "35000c500a1b2c3d4"
DATA, BACKUP = sim_host.DATA_TARGET, sim_host.BACKUP_TARGET
PORTAL_A, PORTAL_B = sim_host.PORTALS
CHAP = Options(username="backup", password="backup-secret")


def mapper(wwid: str) -> str:
    return f"/dev/mapper/{wwid}"


def pv_size(lun_size: int, extent: int = EXTENT) -> int:
    """What the simulated pvcreate leaves for extents: 1 MiB for the label."""
    return (lun_size - MiB) // extent * extent


def assert_consistent(store: StateStore) -> None:
    """The models agree with each other, whatever sequence of calls led here."""
    vgs, pvs = store.all(VolumeGroup), store.all(PhysicalVolume)
    lvs, luns = store.all(LogicalVolume), store.all(Lun)
    for lv in lvs.values():
        vg = vgs.get(lv.volume_group)
        assert vg is not None, f"LV {lv.name} of a missing VG"
        assert lv.path == f"/dev/{vg.name}/{lv.name}"
        assert lv.size > 0 and lv.size % vg.extent_size == 0, lv
        if lv.origin is not None:
            origin = lvs.get(lv.origin)
            assert origin is not None, f"snapshot {lv.name} of a missing origin"
            assert origin.volume_group == lv.volume_group
            assert origin.attributes[0] == "o", origin
    for vg in vgs.values():
        names = Counter(lv.name for lv in lvs.values() if lv.volume_group == vg.uuid)
        assert not [n for n, count in names.items() if count > 1], \
            f"LV names used twice in {vg.name}: {names}"
        members = [pvs.get(uuid) for uuid in vg.physical_volumes]
        assert None not in members, f"VG {vg.name} lists a missing PV"
        assert all(pv.volume_group == vg.uuid for pv in members)
        assert vg.size == sum(pv.size for pv in members), vg
        assert vg.free_size == sum(pv.free_size for pv in members), vg
        used = sum(lv.size for lv in lvs.values() if lv.volume_group == vg.uuid)
        assert vg.size - vg.free_size == used, f"{vg.name}: LV sizes ≠ used extents"
    for pv in pvs.values():
        assert 0 <= pv.free_size <= pv.size, pv
        if pv.volume_group is not None:
            assert pv.volume_group in vgs, f"PV {pv.device} in a missing VG"
            assert pv.uuid in vgs[pv.volume_group].physical_volumes
        if pv.lun is not None:
            lun = luns.get(pv.lun)
            if lun is not None:   # None: its last path is gone
                assert lun.status == "pv" and lun.physical_volume == pv.uuid, (lun, pv)
                assert pv.device == lun.device
    for lun in luns.values():
        if lun.status == "pv":
            assert lun.physical_volume in pvs, f"LUN {lun.wwid} of a missing PV"
        else:
            assert lun.physical_volume is None, lun
    for session in store.all(IscsiSession).values():
        assert session.portal in sim_host.PORTALS


@pytest.fixture
async def engine(monkeypatch):
    # every simulated step takes no time: the tests stay in milliseconds
    monkeypatch.setattr(sim_lvm, "STEP", 0)
    monkeypatch.setattr(sim, "STEP", 0)
    engine = SimEngine()
    await engine.start()
    assert_consistent(engine.store)
    yield engine
    tasks = list(engine._tasks)
    await engine.close()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def completed(engine):
    """(job id, success, message) of every job that completed."""
    done: list[tuple[int, bool, str]] = []
    engine.store.subscribe(lambda changes: done.extend(changes.completed))
    return done


def vg_named(engine, name) -> VolumeGroup:
    [vg] = [vg for vg in engine.store.all(VolumeGroup).values() if vg.name == name]
    return vg


def lv_named(engine, vg_name, name) -> LogicalVolume:
    vg = vg_named(engine, vg_name)
    [lv] = [lv for lv in engine.store.all(LogicalVolume).values()
            if lv.volume_group == vg.uuid and lv.name == name]
    return lv


def lun(engine, wwid) -> Lun:
    return engine.store.get(Lun, wwid)


async def wait_for_job(engine, job_id, timeout=10.0):
    """Poll the store until the Job object is gone, as a bus client would."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while engine.store.get(Job, str(job_id)) is not None:
        assert loop.time() < deadline, f"job {job_id} still running after {timeout} s"
        await asyncio.sleep(0.01)


@pytest.fixture
async def data_vg(engine):
    """A managed VG `data` on LUN 3 with an LV `disk0` of 1 GiB."""
    uuid = await engine.create_volume_group("data", [LUN3], Options())
    await engine.create_logical_volume(uuid, "disk0", GiB, Options())
    return engine.store.get(VolumeGroup, uuid)


# ---- volume groups ----

@pytest.mark.parametrize("device", [
    pytest.param(LUN3, id="wwid"),
    pytest.param("naa." + LUN3[1:], id="naa"),
    pytest.param(mapper(LUN3), id="map-node"),
    pytest.param(objpath.path("Lun", LUN3), id="object-path"),
])
async def test_create_volume_group_on_a_free_lun(engine, device):
    uuid = await engine.create_volume_group("data", [device], Options())
    vg = engine.store.get(VolumeGroup, uuid)
    assert (vg.name, vg.managed, vg.extent_size) == ("data", True, EXTENT)
    assert MANAGED_TAG in vg.tags
    [pv] = [engine.store.get(PhysicalVolume, p) for p in vg.physical_volumes]
    assert (pv.device, pv.lun, pv.volume_group) == (mapper(LUN3), LUN3, uuid)
    assert pv.size == pv.free_size == pv_size(50 * GiB)
    assert (vg.size, vg.free_size) == (pv.size, pv.size)
    assert lun(engine, LUN3).status == "pv"
    assert lun(engine, LUN3).physical_volume == pv.uuid
    assert uuid in engine.enumerate_volume_groups()
    assert engine.list_physical_volumes("data") == [pv.uuid]
    assert_consistent(engine.store)


async def test_create_volume_group_over_two_luns(engine):
    uuid = await engine.create_volume_group("data", [LUN3, LUN4], Options())
    vg = engine.store.get(VolumeGroup, uuid)
    assert len(vg.physical_volumes) == 2
    assert vg.size == 2 * pv_size(50 * GiB)
    assert_consistent(engine.store)


async def test_create_volume_group_with_extent_size(engine):
    opts = Options(**{"extent-size": 32 * MiB})
    uuid = await engine.create_volume_group("data", [LUN3], opts)
    vg = engine.store.get(VolumeGroup, uuid)
    assert vg.extent_size == 32 * MiB
    assert vg.size == pv_size(50 * GiB, 32 * MiB)
    assert_consistent(engine.store)


async def test_create_volume_group_name_taken(engine):
    with pytest.raises(AlreadyExists, match="vmstore"):
        await engine.create_volume_group("vmstore", [LUN3], Options())
    assert lun(engine, LUN3).status == "free"
    assert_consistent(engine.store)


async def test_create_volume_group_on_a_pv(engine):
    with pytest.raises(Busy, match="already a physical volume"):
        await engine.create_volume_group("data", [LUN1], Options())
    assert_consistent(engine.store)


@pytest.mark.parametrize("wipe", [False, True], ids=["plain", "wipe"])
@pytest.mark.parametrize("device", [sim_host.SYSTEM_DISK, "/dev/vda"],
                         ids=["id-path", "node"])
async def test_create_volume_group_on_the_system_disk(engine, device, wipe):
    with pytest.raises(Busy, match="running system"):
        await engine.create_volume_group("data", [device], Options(wipe=wipe))
    assert lun(engine, sim_host.SYSTEM_DISK).status == "partitioned"
    assert_consistent(engine.store)


async def test_create_volume_group_on_a_filesystem_needs_wipe(engine):
    with pytest.raises(Busy, match="wipe"):
        await engine.create_volume_group("data", ["/dev/sdi"], Options())
    uuid = await engine.create_volume_group("data", ["/dev/sdi"], Options(wipe=True))
    assert lun(engine, ATA).status == "pv"
    assert engine.store.get(VolumeGroup, uuid).size == pv_size(4000 * GiB)
    assert_consistent(engine.store)


@pytest.mark.parametrize("device", ["/dev/sde", "/dev/sdf"], ids=["active", "second"])
async def test_create_volume_group_on_a_path_device(engine, device):
    with pytest.raises(InvalidArgument, match="use the map") as info:
        await engine.create_volume_group("data", [device], Options())
    assert mapper(LUN3) in str(info.value)
    assert lun(engine, LUN3).status == "free"
    assert_consistent(engine.store)


async def test_create_volume_group_on_an_unknown_device(engine):
    with pytest.raises(NotFound, match="no LUN"):
        await engine.create_volume_group("data", ["/dev/sdz"], Options())
    assert_consistent(engine.store)


async def test_create_volume_group_same_lun_under_two_spellings(engine):
    # validation.devices only sees two different strings; they are one LUN, which
    # must not become two PVs (the VG would count its space twice)
    with pytest.raises(InvalidArgument, match="twice|same"):
        await engine.create_volume_group("data", [LUN3, mapper(LUN3)], Options())
    assert_consistent(engine.store)


async def test_extend_volume_group(engine, data_vg):
    await engine.extend_volume_group("data", [LUN4], Options())
    vg = engine.store.get(VolumeGroup, data_vg.uuid)
    assert len(vg.physical_volumes) == 2
    assert vg.size == 2 * pv_size(50 * GiB)
    assert lun(engine, LUN4).status == "pv"
    assert_consistent(engine.store)


async def test_extend_volume_group_with_a_pv(engine, data_vg):
    with pytest.raises(Busy, match="already a physical volume"):
        await engine.extend_volume_group("data", [LUN1], Options())
    assert_consistent(engine.store)


async def test_remove_volume_group(engine, data_vg):
    await engine.extend_volume_group("data", [LUN4], Options())
    await engine.create_logical_volume("data", "disk1", 60 * GiB, Options())
    pvs = engine.store.get(VolumeGroup, data_vg.uuid).physical_volumes
    await engine.remove_volume_group("data", Options())
    assert engine.store.get(VolumeGroup, data_vg.uuid) is None
    assert not [lv for lv in engine.store.all(LogicalVolume).values()
                if lv.volume_group == data_vg.uuid]
    assert not [p for p in pvs if engine.store.get(PhysicalVolume, p)]
    for wwid in (LUN3, LUN4):
        assert (lun(engine, wwid).status, lun(engine, wwid).physical_volume) == ("free", None)
    assert_consistent(engine.store)


async def test_remove_volume_group_frees_the_name(engine, data_vg):
    await engine.remove_volume_group(data_vg.uuid, Options())
    await engine.create_volume_group("data", [LUN3], Options())
    assert_consistent(engine.store)


async def test_remove_unmanaged_volume_group_needs_force(engine):
    with pytest.raises(InvalidArgument, match="force"):
        await engine.remove_volume_group("vmstore", Options())
    assert vg_named(engine, "vmstore")
    assert_consistent(engine.store)


async def test_remove_volume_group_with_an_open_lv(engine):
    with pytest.raises(Busy, match="vm-101-disk-0"):
        await engine.remove_volume_group("vmstore", Options(force=True))
    assert len(engine.list_logical_volumes("vmstore")) == 4
    assert_consistent(engine.store)


async def test_remove_unknown_volume_group(engine):
    with pytest.raises(NotFound, match="no volume group"):
        await engine.remove_volume_group("nothing", Options())


# ---- logical volumes ----

@pytest.mark.parametrize("size,allocated", [
    pytest.param(1, EXTENT, id="one-byte"),
    pytest.param(EXTENT, EXTENT, id="one-extent"),
    pytest.param(10 * MiB + 1, 12 * MiB, id="rounded-up"),
    pytest.param(GiB, GiB, id="gib"),
])
async def test_create_logical_volume(engine, data_vg, size, allocated):
    uuid = await engine.create_logical_volume("data", "disk1", size, Options())
    lv = engine.store.get(LogicalVolume, uuid)
    assert (lv.name, lv.volume_group, lv.size) == ("disk1", data_vg.uuid, allocated)
    assert lv.path == "/dev/data/disk1"
    assert lv.active and lv.attributes[4] == "a" and lv.origin is None
    vg = engine.store.get(VolumeGroup, data_vg.uuid)
    assert vg.free_size == data_vg.free_size - allocated
    assert uuid in engine.list_logical_volumes("data")
    assert_consistent(engine.store)


async def test_create_logical_volume_inactive(engine, data_vg):
    uuid = await engine.create_logical_volume("data", "disk1", GiB,
                                              Options(activate=False))
    lv = engine.store.get(LogicalVolume, uuid)
    assert not lv.active and lv.attributes[4] == "-"
    assert_consistent(engine.store)


async def test_create_logical_volume_too_big(engine, data_vg):
    with pytest.raises(NoSpace, match="bytes free"):
        await engine.create_logical_volume("data", "huge", 50 * GiB, Options())
    assert engine.store.get(VolumeGroup, data_vg.uuid) == data_vg
    assert engine.list_logical_volumes("data") == [lv_named(engine, "data", "disk0").uuid]
    assert_consistent(engine.store)


async def test_create_logical_volume_fills_the_vg_exactly(engine, data_vg):
    await engine.create_logical_volume("data", "rest", data_vg.free_size, Options())
    assert engine.store.get(VolumeGroup, data_vg.uuid).free_size == 0
    assert_consistent(engine.store)


async def test_create_logical_volume_name_taken(engine, data_vg):
    with pytest.raises(AlreadyExists, match="data/disk0"):
        await engine.create_logical_volume("data", "disk0", GiB, Options())
    assert_consistent(engine.store)


async def test_create_logical_volume_same_name_in_another_vg(engine, data_vg):
    await engine.create_logical_volume("vmstore", "disk0", GiB, Options())
    assert_consistent(engine.store)


async def test_create_logical_volume_spans_pvs(engine):
    uuid = await engine.create_volume_group("data", [LUN3, LUN4], Options())
    await engine.create_logical_volume(uuid, "big", 70 * GiB, Options())
    vg = engine.store.get(VolumeGroup, uuid)
    pvs = [engine.store.get(PhysicalVolume, p) for p in vg.physical_volumes]
    assert [pv.free_size for pv in pvs] == [0, 2 * pv_size(50 * GiB) - 70 * GiB]
    assert_consistent(engine.store)


async def test_extend_logical_volume(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    await engine.extend_logical_volume("data/disk0", MiB, Options())
    assert engine.store.get(LogicalVolume, lv.uuid).size == GiB + EXTENT
    assert_consistent(engine.store)


async def test_extend_logical_volume_with_expected_size(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    await engine.extend_logical_volume(lv.uuid, GiB, Options(**{"expected-size": GiB}))
    assert engine.store.get(LogicalVolume, lv.uuid).size == 2 * GiB
    assert_consistent(engine.store)


async def test_extend_logical_volume_retry_does_not_grow_twice(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    opts = Options(**{"expected-size": GiB})
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
        await engine.extend_logical_volume(lv.uuid, 50 * GiB, Options())
    assert engine.store.get(LogicalVolume, lv.uuid).size == GiB
    assert_consistent(engine.store)


async def test_remove_logical_volume(engine, data_vg):
    lv = lv_named(engine, "data", "disk0")
    await engine.remove_logical_volume("data/disk0", Options())
    assert engine.store.get(LogicalVolume, lv.uuid) is None
    vg = engine.store.get(VolumeGroup, data_vg.uuid)
    assert vg.free_size == vg.size
    assert_consistent(engine.store)


async def test_remove_logical_volume_open(engine):
    with pytest.raises(Busy, match="open"):
        await engine.remove_logical_volume("vmstore/vm-101-disk-0", Options(force=True))
    assert lv_named(engine, "vmstore", "vm-101-disk-0")
    assert_consistent(engine.store)


async def test_remove_logical_volume_of_unmanaged_vg_needs_force(engine):
    with pytest.raises(InvalidArgument, match="force"):
        await engine.remove_logical_volume("vmstore/templates", Options())
    await engine.remove_logical_volume("vmstore/templates", Options(force=True))
    assert "templates" not in {lv.name for lv in engine.store.all(LogicalVolume).values()}
    assert_consistent(engine.store)


async def test_remove_logical_volume_with_snapshots(engine):
    with pytest.raises(Busy, match="vm-102-snap"):
        await engine.remove_logical_volume("vmstore/vm-102-disk-0", Options(force=True))
    assert_consistent(engine.store)


async def test_remove_last_snapshot_clears_origin_attribute(engine):
    await engine.remove_logical_volume("vmstore/vm-102-snap", Options(force=True))
    origin = lv_named(engine, "vmstore", "vm-102-disk-0")
    assert origin.attributes[0] == "-"
    assert_consistent(engine.store)


async def test_remove_unknown_logical_volume(engine):
    with pytest.raises(NotFound, match="no logical volume"):
        await engine.remove_logical_volume("vmstore/nothing", Options())


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

def vmstore_pv(engine, wwid) -> PhysicalVolume:
    [pv] = [pv for pv in engine.store.all(PhysicalVolume).values() if pv.lun == wwid]
    return pv


async def test_remove_physical_volume_holding_data(engine):
    pv = vmstore_pv(engine, LUN1)
    with pytest.raises(Busy, match="move-data"):
        await engine.remove_physical_volume("vmstore", LUN1, Options(), uid=0)
    assert engine.store.get(PhysicalVolume, pv.uuid) == pv
    assert_consistent(engine.store)


async def test_remove_empty_physical_volume(engine):
    pv = vmstore_pv(engine, LUN2)
    assert await engine.remove_physical_volume("vmstore", mapper(LUN2), Options(),
                                               uid=0) is None
    assert engine.store.get(PhysicalVolume, pv.uuid) is None
    assert lun(engine, LUN2).status == "free"
    assert vg_named(engine, "vmstore").physical_volumes == (vmstore_pv(engine, LUN1).uuid,)
    assert_consistent(engine.store)


async def test_remove_last_physical_volume(engine, data_vg):
    with pytest.raises(Busy, match="last physical volume"):
        await engine.remove_physical_volume("data", LUN3, Options(), uid=0)
    assert_consistent(engine.store)


async def test_remove_physical_volume_of_another_vg(engine, data_vg):
    with pytest.raises(NotFound, match="no physical volume"):
        await engine.remove_physical_volume("data", LUN1, Options(), uid=0)
    assert_consistent(engine.store)


async def test_remove_physical_volume_moving_data(engine, completed):
    pv1, pv2 = vmstore_pv(engine, LUN1), vmstore_pv(engine, LUN2)
    sizes = {lv.uuid: lv.size for lv in engine.store.all(LogicalVolume).values()}
    job_id = await engine.remove_physical_volume(
        "vmstore", pv1.uuid, Options(**{"move-data": True}), uid=1000)
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
        "vmstore", pv1.uuid, Options(**{"move-data": True}), uid=0)
    engine.cancel_job(job_id)
    await wait_for_job(engine, job_id)
    [(done_id, success, message)] = completed
    assert (done_id, success) == (job_id, False)
    assert "cancelled" in message
    assert engine.store.get(PhysicalVolume, pv1.uuid) == pv1
    assert_consistent(engine.store)


async def test_remove_physical_volume_without_room_elsewhere(engine):
    await engine.create_logical_volume("vmstore", "filler", 90 * GiB, Options())
    with pytest.raises(NoSpace, match="lack the space"):
        await engine.remove_physical_volume("vmstore", LUN1,
                                            Options(**{"move-data": True}), uid=0)
    assert not engine.store.all(Job)
    assert_consistent(engine.store)


async def test_extend_volume_group_while_moving_data(engine):
    # the extend waits for the VG lock the move holds; it must then work on the VG
    # as the move left it, not on the copy it read before waiting
    job_id = await engine.remove_physical_volume(
        "vmstore", LUN1, Options(**{"move-data": True}), uid=0)
    await asyncio.sleep(0)   # the move starts and takes the VG lock
    try:
        await engine.extend_volume_group("vmstore", [LUN3], Options())
        extended = True
    except Busy:             # refusing while data moves is fine too; crashing is not
        extended = False
    await wait_for_job(engine, job_id)
    vg = vg_named(engine, "vmstore")
    assert {engine.store.get(PhysicalVolume, p).lun for p in vg.physical_volumes} == (
        {LUN2, LUN3} if extended else {LUN2})
    assert_consistent(engine.store)


async def test_remove_volume_group_while_moving_data(engine):
    uuid = await engine.create_volume_group("data", [LUN3, LUN4], Options())
    await engine.create_logical_volume(uuid, "disk0", GiB, Options())   # on LUN 3
    job_id = await engine.remove_physical_volume(
        uuid, LUN3, Options(**{"move-data": True}), uid=0)
    await asyncio.sleep(0)   # the move starts and takes the VG lock
    try:
        await engine.remove_volume_group(uuid, Options())
        removed = True
    except Busy:             # refusing while data moves is fine too; crashing is not
        removed = False
    await wait_for_job(engine, job_id)
    assert lun(engine, LUN3).status == "free"
    if removed:
        assert engine.store.get(VolumeGroup, uuid) is None
        assert lun(engine, LUN4).status == "free"
    assert_consistent(engine.store)


# ---- NFS ----

async def test_mount_nfs(engine):
    key = await engine.mount_nfs("nfs.example.com", "/export/vm", "/srv/nfs",
                                 Options(hard=True, persistent=True), uid=0)
    mount = engine.store.get(Mount, key)
    assert key == "/srv/nfs"
    assert (mount.server, mount.remote_path, mount.persistent) == (
        "nfs.example.com", "/export/vm", True)
    assert mount.options.startswith("nosuid,nodev,")
    assert "hard" in mount.options.split(",")
    assert not engine.store.all(Job)
    assert_consistent(engine.store)


async def test_mount_nfs_creates_the_mountpoint(engine):
    await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs/a/b",
                           Options(**{"create-mountpoint": True}), uid=0)
    assert {"/srv/nfs/a", "/srv/nfs/a/b"} <= engine.dirs
    assert_consistent(engine.store)


async def test_mount_nfs_missing_mountpoint(engine):
    with pytest.raises(NotFound, match="create-mountpoint"):
        await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs/a", Options(),
                               uid=0)
    assert "/srv/nfs/a" not in engine.dirs


async def test_mount_nfs_timeout_removes_the_mountpoint_it_made(engine, completed):
    dirs = set(engine.dirs)
    opts = Options(timeout=1, **{"create-mountpoint": True})
    with pytest.raises(Timeout, match="did not answer"):
        await engine.mount_nfs(sim_host.UNREACHABLE, "/export", "/srv/nfs/new/deep",
                               opts, uid=0)
    assert engine.dirs == dirs
    assert engine.store.get(Mount, "/srv/nfs/new/deep") is None
    assert not engine.store.all(Job)
    assert [success for _, success, _ in completed] == [False]
    assert_consistent(engine.store)


async def test_mount_nfs_timeout_keeps_an_existing_mountpoint(engine):
    # the engine takes any number of seconds; the bus layer's minimum of 1 is
    # validation's business, and this test need not wait for it
    with pytest.raises(Timeout, match="did not answer"):
        await engine.mount_nfs(sim_host.UNREACHABLE, "/export", "/srv/nfs",
                               Options(timeout=0.01), uid=0)
    assert "/srv/nfs" in engine.dirs


async def test_mount_nfs_already_mounted(engine):
    with pytest.raises(AlreadyExists, match="/mnt/iso"):
        await engine.mount_nfs("nfs.example.com", "/export/iso", "/mnt/iso", Options(),
                               uid=0)
    assert_consistent(engine.store)


async def test_mount_nfs_twice(engine):
    await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs", Options(), uid=0)
    with pytest.raises(AlreadyExists, match="/srv/nfs"):
        await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs", Options(),
                               uid=0)
    assert_consistent(engine.store)


async def test_mount_nfs_over_another_mount(engine):
    with pytest.raises(Busy, match="mounted on /mnt/iso"):
        await engine.mount_nfs("other.example.com", "/export", "/mnt/iso", Options(),
                               uid=0)
    assert engine.store.get(Mount, "/mnt/iso").server == "nfs.example.com"


async def test_mount_nfs_on_a_directory_with_files(engine):
    with pytest.raises(Busy, match="not empty"):
        await engine.mount_nfs("nfs.example.com", "/export", "/mnt", Options(), uid=0)


async def test_concurrent_mounts_on_one_path(engine):
    # both calls cannot have succeeded: only one mount is on /srv/nfs afterwards
    results = await asyncio.gather(
        engine.mount_nfs("a.example.com", "/export", "/srv/nfs", Options(), uid=0),
        engine.mount_nfs("b.example.com", "/export", "/srv/nfs", Options(), uid=0),
        return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Busy", "str"]
    assert_consistent(engine.store)


async def test_unmount_busy(engine):
    with pytest.raises(Busy, match="in use"):
        await engine.unmount("/mnt/iso", False, Options())
    assert engine.store.get(Mount, "/mnt/iso") is not None
    await engine.unmount("/mnt/iso", True, Options())
    assert engine.store.get(Mount, "/mnt/iso") is None
    assert_consistent(engine.store)


async def test_unmount_own_mount(engine):
    await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs", Options(), uid=0)
    await engine.unmount("/srv/nfs", False, Options())
    assert engine.store.get(Mount, "/srv/nfs") is None
    assert_consistent(engine.store)


async def test_unmount_nothing(engine):
    with pytest.raises(NotFound, match="no NFS mount"):
        await engine.unmount("/srv/nfs", False, Options())


# ---- iSCSI ----

@pytest.mark.parametrize("opts", [
    pytest.param(Options(), id="no-chap"),
    pytest.param(Options(username="backup", password="hunter2"), id="wrong-password"),
])
async def test_login_iscsi_without_chap(engine, completed, opts):
    with pytest.raises(Failed, match="CHAP") as info:
        await engine.login_iscsi(PORTAL_A, BACKUP, opts, uid=0)
    assert "hunter2" not in str(info.value)
    assert not [w for w in BACKUP_LUNS if lun(engine, w)]
    assert not engine.store.all(Job)
    assert [success for _, success, _ in completed] == [False]
    assert_consistent(engine.store)


async def test_login_iscsi_with_chap(engine):
    key = await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    assert key == f"{BACKUP}@{PORTAL_A}"
    session = engine.store.get(IscsiSession, key)
    assert session.luns == BACKUP_LUNS
    for wwid in BACKUP_LUNS:
        found = lun(engine, wwid)
        assert (found.multipath, found.transport, found.status) == (True, "iscsi", "free")
        assert len(found.paths) == 1
        assert wwid in engine.enumerate_luns()
    assert_consistent(engine.store)


async def test_login_iscsi_second_portal_adds_paths(engine):
    await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    await engine.login_iscsi(PORTAL_B, BACKUP, CHAP, uid=0)
    assert [dev for dev, _ in lun(engine, BACKUP_LUNS[0]).paths] == ["sdj", "sdk"]
    assert_consistent(engine.store)


async def test_login_iscsi_again_is_no_change(engine):
    key = await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    before = {kind: dict(table) for kind, table in engine.store.objects.items()}
    assert await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0) == key
    assert {kind: dict(table) for kind, table in engine.store.objects.items()} == before


@pytest.mark.parametrize("portal,target,error,word", [
    pytest.param(PORTAL_A, "iqn.2003-01.org.x:none", NotFound, "no target",
                 id="unknown-target"),
    pytest.param("192.0.2.99:3260", DATA, Failed, "connection refused",
                 id="unknown-portal"),
])
async def test_login_iscsi_refused(engine, portal, target, error, word):
    with pytest.raises(error, match=word):
        await engine.login_iscsi(portal, target, Options(), uid=0)
    assert not engine.store.all(Job)


async def test_login_iscsi_unreachable_portal(engine):
    with pytest.raises(Timeout, match="did not answer"):
        await engine.login_iscsi(f"{sim_host.UNREACHABLE}:3260", DATA,
                                 Options(timeout=0.01), uid=0)


async def test_discover_iscsi_targets(engine):
    found = await engine.discover_iscsi_targets(PORTAL_A, Options())
    assert {target for target, _ in found} == {DATA, BACKUP}


@pytest.mark.parametrize("opts,seconds", [
    pytest.param(Options(), 30, id="default"),
    pytest.param(Options(timeout=5), 5, id="timeout-option"),
])
async def test_discover_iscsi_targets_unreachable_portal(engine, monkeypatch, opts,
                                                         seconds):
    slept = []

    async def sleep(delay):            # the sim's clock only: no test waits 30 s
        slept.append(delay)
    monkeypatch.setattr(sim, "asyncio", SimpleNamespace(sleep=sleep))
    with pytest.raises(Timeout, match=f"did not answer within {seconds} s"):
        await engine.discover_iscsi_targets(f"{sim_host.UNREACHABLE}:3260", opts)
    assert slept == [seconds]


async def test_enumerate_iscsi_luns_without_login(engine):
    with pytest.raises(NotFound, match="log in first"):
        await engine.enumerate_iscsi_luns(PORTAL_A, BACKUP, Options(login=False), uid=0)
    assert not [w for w in BACKUP_LUNS if lun(engine, w)]


async def test_enumerate_iscsi_luns_logs_in(engine):
    wwids = await engine.enumerate_iscsi_luns(PORTAL_A, BACKUP, CHAP, uid=0)
    assert wwids == list(BACKUP_LUNS)
    assert engine.store.get(IscsiSession, f"{BACKUP}@{PORTAL_A}") is not None
    assert_consistent(engine.store)


async def test_enumerate_iscsi_luns_of_a_session(engine):
    assert await engine.enumerate_iscsi_luns(PORTAL_A, DATA, Options(login=False),
                                             uid=0) == [LUN1, LUN2, LUN3, LUN4]


async def test_logout_iscsi_of_the_last_path_of_a_pv(engine):
    await engine.logout_iscsi(PORTAL_A, DATA, Options())
    assert [dev for dev, _ in lun(engine, LUN1).paths] == ["sdb"]
    with pytest.raises(Busy, match="physical volume") as info:
        await engine.logout_iscsi(PORTAL_B, DATA, Options())
    assert LUN1 in str(info.value) or LUN2 in str(info.value)
    assert engine.store.get(IscsiSession, f"{DATA}@{PORTAL_B}") is not None
    assert lun(engine, LUN1).paths == (("sdb", "active"),)
    assert_consistent(engine.store)


async def test_logout_iscsi_removes_its_luns(engine):
    await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    await engine.logout_iscsi(PORTAL_A, BACKUP, Options())
    assert engine.store.get(IscsiSession, f"{BACKUP}@{PORTAL_A}") is None
    assert not [w for w in BACKUP_LUNS if lun(engine, w)]
    assert_consistent(engine.store)


async def test_logout_iscsi_without_session(engine):
    with pytest.raises(NotFound, match="no session"):
        await engine.logout_iscsi(PORTAL_A, BACKUP, Options())


# ---- Rescan ----

def snapshot(engine) -> dict:
    return {kind: dict(table) for kind, table in engine.store.objects.items()}


async def test_rescan_finds_what_the_array_changed(engine):
    vmstore = vg_named(engine, "vmstore")
    pv = vmstore_pv(engine, LUN2)
    assert lun(engine, LUN5) is None and lun(engine, LUN2).size == 100 * GiB
    await engine.rescan(Options())
    new = lun(engine, LUN5)
    assert (new.size, new.device, new.transport, new.status) == (
        200 * GiB, mapper(LUN5), "iscsi", "free")
    assert new.paths == (("sdn", "active"), ("sdo", "active"))
    assert LUN5 in engine.enumerate_luns()
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
    await engine.create_logical_volume(vg.uuid, "bigger", 55 * GiB, Options())
    assert_consistent(engine.store)


async def test_rescan_finds_a_newly_mapped_lun(engine):
    await engine.rescan(Options())
    wwid = engine.map_lun(DATA, 10 * GiB)
    assert wwid == "36001405d0e1f2a3b4c5d6e7f80910006"
    assert lun(engine, wwid) is None
    assert wwid not in await engine.enumerate_iscsi_luns(PORTAL_A, DATA, Options(),
                                                         uid=0)
    await engine.rescan(Options())
    assert lun(engine, wwid).size == 10 * GiB
    assert [dev for dev, _ in lun(engine, wwid).paths] == ["sdp", "sdq"]
    assert wwid in await engine.enumerate_iscsi_luns(PORTAL_A, DATA, Options(), uid=0)
    uuid = await engine.create_volume_group("fresh", [wwid], Options())
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
                                              Options(**{"move-data": True}), uid=0)
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


@pytest.mark.parametrize("kind", ["Lun", "PhysicalVolume", "LogicalVolume"])
async def test_block_info_by_object_path(engine, kind):
    # base.py: "named by WWID, LVM UUID, `vg/lv`, /dev path or object path"
    key = {"Lun": LUN3, "PhysicalVolume": vmstore_pv(engine, LUN1).uuid,
           "LogicalVolume": lv_named(engine, "vmstore", "templates").uuid}[kind]
    info = await engine.get_block_info(objpath.path(kind, key))
    assert info.uuid == key


@pytest.mark.parametrize("ref", [
    pytest.param("nothing", id="unknown-name"),
    pytest.param("/dev/sdz", id="unknown-node"),
    pytest.param("vmstore", id="vg-name"),
    pytest.param("36001405ffffffffffffffffffffffff", id="unknown-wwid"),
])
async def test_block_info_unknown(engine, ref):
    with pytest.raises(NotFound, match="no device"):
        await engine.get_block_info(ref)

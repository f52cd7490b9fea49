# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the tests of the simulated engine share: the seeded host's names, helpers
that find its objects, and the consistency every state must keep.

The simulated host (engine/sim/seed.py): target `data` logged in on both portals with
four two-path LUNs, LUN 1 and 2 holding the unmanaged VG `vmstore`; target `backup`
behind CHAP; a partitioned system disk, a free NVMe disk, an ATA disk with a
filesystem; an NFS mount on /mnt/iso that is in use. Found on the next rescan only:
LUN 5 of 200 GiB newly mapped on `data`, and LUN 2 grown to 120 GiB on the array.
"""

import asyncio
from collections import Counter

from solidice_storage.engine.sim import seed
from solidice_storage.engine.store import StateStore
from solidice_storage.models import (IscsiSession, Job, Lun, LogicalVolume, PhysicalVolume,
                                     VolumeGroup)
from solidice_storage.options import (EnumerateIscsiLunsOptions, LoginOptions,
                                      MountNfsOptions)

GiB, MiB = seed.GiB, seed.MiB
EXTENT = 4 * MiB
LUN1, LUN2, LUN3, LUN4, LUN5 = (f"36001405d0e1f2a3b4c5d6e7f8091000{n}" for n in range(1, 6))
BACKUP_LUNS = ("36001405d0e1f2a3b4c5d6e7f80910101", "36001405d0e1f2a3b4c5d6e7f80910102")
NVME = "eui.0025388b91c2d3e4"
ATA = "35000c500a1b2c3d4"
DATA, BACKUP = seed.DATA_TARGET, seed.BACKUP_TARGET
PORTAL_A, PORTAL_B = seed.PORTALS
CHAP = LoginOptions(username="backup", password="backup-secret")
ENUMERATE_CHAP = EnumerateIscsiLunsOptions(username="backup", password="backup-secret")


def mount_options(**fields) -> MountNfsOptions:
    """MountNfs's options, as the D-Bus layer hands them to the engine."""
    return MountNfsOptions(**fields)


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
        assert session.portal in seed.PORTALS



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



def vmstore_pv(engine, wwid) -> PhysicalVolume:
    [pv] = [pv for pv in engine.store.all(PhysicalVolume).values() if pv.lun == wwid]
    return pv


def snapshot(engine) -> dict:
    return {kind: dict(table) for kind, table in engine.store.objects.items()}

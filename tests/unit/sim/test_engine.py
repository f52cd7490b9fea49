# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/sim/engine.py and seed.py: the simulated engine composed and seeded."""

import pytest

from solidice_storage.engine.sim.engine import SimEngine
from solidice_storage.models import LogicalVolume, Mount
from solidice_storage.options import CreateLogicalVolumeOptions, CreateVolumeGroupOptions

from .helpers import LUN3, MiB, assert_consistent, vg_named


async def test_the_seeded_host():
    engine = SimEngine(step=0)
    await engine.start()
    assert_consistent(engine.store)
    assert not vg_named(engine, "vmstore").managed
    assert len(engine.reads.list_logical_volumes("vmstore")) == 4
    assert engine.store.get(Mount, "/mnt/iso") is not None
    await engine.close()


async def test_bulk_lvs_on_the_nvme_disk():
    engine = SimEngine(bulk_lvs=5, step=0)
    await engine.start()
    bulk = vg_named(engine, "bulk")
    lvs = [engine.store.get(LogicalVolume, uuid)
           for uuid in engine.reads.list_logical_volumes(bulk.uuid)]
    assert [lv.name for lv in lvs] == [f"lv{n:05d}" for n in range(5)]
    assert {lv.size for lv in lvs} == {4 * MiB}
    assert_consistent(engine.store)
    await engine.close()


async def test_a_fault_fails_its_operation_once_seeded():
    # seeding creates VGs and LVs itself: the faults are armed only after it
    engine = SimEngine(faults=frozenset({"create_volume_group",
                                         "create_logical_volume"}), step=0)
    await engine.start()
    with pytest.raises(RuntimeError, match="injected fault in create_volume_group"):
        await engine.create_volume_group("data", [LUN3], CreateVolumeGroupOptions())
    with pytest.raises(RuntimeError, match="injected fault in create_logical_volume"):
        await engine.create_logical_volume("vmstore", "x", MiB,
                                           CreateLogicalVolumeOptions())
    await engine.close()

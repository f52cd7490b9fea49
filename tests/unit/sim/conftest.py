# SPDX-License-Identifier: LGPL-2.1-or-later
"""The simulated engine, seeded, with every simulated step taking no time."""

import pytest

from solidice_storage.engine.sim.engine import SimEngine
from solidice_storage.models import VolumeGroup
from solidice_storage.options import CreateLogicalVolumeOptions, CreateVolumeGroupOptions

from .helpers import GiB, LUN3, assert_consistent


@pytest.fixture
async def engine():
    engine = SimEngine(step=0)        # the tests stay in milliseconds
    await engine.start()
    assert_consistent(engine.store)
    yield engine
    await engine.close()


@pytest.fixture
def completed(engine):
    """(job id, success, message) of every job that completed."""
    done: list[tuple[int, bool, str]] = []
    engine.store.subscribe(lambda changes: done.extend(changes.completed))
    return done


@pytest.fixture
async def data_vg(engine):
    """A managed VG `data` on LUN 3 with an LV `disk0` of 1 GiB."""
    uuid = await engine.create_volume_group("data", [LUN3], CreateVolumeGroupOptions())
    await engine.create_logical_volume(uuid, "disk0", GiB, CreateLogicalVolumeOptions())
    return engine.store.get(VolumeGroup, uuid)

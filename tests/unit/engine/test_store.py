# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/state.py: the store publishes only what changed; jobs live in it."""

import asyncio

import pytest

from solidice_storage import models
from solidice_storage.engine.store import Changes, StateStore
from solidice_storage.engine.jobs import Jobs
from solidice_storage.errors import Cancelled, NoSpace


def lun(wwid="36001405aa", size=1024, **extra):
    return models.Lun(wwid=wwid, device=f"/dev/mapper/{wwid}", size=size, **extra)


@pytest.fixture
def store():
    return StateStore()


@pytest.fixture
def seen(store):
    """Every batch the store's listener received."""
    batches: list[Changes] = []
    store.subscribe(batches.append)
    return batches


def test_publish_stores_and_tells(store, seen):
    first = lun()
    store.publish([first])
    assert store.get(models.Lun, first.wwid) is first
    assert store.all(models.Lun) == {first.wwid: first}
    assert [batch.upserts for batch in seen] == [[first]]


def test_publish_drops_an_unchanged_model(store, seen):
    store.publish([lun()])
    store.publish([lun()])   # equal, not the same instance
    assert len(seen) == 1


def test_publish_of_a_changed_model_is_an_upsert(store, seen):
    store.publish([lun()])
    bigger = lun(size=2048)
    store.publish([bigger])
    assert seen[-1].upserts == [bigger]
    assert store.get(models.Lun, bigger.wwid).size == 2048


def test_publish_batches_upserts_and_removals(store, seen):
    store.publish([lun("a"), lun("b")])
    store.publish([lun("c"), lun("a")], removals=[("Lun", "b")])
    assert len(seen) == 2
    assert seen[1].upserts == [lun("c")]           # "a" is unchanged
    assert seen[1].removals == [("Lun", "b")]
    assert set(store.all(models.Lun)) == {"a", "c"}


def test_publish_ignores_removal_of_an_unknown_key(store, seen):
    store.publish(removals=[("Lun", "nothing")])
    assert seen == []


def test_publish_of_a_host_property_change_alone_is_told(store, seen):
    store.publish(host=True)
    assert seen[0].host and not seen[0].upserts
    store.publish(host=False)
    assert len(seen) == 1


def test_publish_with_only_completed_jobs_is_told(store, seen):
    store.publish(completed=[(3, True, "")])
    assert seen[0].completed == [(3, True, "")]
    assert not seen[0].upserts and not seen[0].removals


def test_every_listener_is_told(store):
    got = []
    store.subscribe(lambda changes: got.append(("one", changes)))
    store.subscribe(lambda changes: got.append(("two", changes)))
    store.publish([lun()])
    assert [name for name, _ in got] == ["one", "two"]


def test_get_of_none_is_none(store):
    assert store.get(models.Lun, None) is None


def test_changes_truth():
    assert not Changes()
    assert Changes(removals=[("Lun", "a")])


# ---- jobs ----

@pytest.fixture
def jobs(store):
    return Jobs(store)


def test_job_start_publishes_it(jobs, store, seen):
    handle = jobs.start("pv-move", [("PhysicalVolume", "u1")], uid=1000)
    job = store.get(models.Job, str(handle.id))
    assert job == models.Job(id=handle.id, operation="pv-move",
                             objects=(("PhysicalVolume", "u1"),), started_by_uid=1000)
    assert seen[-1].upserts == [job]


def test_job_ids_count_up(jobs):
    ids = [jobs.start("x", [], 0).id for _ in range(3)]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]     # from a random start: test_jobs


@pytest.mark.parametrize("given,stored", [
    pytest.param(0.25, 0.25, id="fraction"),
    pytest.param(-1.0, 0.0, id="below-0"),
    pytest.param(7.0, 1.0, id="above-1"),
])
def test_job_progress(jobs, store, seen, given, stored):
    handle = jobs.start("x", [], 0)
    handle.progress(given)
    assert store.get(models.Job, str(handle.id)).progress == stored
    assert seen[-1].upserts[0].progress == stored


def test_job_cancellable_flag(jobs, store):
    handle = jobs.start("x", [], 0)
    handle.cancellable(False)
    assert store.get(models.Job, str(handle.id)).cancelable is False


def test_job_finish_success(jobs, store, seen):
    handle = jobs.start("x", [], 0)
    jobs.finish(handle, None)
    assert store.get(models.Job, str(handle.id)) is None
    assert seen[-1].removals == [("Job", str(handle.id))]
    assert seen[-1].completed == [(handle.id, True, "")]


@pytest.mark.parametrize("error,message", [
    pytest.param(NoSpace("vg0 is full"), "vg0 is full", id="with-message"),
    pytest.param(RuntimeError(), "RuntimeError", id="without-message"),
])
def test_job_finish_failure(jobs, seen, error, message):
    handle = jobs.start("x", [], 0)
    jobs.finish(handle, error)
    assert seen[-1].completed == [(handle.id, False, message)]


def test_job_cancel_makes_check_raise(jobs):
    handle = jobs.start("pv-move", [], 0)
    handle.check()
    jobs.cancel(handle.id)
    with pytest.raises(Cancelled, match="cancelled") as info:
        handle.check()
    assert "pv-move" in str(info.value)


def test_job_cancel_of_an_unknown_job_is_ignored(jobs):
    jobs.cancel(99)


def test_job_cancel_after_finish_is_ignored(jobs):
    handle = jobs.start("x", [], 0)
    jobs.finish(handle, None)
    jobs.cancel(handle.id)
    handle.check()


async def test_jobs_run_returns_the_result(jobs, store, seen):
    handle = jobs.start("x", [], 0)

    async def work():
        return "done"

    assert await jobs.run(handle, work()) == "done"
    assert store.get(models.Job, str(handle.id)) is None
    assert seen[-1].completed == [(handle.id, True, "")]


async def test_jobs_run_reraises_and_fails_the_job(jobs, store, seen):
    handle = jobs.start("x", [], 0)

    async def work():
        raise NoSpace("no room")

    with pytest.raises(NoSpace, match="no room"):
        await jobs.run(handle, work())
    assert store.get(models.Job, str(handle.id)) is None
    assert seen[-1].completed == [(handle.id, False, "no room")]


async def test_jobs_run_completes_a_cancelled_task(jobs, seen):
    handle = jobs.start("x", [], 0)
    task = asyncio.ensure_future(jobs.run(handle, asyncio.sleep(10)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen[-1].completed == [(handle.id, False, "CancelledError")]


def lv(uuid, vg, name="lv", size=4096):
    return models.LogicalVolume(uuid=uuid, name=name, volume_group=vg, size=size,
                                path=f"/dev/{vg}/{name}", active=True)


def test_the_lvs_of_a_vg_follow_adds_changes_moves_and_removals(store):
    store.publish([lv("a", "vg1"), lv("b", "vg2"), lv("c", "vg1")])
    assert store.logical_volumes_of("vg1") == ["a", "c"]
    store.publish([lv("a", "vg1", size=8192)])            # changed, same VG
    assert store.logical_volumes_of("vg1") == ["a", "c"]
    store.publish([lv("c", "vg2")])                       # moved (vgsplit)
    assert (store.logical_volumes_of("vg1"), store.logical_volumes_of("vg2")) == \
        (["a"], ["b", "c"])
    store.publish(removals=[("LogicalVolume", "a"), ("LogicalVolume", "b")])
    assert store.logical_volumes_of("vg1") == [] and store.logical_volumes_of("vg2") == ["c"]
    assert store.logical_volumes_of("no-such-vg") == []

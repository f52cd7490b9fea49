# SPDX-License-Identifier: LGPL-2.1-or-later
"""solidice_storage.client against the simulated daemon: every method, its models,
each error type, watch() events, job progress and the blocking facade. What the
client returns is checked against the tree as the `storage` fixture (raw dbus-fast)
reads it."""

import asyncio
import subprocess
import sys

import pytest
from dbus_fast import Message, MessageType

from conftest import NOBODY
from solidice_storage import client as sc, models
from solidice_storage.client import GiB, MiB, StorageClient, SyncStorageClient
from solidice_storage.client.errors import from_dbus
from storage import IFACE, HOST

SIM = "iqn.2003-01.org.linux-iscsi.sim.example:"
DATA, BACKUP = SIM + "data", SIM + "backup"
FREE_LUNS = ["36001405d0e1f2a3b4c5d6e7f80910003", "36001405d0e1f2a3b4c5d6e7f80910004"]


@pytest.fixture
async def client(daemon, system_bus):
    async with StorageClient.connect(address=system_bus) as connected:
        yield connected


async def test_reads_return_models_matching_the_tree(client, storage):
    tree = await storage.objects()
    host = await client.host()
    assert host.version == tree[HOST][IFACE + "Host"]["Version"]
    assert host.multipath is True and len(host.luns) == 7
    luns = await client.enumerate_luns()
    assert {lun.wwid for lun in luns} == set(host.luns)
    assert all(isinstance(lun.state, models.Lun) for lun in luns)
    map_ = await client.lun("naa.6001405d0e1f2a3b4c5d6e7f80910001")   # another spelling
    assert map_.model == "sim-lun1" and map_.device == "/dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001"
    assert map_.status == "pv" and map_.paths == (("sda", "active"), ("sdb", "active"))
    [vg] = await client.enumerate_volume_groups()
    props = tree[vg.object_path][IFACE + "VolumeGroup"]
    assert (vg.name, vg.size, vg.free_size) == ("vmstore", props["Size"], props["FreeSize"])
    assert vg == await client.volume_group(vg.uuid) == await client.volume_group(vg.object_path)
    pvs = await vg.list_physical_volumes()
    assert sorted(pv.object_path for pv in pvs) == sorted(props["PhysicalVolumes"])
    assert {pv.volume_group for pv in pvs} == {vg.uuid}
    assert map_.physical_volume in {pv.uuid for pv in pvs}
    lvs = {lv.name: lv for lv in await vg.list_logical_volumes()}
    assert set(lvs) == {"vm-101-disk-0", "vm-102-disk-0", "templates", "vm-102-snap"}
    assert lvs["vm-102-snap"].origin == lvs["vm-102-disk-0"].uuid
    assert lvs["templates"].active is False and lvs["vm-101-disk-0"].is_open
    templates = await client.logical_volume("vmstore/templates")
    assert templates == lvs["templates"] == await client.logical_volume(templates.uuid)
    assert templates == await client.logical_volume("/dev/vmstore/templates")
    info = await client.get_block_info("vmstore/templates")
    assert (info.uuid, info.size, info.type) == (templates.uuid, 8 * GiB, "lvm")
    assert len(await client.physical_volumes()) == 2
    assert len(await client.logical_volumes()) == 4
    [mount] = await client.mounts()
    assert (mount.local_path, mount.server) == ("/mnt/iso", "nfs.example.com")
    assert {s.portal for s in await client.iscsi_sessions()} == {"192.0.2.10:3260",
                                                                 "192.0.2.11:3260"}
    assert await client.jobs() == []
    assert len(await client.objects()) == sum(1 for p in tree if p != HOST
                                              and p != "/org/solidice/Storage")


async def test_lvm_life_cycle(client, storage):
    vg = await client.create_volume_group("vg0", FREE_LUNS[:1], extent_size=8 * MiB)
    assert (vg.name, vg.extent_size, vg.managed) == ("vg0", 8 * MiB, True)
    assert await storage.vg("vg0") == vg.object_path
    await vg.extend(FREE_LUNS[1:])
    assert len(await vg.list_physical_volumes()) == 2
    lv = await vg.create_logical_volume("disk0", 10 * GiB, activate=False)
    assert (lv.size, lv.active, lv.volume_group) == (10 * GiB, False, vg.uuid)
    await lv.activate()
    assert lv.active and (await storage.props(lv.object_path, "LogicalVolume"))["Active"]
    await lv.deactivate()
    assert not lv.active
    await lv.extend(by=GiB, expected_size=10 * GiB)
    assert lv.size == 11 * GiB
    with pytest.raises(sc.InvalidArgumentError, match="not the expected"):
        await lv.extend(by=GiB, expected_size=10 * GiB)      # the retry is refused
    with pytest.raises(TypeError):
        await lv.extend(GiB)             # `by` only by name: it adds, it is not a size
    snap = await lv.snapshot("disk0-snap", GiB)
    assert snap.origin == lv.uuid and snap.size == GiB
    await snap.remove()
    await lv.remove()
    with pytest.raises(sc.NotFoundError, match="disk0|" + lv.uuid):
        await lv.refresh()
    empty = (await vg.refresh()).physical_volumes[1]
    lun = (await client.physical_volume(empty)).lun
    job = await vg.remove_physical_volume(empty, move_data=True)    # nothing to move
    assert isinstance(job, sc.Job) and job.done and job.progress == 1.0
    assert [fraction async for fraction in job.follow()] == [1.0]
    await job.wait()
    assert len((await vg.refresh()).physical_volumes) == 1
    await vg.extend([lun])
    pv = await client.physical_volume(lun)
    assert await vg.remove_physical_volume(pv.uuid) is None
    assert len((await vg.refresh()).physical_volumes) == 1
    await vg.remove()
    with pytest.raises(sc.NotFoundError, match="no volume group vg0"):
        await client.volume_group("vg0")
    vg = await client.create_volume_group("vg1", FREE_LUNS)
    await client.remove_volume_group("vg1")
    assert "vg1" not in {v.name for v in await client.volume_groups()}


async def test_resize_renames_and_tags(client, storage):
    lv = await client.logical_volume("vmstore/templates")
    await lv.resize(to=10 * GiB - 1)
    assert lv.size == 10 * GiB
    with pytest.raises(sc.InvalidArgumentError, match="shrink=true"):
        await lv.resize(to=GiB)
    with pytest.raises(sc.InvalidArgumentError, match="not the expected"):
        await lv.resize(to=GiB, shrink=True, expected_size=GiB)
    await lv.resize(to=GiB, shrink=True, expected_size=10 * GiB)
    assert lv.size == GiB == (await storage.props(lv.object_path, "LogicalVolume"))["Size"]
    with pytest.raises(sc.InvalidArgumentError, match="shrink must be True or False"):
        await lv.resize(to=GiB, shrink=1)
    with pytest.raises(TypeError):
        await lv.resize(GiB)             # `to` only by name: a size, unlike extend's `by`

    await lv.rename("tmpl")
    assert (lv.name, lv.path) == ("tmpl", "/dev/vmstore/tmpl")
    with pytest.raises(sc.AlreadyExistsError):
        await lv.rename("vm-101-disk-0")
    vg = await client.volume_group("vmstore")
    await vg.rename("vmdata")
    assert vg.name == "vmdata" and lv.path == "/dev/vmdata/tmpl"     # the handles follow
    assert (await client.logical_volume("vmdata/tmpl")).object_path == lv.object_path

    await vg.add_tags(["site=paris", "tier:gold"])
    await lv.add_tags(["a", "b"])
    await lv.remove_tags(["a", "absent"])
    pv = (await vg.list_physical_volumes())[0]
    await pv.add_tags(["fast#1"])
    assert (vg.tags, lv.tags, pv.tags) == (("site=paris", "tier:gold"), ("b",), ("fast#1",))
    with pytest.raises(sc.InvalidArgumentError, match="service's own"):
        await vg.add_tags(["org.solidice.storage"])
    with pytest.raises(sc.InvalidArgumentError, match="tags must be a list of str"):
        await vg.remove_tags("site=paris")


async def test_move_data_returns_a_job_whose_progress_is_followed(client, storage):
    vg = await client.create_volume_group("vg0", FREE_LUNS)
    await vg.create_logical_volume("big", 40 * GiB)    # fills the first PV's share
    first = vg.physical_volumes[0]
    job = await vg.remove_physical_volume(first, move_data=True)
    assert isinstance(job, sc.Job) and not job.done
    [listed] = await client.jobs()
    assert listed.object_path == job.object_path and listed.operation == "pv-move"
    seen = [fraction async for fraction in job.follow()]
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 5
    assert first not in (await vg.refresh()).physical_volumes
    await job.wait()                 # completed already: its outcome was recorded
    await vg.remove()


async def test_cancelled_job_fails_its_followers_and_leaves_the_data(client):
    vg = await client.create_volume_group("vg0", FREE_LUNS)
    await vg.create_logical_volume("big", 40 * GiB)
    job = await vg.remove_physical_volume(vg.physical_volumes[0], move_data=True)
    await job.cancel()
    with pytest.raises(sc.JobFailedError):
        await job.wait()
    assert len((await vg.refresh()).physical_volumes) == 2
    with pytest.raises(sc.NotFoundError, match="no running job 999"):
        await client.job(999)
    await vg.remove()


def forged_completed(path: str, destination: str | None, success: bool, text: str):
    return Message(message_type=MessageType.SIGNAL, path=path, destination=destination,
                   interface=IFACE + "Job", member="Completed", signature="bs",
                   body=[success, text])


async def test_a_job_completes_only_by_the_services_own_signal(client, bus):
    """Completed from another connection, unicast to the client or broadcast,
    succeeding or failing, is not the job's end; the service's is."""
    vg = await client.create_volume_group("vg0", FREE_LUNS)
    await vg.create_logical_volume("big", 40 * GiB)
    first = vg.physical_volumes[0]
    seen: list = []
    watching = asyncio.Event()

    async def watch():
        async for event in client.watch(watching):
            seen.append(event)

    watcher = asyncio.create_task(watch())
    await watching.wait()
    job = await vg.remove_physical_volume(first, move_data=True)
    waiting = asyncio.ensure_future(job.wait())
    try:
        await asyncio.sleep(0.3)
        for destination in (client.transport.unique_name, None):
            for success, text in ((True, ""), (False, "forged")):
                await bus.send(forged_completed(job.object_path, destination, success, text))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        [running] = await client.jobs()
        assert running.object_path == job.object_path and running.progress < 1
        await asyncio.wait_for(waiting, 10)
    finally:
        waiting.cancel()
        watcher.cancel()
    assert first not in (await vg.refresh()).physical_volumes
    assert [(e.path, e.success) for e in seen if isinstance(e, sc.JobCompleted)] == [
        (job.object_path, True)]
    await vg.remove()


async def test_a_job_after_a_restart_is_not_taken_for_an_earlier_one(start_daemon,
                                                                    system_bus):
    first = start_daemon()
    async with StorageClient.connect(address=system_bus) as client:
        async def moving():
            vg = await client.create_volume_group("vg0", FREE_LUNS)
            await vg.create_logical_volume("big", 40 * GiB)
            return await vg.remove_physical_volume(vg.physical_volumes[0], move_data=True)
        earlier = await moving()
        await earlier.wait()
        assert await asyncio.to_thread(first.stop) == 0
        await asyncio.to_thread(start_daemon)
        job = await moving()
        await job.cancel()
        with pytest.raises(sc.JobFailedError, match="cancelled"):
            await asyncio.wait_for(job.wait(), 10)
        assert job.object_path != earlier.object_path     # paths don't come again


async def test_watch_ends_when_the_service_restarts(start_daemon, system_bus):
    first = start_daemon()
    async with StorageClient.connect(address=system_bus) as client:
        watching = asyncio.Event()

        async def watch():
            async for _ in client.watch(watching):
                pass

        watcher = asyncio.create_task(watch())
        await watching.wait()
        assert await asyncio.to_thread(first.stop) == 0
        with pytest.raises(sc.ServiceUnavailableError, match="watch again"):
            await asyncio.wait_for(watcher, 10)


async def test_iscsi(client):
    found = await client.discover_iscsi_targets("192.0.2.10")
    assert sc.DiscoveredTarget(target=BACKUP, portal="192.0.2.11:3260") in found
    session = await client.login_iscsi("192.0.2.10", BACKUP, username="backup",
                                       password="backup-secret", node_startup="manual")
    assert (session.target, session.portal) == (BACKUP, "192.0.2.10:3260")
    assert len(session.luns) == 2
    luns = await client.enumerate_iscsi_luns("192.0.2.10", BACKUP, login=False)
    assert {lun.wwid for lun in luns} == set(session.luns)
    assert await client.iscsi_session(BACKUP) == session
    await session.logout()
    with pytest.raises(sc.NotFoundError):
        await client.iscsi_session(BACKUP)
    with pytest.raises(sc.NotFoundError, match="log in first"):
        await client.enumerate_iscsi_luns("192.0.2.10", BACKUP, login=False)
    luns = await client.enumerate_iscsi_luns("192.0.2.11", BACKUP, username="backup",
                                             password="backup-secret")
    assert len(luns) == 2
    await client.logout_iscsi("192.0.2.11", BACKUP)
    before = len(await client.luns())
    await client.rescan()            # the array mapped a fifth LUN on `data`
    assert len(await client.luns()) == before + 1


async def test_nfs(client, storage):
    mount = await client.mount_nfs("nfs.example.com", "/export/vms", "/srv/nfs/vms",
                                   vers="4.2", ro=True, port=2049, persistent=True,
                                   create_mountpoint=True)
    assert "vers=4.2" in mount.options and "ro" in mount.options.split(",")
    assert mount.persistent and await storage.find("Mount", LocalPath="/srv/nfs/vms")
    assert await client.mount("/srv/nfs/vms") == mount
    await mount.unmount()
    with pytest.raises(sc.NotFoundError):
        await client.mount("/srv/nfs/vms")
    with pytest.raises(sc.BusyError, match="in use"):
        await client.unmount("/mnt/iso")
    await client.unmount("/mnt/iso", force=True)
    assert await client.mounts() == []


async def test_each_service_error_is_its_own_exception(client):
    vg = await client.volume_group("vmstore")
    lvs = {lv.name: lv for lv in await vg.list_logical_volumes()}
    cases = [
        (sc.InvalidArgumentError, "not valid", lambda: vg.create_logical_volume("bad name", GiB)),
        (sc.NotFoundError, "nosuch", lambda: client.remove_volume_group("nosuch")),
        (sc.AlreadyExistsError, "exists", lambda: vg.create_logical_volume("templates", GiB)),
        (sc.BusyError, "is open", lambda: lvs["vm-101-disk-0"].remove(force=True)),
        (sc.NoSpaceError, "bytes free", lambda: vg.create_logical_volume("huge", 1024 * GiB)),
        (sc.TimedOutError, "did not answer",
         lambda: client.discover_iscsi_targets("unreachable.invalid", timeout=1)),
        (sc.NotSupportedError, "snapshot", lambda: lvs["vm-102-snap"].snapshot("s2", GiB)),
        (sc.FailedError, "CHAP", lambda: client.login_iscsi("192.0.2.10", BACKUP)),
    ]
    for cls, words, call in cases:
        with pytest.raises(cls, match=words) as raised:
            await call()
        assert raised.value.dbus_name == "org.solidice.Storage.Error." + \
            cls.__name__.removesuffix("Error").replace("TimedOut", "Timeout")
        assert isinstance(raised.value, sc.StorageClientError)
    assert not issubclass(sc.TimedOutError, TimeoutError)
    assert type(from_dbus("org.solidice.Storage.Error.Cancelled", "stopped")) \
        is sc.OperationCancelledError
    with pytest.raises(TypeError, match="unexpected keyword argument 'wipe'"):
        await vg.create_logical_volume("x", GiB, **{"wipe": True})
    with pytest.raises(sc.InvalidArgumentError, match="True or False"):
        await client.create_volume_group("vgx", FREE_LUNS, wipe="yes")


async def test_no_reply_within_the_call_timeout(client):
    with pytest.raises(sc.NoReplyError, match="within 0.2 s"):
        await client.discover_iscsi_targets("unreachable.invalid", timeout=1,
                                            call_timeout=0.2)
    assert (await client.host()).version      # the connection is still usable
    # The same call, waited for: the service has answered the first one too when it
    # answers this one (a second later, as the first), before it is stopped.
    with pytest.raises(sc.TimedOutError):
        await client.discover_iscsi_targets("unreachable.invalid", timeout=1)


async def test_service_not_running_and_bus_unreachable(system_bus, tmp_path):
    async with StorageClient.connect(address=system_bus) as connected:
        with pytest.raises(sc.ServiceUnavailableError, match="not running"):
            await connected.host()
    with pytest.raises(sc.ServiceUnavailableError, match="cannot reach"):
        await StorageClient.connect(address=f"unix:path={tmp_path}/none")


NOBODY_SCRIPT = """
import sys
from solidice_storage.client import SyncStorageClient, NotAuthorizedError
with SyncStorageClient(address=sys.argv[1]) as storage:
    vg = storage.volume_group("vmstore")
    try:
        vg.create_logical_volume("fromnobody", 2**30, no_user_interaction=sys.argv[2] == "1")
    except NotAuthorizedError as error:
        print(type(error).__name__, error.dbus_name, error.message)
"""


async def test_not_authorized_and_can_obtain(daemon, system_bus, polkit):
    def as_nobody(no_interaction: str) -> str:
        result = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
             sys.executable, "-c", NOBODY_SCRIPT, system_bus, no_interaction],
            capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout
    denied = await asyncio.to_thread(as_nobody, "1")
    assert denied.startswith("NotAuthorizedError org.solidice.Storage.Error.NotAuthorized ")
    await polkit.challenge("org.solidice.storage.manage-lvm")
    challenged = await asyncio.to_thread(as_nobody, "0")
    assert challenged.startswith("NotAuthorizedCanObtainError ")
    [_, (_, _, _, flags, _)] = await polkit.checks()
    assert flags == 1                  # no_user_interaction=False lets polkit ask


async def test_watch_yields_typed_events(client):
    seen: list = []
    watching = asyncio.Event()

    async def watch():
        async for event in client.watch(watching):
            seen.append(event)
            if isinstance(event, sc.ObjectRemoved) and event.kind == "VolumeGroup":
                return

    task = asyncio.create_task(watch())
    await asyncio.wait_for(watching.wait(), 10)
    vg = await client.create_volume_group("vg0", FREE_LUNS)
    lv = await vg.create_logical_volume("disk0", GiB)
    await lv.extend(by=GiB)
    snap = await lv.snapshot("disk0-snap", GiB)
    await snap.remove()
    await vg.remove()
    await asyncio.wait_for(task, 5)
    added = [e for e in seen if isinstance(e, sc.ObjectAdded)]
    assert {e.kind for e in added} >= {"VolumeGroup", "PhysicalVolume", "LogicalVolume",
                                       "Job"}
    assert any(e.object.object_path == lv.object_path and e.object.name == "disk0" for e in added)
    grown = [e for e in seen if isinstance(e, sc.ObjectChanged) and e.path == lv.object_path
             and "size" in e.changed]
    assert grown[0].previous.size == GiB and grown[0].object.size == 2 * GiB
    [done] = [e for e in seen if isinstance(e, sc.JobCompleted)]
    assert done.success and done.message == ""
    assert any(isinstance(e, sc.HostChanged) and vg.uuid in e.changed["volume_groups"]
               for e in seen)
    removed = [e for e in seen if isinstance(e, sc.ObjectRemoved)]
    assert {e.key for e in removed} >= {lv.uuid, snap.uuid, vg.uuid}
    assert [e.object.name for e in removed if e.key == snap.uuid] == ["disk0-snap"]


def test_sync_facade(daemon, system_bus):
    with SyncStorageClient(address=system_bus) as storage:
        vg = storage.create_volume_group("vg0", FREE_LUNS)
        assert isinstance(vg, sc.SyncObject) and vg.name == "vg0"
        free = vg.free_size
        lv = vg.create_logical_volume("disk0", 40 * GiB)
        assert vg.free_size == free - 40 * GiB          # the handle is current
        lv.extend(by=GiB)
        assert lv.size == 41 * GiB
        assert [v.name for v in vg.list_logical_volumes()] == ["disk0"]
        job = vg.remove_physical_volume(vg.physical_volumes[0], move_data=True)
        progress = list(job.follow())
        assert progress[-1] == 1.0
        with pytest.raises(sc.NotFoundError):
            storage.volume_group("nosuch")
        vg.remove()
        assert [v.name for v in storage.volume_groups()] == ["vmstore"]

# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/sim/nfs.py: NFS mounts on the simulated host and their mount points."""

import asyncio

import pytest

from solidice_storage.errors import AlreadyExists, Busy, NotFound, Timeout
from solidice_storage.models import Job, Mount
from solidice_storage.options import Options

from .helpers import assert_consistent, mount_options, seed


# ---- NFS ----

async def test_mount_nfs(engine):
    key = await engine.mount_nfs("nfs.example.com", "/export/vm", "/srv/nfs",
                                 mount_options(hard=True, persistent=True), uid=0)
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
                           mount_options(create_mountpoint=True), uid=0)
    assert {"/srv/nfs/a", "/srv/nfs/a/b"} <= engine.nfs.dirs
    assert_consistent(engine.store)


async def test_mount_nfs_missing_mountpoint(engine):
    with pytest.raises(NotFound, match="create-mountpoint"):
        await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs/a", mount_options(),
                               uid=0)
    assert "/srv/nfs/a" not in engine.nfs.dirs


async def test_mount_nfs_timeout_removes_the_mountpoint_it_made(engine, completed):
    dirs = set(engine.nfs.dirs)
    opts = mount_options(timeout=1, create_mountpoint=True)
    with pytest.raises(Timeout, match="did not answer"):
        await engine.mount_nfs(seed.UNREACHABLE, "/export", "/srv/nfs/new/deep",
                               opts, uid=0)
    assert engine.nfs.dirs == dirs
    assert engine.store.get(Mount, "/srv/nfs/new/deep") is None
    assert not engine.store.all(Job)
    assert [success for _, success, _ in completed] == [False]
    assert_consistent(engine.store)


async def test_mount_nfs_timeout_keeps_an_existing_mountpoint(engine):
    # the engine takes any number of seconds; the bus layer's minimum of 1 is
    # validation's business, and this test need not wait for it
    with pytest.raises(Timeout, match="did not answer"):
        await engine.mount_nfs(seed.UNREACHABLE, "/export", "/srv/nfs",
                               mount_options(timeout=0.01), uid=0)
    assert "/srv/nfs" in engine.nfs.dirs


async def test_mount_nfs_already_mounted(engine):
    with pytest.raises(AlreadyExists, match="/mnt/iso"):
        await engine.mount_nfs("nfs.example.com", "/export/iso", "/mnt/iso",
                               mount_options(),
                               uid=0)
    assert_consistent(engine.store)


async def test_mount_nfs_twice(engine):
    await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs", mount_options(), uid=0)
    with pytest.raises(AlreadyExists, match="/srv/nfs"):
        await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs", mount_options(),
                               uid=0)
    assert_consistent(engine.store)


async def test_mount_nfs_over_another_mount(engine):
    with pytest.raises(Busy, match="mounted on /mnt/iso"):
        await engine.mount_nfs("other.example.com", "/export", "/mnt/iso", mount_options(),
                               uid=0)
    assert engine.store.get(Mount, "/mnt/iso").server == "nfs.example.com"


async def test_mount_nfs_on_a_directory_with_files(engine):
    with pytest.raises(Busy, match="not empty"):
        await engine.mount_nfs("nfs.example.com", "/export", "/mnt", mount_options(), uid=0)


async def test_concurrent_mounts_on_one_path(engine):
    # both calls cannot have succeeded: only one mount is on /srv/nfs afterwards
    results = await asyncio.gather(
        engine.mount_nfs("a.example.com", "/export", "/srv/nfs", mount_options(), uid=0),
        engine.mount_nfs("b.example.com", "/export", "/srv/nfs", mount_options(), uid=0),
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
    await engine.mount_nfs("nfs.example.com", "/export", "/srv/nfs", mount_options(), uid=0)
    await engine.unmount("/srv/nfs", False, Options())
    assert engine.store.get(Mount, "/srv/nfs") is None
    assert_consistent(engine.store)


async def test_unmount_nothing(engine):
    with pytest.raises(NotFound, match="no NFS mount"):
        await engine.unmount("/srv/nfs", False, Options())

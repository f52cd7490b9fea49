# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/nfs/mounts.py: mounts made on mount points looked at by child
processes, failures that leave nothing behind, the table's NFS mounts published. The real mounts are tested in the lab (tests/lab/test_nfs.py)."""

import asyncio
import os

import pytest

from solidice_storage.config import Config
from solidice_storage.engine.host.nfs.config import Wanted
from solidice_storage.engine.host.nfs.mounts import NfsMounts
from solidice_storage.engine.host.runner import TOOLS, Runner
from solidice_storage.engine.store import StateStore
from solidice_storage.engine.jobs import Jobs
from solidice_storage.errors import Busy, Cancelled, InvalidArgument, NotFound, Timeout
from solidice_storage.models import Mount
from solidice_storage.options import MountNfsOptions

from .test_mountinfo import ODD_MOUNTINFO


# ---- mount points, with the real find/mkdir/rmdir and a stand-in mount ----

def _engine(tmp_path, mount_script: str, **more) -> NfsMounts:
    fake = tmp_path / "mount"
    fake.write_text("#!/bin/sh\n" + mount_script)
    fake.chmod(0o755)
    helper = tmp_path / "mount.nfs"
    helper.write_text("#!/bin/sh\nexit 1\n")
    helper.chmod(0o755)
    runner = Runner({**TOOLS, "mount": str(fake)})
    store = StateStore()
    return NfsMounts(runner, store, Jobs(store), tmp_path / "state",
                     config=Config(mount_roots=(str(tmp_path),)), mount_helper=str(helper),
                     **more)


def _opts(**values) -> MountNfsOptions:
    """Options as a caller gives them, by their D-Bus keys."""
    return MountNfsOptions(**{key.replace("-", "_"): value for key, value in values.items()})


async def test_a_mount_point_must_be_an_empty_plain_directory(tmp_path):
    engine = _engine(tmp_path, "exit 0\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("x")
    (tmp_path / "theirs").mkdir()
    os.chown(tmp_path / "theirs", 1000, 1000)          # a user could swap a link in
    (tmp_path / "open").mkdir(mode=0o777)
    os.chmod(tmp_path / "open", 0o777)
    create = {"create-mountpoint": True}
    cases = [(tmp_path / "full", {}, Busy, "not empty"),
             (tmp_path / "link", {}, InvalidArgument, "symbolic link"),
             (tmp_path / "link" / "below", create, InvalidArgument, "symbolic link"),
             (tmp_path / "file", {}, InvalidArgument, "not a directory"),
             (tmp_path / "missing", {}, NotFound, "create-mountpoint"),
             (tmp_path / "theirs" / "mnt", create, InvalidArgument, "other than root"),
             (tmp_path / "open" / "mnt", create, InvalidArgument, "other than root")]
    for path, options, error, words in cases:
        with pytest.raises(error, match=words):
            await engine.mount("10.0.0.1", "/x", str(path), _opts(**options), 0)
    assert not (tmp_path / "missing").exists() and not (tmp_path / "real" / "below").exists()
    assert not (tmp_path / "theirs" / "mnt").exists() and not (tmp_path / "open" / "mnt").exists()
    assert engine.runner.history and not any(
        argv[0].endswith("/mount") for argv in engine.runner.history)


async def test_a_refused_mount_leaves_no_directory_it_created(tmp_path):
    engine = _engine(tmp_path, "echo 'mount.nfs: access denied by server while "
                               "mounting 10.0.0.1:/x' >&2\nexit 32\n")
    target = tmp_path / "a" / "b" / "c"
    with pytest.raises(NotFound, match="does not export"):
        await engine.mount("10.0.0.1", "/x", str(target),
                           _opts(**{"create-mountpoint": True, "persistent": True}), 0)
    assert not (tmp_path / "a").exists()
    assert engine.wanted == {} and await asyncio.to_thread(engine.config.load) == {}  # not kept either
    mount = next(argv for argv in engine.runner.history if argv[0].endswith("/mount"))
    assert mount[1:5] == ("-t", "nfs", "-o", "nosuid,nodev,rw,soft,timeo=100,retrans=3,"
                                             "retry=1")
    assert mount[5:] == ("--", "10.0.0.1:/x", str(target))


async def test_a_server_that_does_not_answer_is_a_timeout_and_the_loop_keeps_going(tmp_path):
    engine = _engine(tmp_path, "sleep 60\n")
    target = tmp_path / "new"
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1
    ticker = asyncio.ensure_future(tick())
    started = asyncio.get_running_loop().time()
    with pytest.raises(Timeout, match="did not answer within 2 s"):
        await engine.mount("10.0.0.1", "/x", str(target),
                           _opts(timeout=2, **{"create-mountpoint": True}), 0)
    elapsed = asyncio.get_running_loop().time() - started
    ticker.cancel()
    assert elapsed < 10 and ticks > 10
    assert not target.exists()
    assert engine.store.all(Mount) == {}


async def test_unmounting_nothing_is_not_found(tmp_path):
    engine = _engine(tmp_path, "exit 0\n")
    with pytest.raises(NotFound, match="no NFS mount"):
        await engine.unmount(str(tmp_path / "x"), force=True)


async def test_records_saved_at_once_are_all_kept(tmp_path):
    engine = _engine(tmp_path, "exit 0\n")
    wanted = [Wanted("10.0.0.1", "/x", f"{tmp_path}/m{n}", MountNfsOptions(persistent=True))
              for n in range(8)]
    for _ in range(5):
        await asyncio.gather(*(engine.record(w.local_path, w) for w in wanted))
        await asyncio.gather(*(engine.record(w.local_path, None) for w in wanted[::2]))
        loaded = await asyncio.to_thread(engine.config.load)
        assert sorted(loaded) == sorted(w.local_path for w in wanted[1::2])
        assert loaded == engine.wanted
    assert not list(engine.config.path.parent.glob("*.tmp"))


async def test_a_forced_unmount_stops_a_mount_hanging_on_a_dead_server(tmp_path):
    engine = _engine(tmp_path, "sleep 60\n")
    target = tmp_path / "hanging"
    mounting = asyncio.ensure_future(engine.mount(
        "10.0.0.1", "/x", str(target), _opts(**{"create-mountpoint": True,
                                                "persistent": True}), 0))
    while not any(argv[0].endswith("/mount") for argv in engine.runner.history):
        await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await engine.unmount(str(target), force=True)
    assert asyncio.get_running_loop().time() - started < 10
    with pytest.raises(Cancelled, match="forced unmount"):
        await mounting
    assert not target.exists() and engine.wanted == {} and await asyncio.to_thread(engine.config.load) == {}


# ---- mount points whose names are not UTF-8 (any user can make one) ----

# a user's FUSE mount at /mnt/lab/user-<0xff>, written raw by the kernel (it escapes
# only space, tab, newline and backslash), and one with the byte escaped as \377
async def test_refresh_with_a_non_utf8_mount_publishes_the_rest(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_bytes(ODD_MOUNTINFO)
    engine = _engine(tmp_path, "exit 0\n", mountinfo=str(table))
    await engine.refresh()
    assert sorted(engine.store.all(Mount)) == ["/mnt/lab/café", "/mnt/lab/nfs-ok"]

"""engine/host/nfs (mounts.py, keeper.py, mountinfo.py): the mount table, mount points looked at by child processes, and failures that leave nothing
behind. The real mounts are tested in the lab (tests/lab/test_nfs.py)."""

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from solidice_storage.config import Config
from solidice_storage.engine.host.nfs import commands, keeper as keeping
from solidice_storage.engine.host.nfs.config import Wanted
from solidice_storage.engine.host.nfs.mountinfo import (MountinfoWatch, nfs_mounts,
                                                        parse_mountinfo, split_source)
from solidice_storage.engine.host.nfs.mounts import NfsMounts
from solidice_storage.engine.host.runner import TOOLS, Runner
from solidice_storage.engine.store import StateStore
from solidice_storage.engine.jobs import Jobs
from solidice_storage.errors import Busy, Cancelled, InvalidArgument, NotFound, Timeout
from solidice_storage.models import Mount
from solidice_storage.options import MountNfsOptions

DATA = Path(__file__).parent.parent / "data" / "lab"


def test_mountinfo_from_the_lab():
    """Captured in the lab guest with a v3 and a v4.2 mount made by the service."""
    entries = parse_mountinfo((DATA / "mountinfo-nfs.txt").read_text())
    mounts = nfs_mounts(entries)
    v3, v4 = mounts["/mnt/lab/nfs-v3"], mounts["/mnt/lab/nfs-v4"]
    assert (v3.fstype, v3.source) == ("nfs", "127.0.0.3:/srv/nfs/export")
    assert (v4.fstype, v4.source) == ("nfs4", "127.0.0.3:/export")
    for entry, extra in ((v3, {"rw", "vers=3", "timeo=50", "rsize=65536"}),
                         (v4, {"ro", "vers=4.2", "timeo=100"})):
        options = entry.options.split(",")
        assert {"nosuid", "nodev", "soft", "retrans=3", *extra} <= set(options)
        assert len(options) == len(set(options))        # rw once, not twice
        assert options[:4] == [*sorted(extra & {"rw", "ro"}), "nosuid", "nodev", "relatime"]
    assert all(e.fstype in ("nfs", "nfs4") for e in mounts.values())
    assert len(entries) > len(mounts)                   # the rest are not NFS


def test_mountinfo_escapes_and_hidden_mounts():
    text = ("30 1 0:50 / /mnt/my\\040share rw,nosuid,nodev - nfs [fd00::3]:/ex\\134port "
            "rw,vers=3,addr=fd00::3\n"
            "31 1 0:51 / /mnt/over rw - nfs4 10.0.0.1:/a rw,vers=4.2\n"
            "32 31 0:52 / /mnt/over rw - tmpfs none rw\n"
            "33 1 0:53 / /mnt/odd rw - nfs no-colon rw\n"
            "garbage\n")
    mounts = nfs_mounts(parse_mountinfo(text))
    assert list(mounts) == ["/mnt/my share"]           # /mnt/over is hidden by tmpfs
    entry = mounts["/mnt/my share"]
    assert split_source(entry.source) == ("[fd00::3]", "/ex\\port")
    assert entry.options == "rw,nosuid,nodev,vers=3,addr=fd00::3"


@pytest.mark.parametrize("source, expected", [
    ("server:/export", ("server", "/export")),
    ("10.1.2.3:/", ("10.1.2.3", "/")),
    ("[::1]:/x", ("[::1]", "/x")),
    ("server", None), (":/x", None), ("[::1]/x", None)])
def test_split_source(source, expected):
    assert split_source(source) == expected


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


# ---- the mount table's watch (a real tmpfs mount: the tests run as root) ----

async def test_the_watch_sees_a_mount_and_does_not_spin(tmp_path):
    assert os.geteuid() == 0, "this test mounts a tmpfs: run the unit tests as root"
    calls = []

    async def changed():
        calls.append(asyncio.get_running_loop().time())
    watch = MountinfoWatch(changed, delay=0.05)
    watch.start()
    try:
        await asyncio.sleep(0.3)
        assert calls == []                          # idle: nothing, no busy loop
        target = tmp_path / "mnt"
        target.mkdir()
        await asyncio.to_thread(subprocess.run, ["mount", "-t", "tmpfs", "solidice-test",
                                                 str(target)], check=True)
        try:
            for _ in range(100):
                if calls:
                    break
                await asyncio.sleep(0.05)
            assert len(calls) == 1
        finally:
            await asyncio.to_thread(subprocess.run, ["umount", str(target)], check=True)
        for _ in range(100):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert len(calls) == 2
    finally:
        watch.close()


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


# ---- the NFS option string from given defaults (shared.py, pure) ----

def test_mount_options_take_the_defaults_they_are_given():
    from solidice_storage.config import NfsDefaults
    from solidice_storage.engine.rules import nfs_mount_options
    defaults = NfsDefaults(timeo=600, retrans=6, retry=2, hard=True, mount_timeout=10)
    assert nfs_mount_options(_opts(), defaults) == \
        "nosuid,nodev,rw,hard,timeo=600,retrans=6,retry=2"
    assert nfs_mount_options(_opts(hard=False, retrans=1), defaults) == \
        "nosuid,nodev,rw,soft,timeo=600,retrans=1,retry=2"
    assert nfs_mount_options(_opts()) == "nosuid,nodev,rw,soft,timeo=100,retrans=3,retry=1"


# ---- mount points whose names are not UTF-8 (any user can make one) ----

# a user's FUSE mount at /mnt/lab/user-<0xff>, written raw by the kernel (it escapes
# only space, tab, newline and backslash), and one with the byte escaped as \377
ODD_MOUNTINFO = (
    b"22 1 0:21 / / rw - ext4 /dev/vda1 rw\n"
    b"40 22 0:40 / /mnt/lab/user-\xff-mount rw,nosuid,nodev - fuse.sshfs me@h:/x rw\n"
    b"41 22 0:41 / /mnt/lab/esc-\\377 rw - fuse me@h:/y rw\n"
    b"42 22 0:42 / /mnt/lab/nfs-\xff rw,nosuid,nodev - nfs 10.0.0.9:/odd-\xfe rw,vers=3\n"
    b"43 22 0:43 / /mnt/lab/nfs-ok rw,nosuid,nodev - nfs 10.0.0.1:/export rw,vers=3\n"
    b"44 22 0:44 / /mnt/lab/caf\xc3\xa9 rw,nosuid,nodev - nfs4 10.0.0.1:/e\\040x rw\n")


def test_a_table_with_non_utf8_paths_is_read_and_only_those_are_left_out(tmp_path):
    from solidice_storage.engine.host.nfs import mountinfo
    table = tmp_path / "mountinfo"
    table.write_bytes(ODD_MOUNTINFO)
    entries = mountinfo.read_mountinfo(str(table))
    assert len(entries) == 6                       # every line read, none fatal
    paths = [entry.local_path for entry in entries]
    assert os.fsencode(paths[1]) == b"/mnt/lab/user-\xff-mount"
    assert os.fsencode(paths[2]) == b"/mnt/lab/esc-\xff"   # the byte, not U+00FF
    mounts = nfs_mounts(entries)
    assert list(mounts) == ["/mnt/lab/nfs-ok", "/mnt/lab/café"]
    assert mounts["/mnt/lab/café"].source == "10.0.0.1:/e x"
    for entry in mounts.values():                  # what reaches D-Bus is UTF-8
        entry.local_path.encode()
        entry.source.encode()
        entry.options.encode()


async def test_refresh_with_a_non_utf8_mount_publishes_the_rest(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_bytes(ODD_MOUNTINFO)
    engine = _engine(tmp_path, "exit 0\n", mountinfo=str(table))
    await engine.refresh()
    assert sorted(engine.store.all(Mount)) == ["/mnt/lab/café", "/mnt/lab/nfs-ok"]


async def test_a_keeper_survives_a_failure_it_did_not_expect(tmp_path, monkeypatch):
    """Whatever one attempt raises, the keeper logs it and tries again later."""
    monkeypatch.setattr(keeping, "REMOUNT_DELAY", 0)
    monkeypatch.setattr(keeping, "RETRY_FIRST", 0.05)
    engine = _engine(tmp_path, "exit 0\n")
    attempts = []

    async def failing(helper):
        attempts.append(helper)
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    monkeypatch.setattr(commands, "check_helper", failing)
    wanted = Wanted("10.0.0.1", "/x", str(tmp_path / "kept"), MountNfsOptions(persistent=True))
    engine.wanted = {wanted.local_path: wanted}
    engine.keeper.serving = True
    engine.keeper.keep_all()
    keeper = engine.keeper.tasks[wanted.local_path]
    for _ in range(100):
        if len(attempts) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(attempts) >= 3 and not keeper.done()
    keeper.cancel()
    await asyncio.wait([keeper])


def test_the_root_filesystems_vgs_are_found_beside_a_non_utf8_mount(tmp_path):
    """blockdev.vgs_under (RemoveVolumeGroup's check) reads the same table."""
    from solidice_storage.engine.host.luns import blockdev
    table = tmp_path / "mountinfo"
    table.write_bytes(ODD_MOUNTINFO)
    assert blockdev.vgs_under("/", str(table), str(tmp_path / "sys")) == set()


def test_each_mount_names_its_device_numbers():
    from solidice_storage.engine.host.nfs.mountinfo import parse_mountinfo
    line = (b"36 25 8:17 / /srv/a\\040b rw,relatime shared:1 - ext4 /dev/sdb1 rw\n"
            b"40 25 0:52 / /mnt/\xff rw - tmpfs tmpfs rw\n")
    assert [entry.device for entry in parse_mountinfo(line)] == ["8:17", "0:52"]

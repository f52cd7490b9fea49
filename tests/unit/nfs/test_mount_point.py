# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where MountNfs may mount: only strictly below the allowed roots (config.py's
mount_roots), never in a home or system directory, and only through directories
that no user but root owns or can write; created directories are 0755 whatever
the daemon's umask. The syntax half is validation.local_path; the directories
half is the engine's, looked at by a child process (engine/host/nfs/mount_point.py)."""

import os
import stat
from pathlib import Path

import pytest
from pytest import param

from solidice_storage import validation
from solidice_storage.config import DEFAULT_MOUNT_ROOTS, Config, NfsDefaults, parse
from solidice_storage.engine.host.nfs.config import Wanted
from solidice_storage.engine.host.nfs.mount_point import MountPoints
from solidice_storage.engine.host.nfs.mounts import NfsMounts
from solidice_storage.engine.host.runner import TOOLS, Runner
from solidice_storage.engine.store import StateStore
from solidice_storage.engine.jobs import Jobs
from solidice_storage.errors import InvalidArgument, NotFound, Timeout
from solidice_storage.options import MountNfsOptions

USER = 4242


# ---- validation: the allow-list ----

@pytest.mark.parametrize("value", [
    param("/root/.ssh", id="root-ssh"),
    param("/root", id="root-home"),
    param("/var/spool/cron/crontabs", id="crontabs"),
    param("/home/u/x", id="below-home"),
    param("/home/u", id="home"),
    param("/opt/x", id="below-opt"),
    param("/etc/cron.d", id="below-etc"),
    param("/var/lib/images", id="below-var-lib"),
    param("/var/lib/solidice-storage/intents", id="own-state"),
    param("/mnt", id="a-root-itself"),
    param("/srv", id="another-root-itself"),
    param("/mntx/a", id="a-root-as-prefix-only"),
    param("/run/user/1000/x", id="runtime-dir"),
])
def test_mount_points_outside_the_allowed_roots_are_refused(value):
    with pytest.raises(InvalidArgument, match="allowed") as info:
        validation.local_path(value)
    assert "local path" in str(info.value)


def test_dot_dot_is_refused_not_followed():
    with pytest.raises(InvalidArgument, match="not normalized"):
        validation.local_path("/mnt/../root")


@pytest.mark.parametrize("value", [
    param("/mnt/x", id="below-mnt"),
    param("/srv/nfs/a", id="below-srv"),
    param("/media/usb", id="below-media"),
    param("/var/lib/solidice-storage/mnt/a", id="below-our-own"),
])
def test_mount_points_below_the_default_roots_are_accepted(value):
    assert validation.local_path(value) == value


def test_a_root_the_administrator_adds_is_accepted():
    settings = parse('[mounts]\nallowed-roots = ["/rhev/data-center/mnt"]\n')
    local = "/rhev/data-center/mnt/server:_export"
    assert validation.local_path(local, settings.mount_roots) == local
    with pytest.raises(InvalidArgument, match="allowed"):
        validation.local_path(local)                 # not with the defaults alone
    with pytest.raises(InvalidArgument, match="allowed"):
        validation.local_path("/rhev/data-center/other", settings.mount_roots)


def test_even_an_added_root_never_reaches_a_home_directory():
    roots = DEFAULT_MOUNT_ROOTS + ("/var",)        # config.py refuses /home and /root
    with pytest.raises(InvalidArgument, match="home"):
        validation.local_path("/var/home/u/.ssh", roots)
    assert validation.local_path("/var/images/a", roots) == "/var/images/a"


# ---- the engine: directories on the way, with the real find and mkdir ----

def _engine(tmp_path: Path, roots: tuple[str, ...]) -> NfsMounts:
    fake = tmp_path / "fake-mount"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    helper = tmp_path / "mount.nfs"
    helper.write_text("#!/bin/sh\nexit 1\n")
    helper.chmod(0o755)
    store = StateStore()
    return NfsMounts(Runner({**TOOLS, "mount": str(fake)}), store, Jobs(store),
                     tmp_path / "state", config=Config(mount_roots=roots),
                     mount_helper=str(helper))


def _points(roots: tuple[str, ...], **more) -> MountPoints:
    return MountPoints(Runner(dict(TOOLS)), roots, **more)


@pytest.fixture
def root(tmp_path):
    """An allowed root of the test's own: tmp_path/root, root's, 0755."""
    path = tmp_path / "root"
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)
    return path


def _users(path: Path, owner: int | None = None, mode: int | None = None) -> Path:
    path.mkdir(exist_ok=True)
    if owner is not None:
        os.chown(path, owner, owner)
    if mode is not None:
        os.chmod(path, mode)
    return path


@pytest.mark.parametrize("make, local, create", [
    param(lambda r: _users(r / "theirs", owner=USER), "theirs/mnt", True,
          id="below-a-users-directory"),
    param(lambda r: _users(r / "open", mode=0o777), "open/mnt", True,
          id="below-a-world-writable-directory"),
    param(lambda r: _users(r / "group", mode=0o775), "group/mnt", True,
          id="below-a-group-writable-directory"),
    param(lambda r: _users(r / "sticky", mode=0o1777), "sticky/mnt", True,
          id="below-a-sticky-directory"),
    param(lambda r: _users(_users(r / "a", owner=USER) / "b"), "a/b/mnt", True,
          id="two-levels-below-a-users-directory"),
    param(lambda r: _users(r / "mine", owner=USER), "mine", False,
          id="a-users-directory-itself"),
    param(lambda r: _users(r / "shared", mode=0o777), "shared", False,
          id="a-world-writable-mount-point"),
])
async def test_a_mount_point_reached_through_a_users_directory_is_refused(
        tmp_path, root, make, local, create):
    make(root)
    engine = _engine(tmp_path, (str(root),))
    target = root / local
    with pytest.raises(InvalidArgument, match="root") as info:
        await engine.mount("10.0.0.1", "/x", str(target),
                           MountNfsOptions(create_mountpoint=create), 0)
    assert "uid" in str(info.value)
    assert create is False or not target.exists()
    assert not any(argv[0].endswith("fake-mount") for argv in engine.runner.history)


async def test_a_mount_point_outside_the_engines_roots_is_refused(tmp_path, root):
    engine = _engine(tmp_path, (str(root),))
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(InvalidArgument, match="allowed"):
        await engine.mount("10.0.0.1", "/x", str(tmp_path / "elsewhere"),
                           MountNfsOptions(), 0)


async def test_a_root_owned_tree_below_a_root_is_accepted(tmp_path, root):
    """The root itself may be another's (vdsm's /rhev/data-center/mnt is vdsm's):
    the administrator chose it; only what lies below it is checked."""
    os.chown(root, USER, USER)
    _users(root / "a")
    points = _points((str(root),))
    await points.prepare(str(root / "a"), create=False)
    assert await points.prepare(str(root / "a" / "b"), create=True) == \
        [str(root / "a" / "b")]


async def test_create_mountpoint_makes_every_missing_directory_0755_whatever_the_umask(
        tmp_path, root):
    points = _points((str(root),))
    target = root / "a" / "b" / "c"
    old = os.umask(0o077)                          # the unit's UMask=
    try:
        created = await points.prepare(str(target), create=True)
    finally:
        os.umask(old)
    assert created == [str(root / "a"), str(root / "a" / "b"), str(target)]
    for directory in created:
        info = os.stat(directory)
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o755, 0), directory


async def test_our_own_root_is_made_when_needed(tmp_path):
    own = tmp_path / "state" / "mnt"
    own.parent.mkdir(mode=0o700)
    points = _points((str(own),), own_root=str(own))
    old = os.umask(0o077)
    try:
        created = await points.prepare(str(own / "x"), create=True)
    finally:
        os.umask(old)
    assert created == [str(own / "x")]             # the root stays when a mount fails
    for directory in (own, own / "x"):
        info = os.stat(directory)
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o755, 0), directory


async def test_a_missing_root_of_the_administrators_is_not_made(tmp_path):
    points = _points((str(tmp_path / "theirs"),))
    with pytest.raises(NotFound, match="does not exist"):
        await points.prepare(str(tmp_path / "theirs" / "x"), create=True)
    assert not (tmp_path / "theirs").exists()


def test_persistent_records_outside_the_roots_are_skipped(tmp_path):
    engine = _engine(tmp_path, ("/srv",))
    kept = MountNfsOptions(persistent=True)
    engine.config.save({"/srv/a": Wanted("10.0.0.1", "/x", "/srv/a", kept),
                        "/mnt/b": Wanted("10.0.0.1", "/x", "/mnt/b", kept)})
    assert list(engine.config.load()) == ["/srv/a"]


# ---- the NFS defaults an administrator sets (config.py's [nfs]) ----

def _defaults_engine(tmp_path, root, mount_script: str, defaults: NfsDefaults) -> NfsMounts:
    engine = _engine(tmp_path, (str(root),))
    (tmp_path / "fake-mount").write_text("#!/bin/sh\n" + mount_script)
    return NfsMounts(engine.runner, engine.store, engine.jobs, tmp_path / "state",
                     config=Config(mount_roots=(str(root),), nfs=defaults),
                     mount_helper=str(tmp_path / "mount.nfs"))


async def test_the_real_engine_mounts_with_the_configured_nfs_defaults(tmp_path, root):
    defaults = NfsDefaults(timeo=600, retrans=2, retry=0, hard=True, mount_timeout=90)
    engine = _defaults_engine(tmp_path, root, "echo 'mount.nfs: access denied by server "
                              "while mounting 10.0.0.1:/x' >&2\nexit 32\n", defaults)
    for options, expected in (
            ({}, "nosuid,nodev,rw,hard,timeo=600,retrans=2,retry=0"),
            ({"hard": False, "timeo": 50}, "nosuid,nodev,rw,soft,timeo=50,retrans=2,retry=0")):
        with pytest.raises(NotFound):
            await engine.mount("10.0.0.1", "/x", str(root / "m"),
                               MountNfsOptions(create_mountpoint=True, **options), 0)
        mount = [argv for argv in engine.runner.history if argv[0].endswith("fake-mount")][-1]
        assert mount[1:5] == ("-t", "nfs", "-o", expected)


async def test_the_configured_mount_timeout_bounds_a_mount(tmp_path, root):
    defaults = NfsDefaults(mount_timeout=2)
    engine = _defaults_engine(tmp_path, root, "sleep 60\n", defaults)
    with pytest.raises(Timeout, match="within 2 s"):
        await engine.mount("10.0.0.1", "/x", str(root / "m"),
                           MountNfsOptions(create_mountpoint=True), 0)

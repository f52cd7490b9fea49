# SPDX-License-Identifier: LGPL-2.1-or-later
"""Recovery of MountNfs calls a daemon that died left half-done (nfs/recovery.py),
on the state a real crash point leaves: the call runs in a child process with
SOLIDICE_CRASH_AT set, against a stand-in mount, and SIGKILLs itself there."""

import asyncio
import os
from pathlib import Path

import pytest

from crashing import crash_in_child
from solidice_storage.config import Config
from solidice_storage.engine.host.nfs.config import MountConfig, Wanted
from solidice_storage.engine.host.nfs.mounts import NfsMounts
from solidice_storage.engine.host.nfs.recovery import recover
from solidice_storage.engine.host.runner import TOOLS, Runner
from solidice_storage.engine.jobs import Jobs
from solidice_storage.engine.store import StateStore
from solidice_storage.options import MountNfsOptions


def mount_code(local: str, persistent: bool) -> str:
    return ("from solidice_storage.engine.host.nfs.mounts import NfsMounts\n"
            "from solidice_storage.engine.jobs import Jobs\n"
            "from solidice_storage.engine.store import StateStore\n"
            "from solidice_storage.config import Config\n"
            "store = StateStore()\n"
            "nfs = NfsMounts(Runner({**TOOLS, 'mount': str(tmp / 'mount')}), store, "
            "Jobs(store), tmp / 'state', Intents(tmp / 'state'), "
            "Config(mount_roots=(str(tmp),)), mountinfo=str(tmp / 'mountinfo'), "
            "mount_helper='/bin/true')\n"
            "nfs.wanted = nfs.config.load()\n"
            f"await nfs.mount('10.0.0.1', '/x', {local!r}, MountNfsOptions("
            f"create_mountpoint=True, persistent={persistent}), 0)")


def stand_in_mount(tmp_path: Path) -> None:
    """`mount` that adds its mount to the test's mount table, as the kernel would."""
    (tmp_path / "mount").write_text(
        "#!/bin/sh\n"
        f"echo \"36 25 0:32 / $7 rw - nfs $6 rw\" >> {tmp_path / 'mountinfo'}\n")
    (tmp_path / "mount").chmod(0o755)
    (tmp_path / "mountinfo").write_text("")


async def nfs_engine(tmp_path, mounted: str | None = None) -> NfsMounts:
    """The next start's NFS domain: the mount table with `mounted` on it, or none."""
    table = f"36 25 0:32 / {mounted} rw - nfs 10.0.0.1:/x rw\n" if mounted else ""
    (tmp_path / "mountinfo").write_text(table)
    store = StateStore()
    engine = NfsMounts(Runner(dict(TOOLS)), store, Jobs(store), tmp_path / "state",
                       config=Config(mount_roots=(str(tmp_path),)),   # mounts below it
                       mountinfo=str(tmp_path / "mountinfo"))
    engine.wanted = await asyncio.to_thread(engine.config.load)   # off the loop
    await engine.refresh()
    return engine


@pytest.mark.parametrize("point, persistent, mounted, kept", [
    ("nfs-mount:started", False, False, False),
    ("nfs-mount:mountpoint-ready", False, False, False),
    ("nfs-mount:mounted", False, True, True),
    ("nfs-mount:mounted", False, False, False),      # mounted, and gone before the start
    ("nfs-mount:before-end", False, True, True),
    ("nfs-mount:recorded", True, False, True),       # the keeper mounts it once serving
    ("nfs-mount:mountpoint-ready", True, False, True),
])
async def test_a_mount_killed_at_each_step_is_finished_or_leaves_no_directory(
        tmp_path, point, persistent, mounted, kept):
    stand_in_mount(tmp_path)
    (tmp_path / "base").mkdir()
    local = str(tmp_path / "base" / "a" / "b")
    crash_in_child(tmp_path, point, mount_code(local, persistent))
    engine = await nfs_engine(tmp_path, local if mounted else None)
    (intent,) = await engine.intents.pending()
    assert await engine.intents.settle(intent, recover(engine, intent))
    assert await engine.intents.pending() == []
    if kept:
        assert point == "nfs-mount:recorded" or Path(local).is_dir()
        assert (local in await asyncio.to_thread(engine.config.load)) == persistent
    else:
        assert not (tmp_path / "base" / "a").exists()     # ours, removed
        assert (tmp_path / "base").is_dir()                # not ours, left
        assert await asyncio.to_thread(engine.config.load) == {}


async def test_an_undone_mount_puts_back_the_record_it_replaced(tmp_path):
    stand_in_mount(tmp_path)
    local = str(tmp_path / "m")
    os.mkdir(local)
    before = Wanted("10.0.0.2", "/old", local, MountNfsOptions(persistent=True))
    records = MountConfig(tmp_path / "state", (str(tmp_path),))
    await asyncio.to_thread(records.save, {local: before})
    crash_in_child(tmp_path, "nfs-mount:mountpoint-ready", mount_code(local, False))
    assert await asyncio.to_thread(records.load) == {}  # the call ended the record
    engine = await nfs_engine(tmp_path)
    (intent,) = await engine.intents.pending()
    assert await engine.intents.settle(intent, recover(engine, intent))
    assert await asyncio.to_thread(engine.config.load) == {local: before}
    assert Path(local).is_dir()                            # was there before: left

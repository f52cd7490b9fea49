"""Recovery at start-up from a daemon that died mid-change (intents.py): each
engine's recovery, on the state a real crash point leaves. The change runs in a
child process with SOLIDICE_CRASH_AT set, against stand-in tools, and SIGKILLs
itself there; what it left (intent records, iscsiadm's database, directories) is
then recovered here, as the next start would. LVM's recoveries are in
tests/unit/lvm/test_recovery.py."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from solidice_storage.config import Config
from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.intents import Intents, by_owner
from solidice_storage.engine.iscsi import Iscsi, SysSession, node_records
from solidice_storage.engine.mountinfo import MountEntry
from solidice_storage.engine.nfs import MountConfig, NfsMounts, Wanted
from solidice_storage.engine.host.runner import TOOLS, Runner
from solidice_storage.engine.store import StateStore
from solidice_storage.engine.jobs import Jobs
from test_iscsi import CHAP_TARGET, FAKE_ISCSIADM, RECORD

PORTAL = "127.0.0.1:3260"
SECRET = "right-secret"


def crash_in_child(tmp_path: Path, point: str, code: str) -> None:
    """Run `code` (an async body, `tmp` is tmp_path) in a child that dies at `point`."""
    script = ("import asyncio, sys\nfrom pathlib import Path\n"
              "from solidice_storage.engine.intents import Intents\n"
              "from solidice_storage.engine.host.runner import Runner, TOOLS\n"
              "from solidice_storage.validation import Options\n"
              "tmp = Path(sys.argv[1])\n"
              "async def main():\n" + "".join(f"    {line}\n" for line in code.splitlines())
              + "asyncio.run(main())\n")
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                           env={**os.environ, "SOLIDICE_CRASH_AT": point},
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == -9, (point, child.returncode, child.stderr)


# ---- the owners of the records ----

async def test_each_engine_gets_its_records_and_an_unknown_kind_stays(tmp_path, caplog):
    intents = Intents(tmp_path)
    for kind in ("create-vg", "iscsi-login", "nfs-mount", "format-disk"):
        await intents.begin(kind)
    mine = by_owner(await intents.pending(), {"lvm": frozenset({"create-vg"}),
                                              "iscsi": frozenset({"iscsi-login"}),
                                              "nfs": frozenset({"nfs-mount"})})
    assert {owner: [i.kind for i in found] for owner, found in mine.items()} == {
        "lvm": ["create-vg"], "iscsi": ["iscsi-login"], "nfs": ["nfs-mount"]}
    assert "unknown kind 'format-disk' left in place" in caplog.text
    engine = HostEngine(Runner({}), sysfs=tmp_path / "sys", state_dir=tmp_path)
    engine.intents = intents
    await engine._recover_logins(mine["iscsi"])         # no iscsiadm: left in place
    assert len(await intents.pending()) == 4


async def test_a_failed_recovery_keeps_its_record(tmp_path):
    intents = Intents(tmp_path)
    intent = await intents.begin("iscsi-login")

    async def fails() -> str:
        raise OSError("disk gone")
    assert await intents.settle(intent, fails()) is False
    assert [i.id for i in await intents.pending()] == [intent.id]


# ---- iSCSI logins ----

@pytest.fixture
def iscsiadm(tmp_path):
    script = tmp_path / "iscsiadm"
    script.write_text(FAKE_ISCSIADM.replace("@DIR@", str(tmp_path)))
    script.chmod(0o755)
    (tmp_path / "record.txt").write_text(RECORD)
    (tmp_path / "tries").write_text("2\n")               # timeout 5: 2 tries of 2 s
    return Runner({"iscsiadm": str(script)})


LOGIN = (f"from solidice_storage.engine.iscsi import Iscsi\n"
         f"iscsi = Iscsi(Runner({{'iscsiadm': str(tmp / 'iscsiadm')}}), tmp / 'db', "
         f"Intents(tmp / 'state'))\n"
         f"await iscsi.login({PORTAL!r}, {CHAP_TARGET!r}, "
         f"Options(username='lab-initiator', password={SECRET!r}), timeout=5)")


@pytest.mark.parametrize("point, logged_in", [
    ("iscsi-login:started", False), ("iscsi-login:record-created", False),
    ("iscsi-login:settings-written", False), ("iscsi-login:logged-in", True),
    ("iscsi-login:before-end", True)])
async def test_a_login_killed_at_each_step_is_finished_or_leaves_no_record(
        tmp_path, iscsiadm, point, logged_in):
    crash_in_child(tmp_path, point, LOGIN)
    intents = Intents(tmp_path / "state")
    (intent,) = await intents.pending()
    assert SECRET not in intent.path.read_text() and "lab-initiator" not in \
        intent.path.read_text(), "a CHAP secret went into the intent record"
    sessions = [SysSession(1, CHAP_TARGET, PORTAL, "LOGGED_IN")] if logged_in else []
    iscsi = Iscsi(iscsiadm, tmp_path / "db", intents)
    assert await intents.settle(intent, iscsi.recover(intent, sessions))
    assert await intents.pending() == []
    records = node_records(CHAP_TARGET, PORTAL, tmp_path / "db")
    argv = (tmp_path / "argv.log").read_text()
    if logged_in:
        (record,) = records
        text = record.read_text().splitlines()
        assert f"node.session.auth.password = {SECRET}" in text      # the login's own
        assert "node.session.initial_login_retry_max = 8" in text      # bounds back
        assert "node.conn[0].timeo.login_timeout = 15" in text
        assert "-o delete" not in argv.split("--login", 1)[1]
    else:
        assert records == [] and "-o delete" in argv
        if point != "iscsi-login:started":                 # iscsid may still be at it
            assert argv.splitlines()[-2].endswith("--logout")
    assert SECRET not in argv


async def test_a_login_on_an_existing_record_that_died_gets_its_bounds_back(
        tmp_path, iscsiadm):
    flat = tmp_path / "db" / "nodes" / CHAP_TARGET / "127.0.0.1,3260"
    flat.parent.mkdir(parents=True)
    flat.write_text(RECORD)
    crash_in_child(tmp_path, "iscsi-login:settings-written", LOGIN)
    assert "node.session.initial_login_retry_max = 2" in flat.read_text()
    intents = Intents(tmp_path / "state")
    (intent,) = await intents.pending()
    assert await intents.settle(intent, Iscsi(iscsiadm, tmp_path / "db",
                                              intents).recover(intent, []))
    assert flat.exists()                                   # not ours to delete
    assert "node.session.initial_login_retry_max = 8" in flat.read_text()


# ---- NFS mounts ----

def mount_code(local: str, persistent: bool) -> str:
    return ("from solidice_storage.engine.nfs import NfsMounts\n"
            "from solidice_storage.engine.mountinfo import MountEntry\n"
            "from solidice_storage.engine.jobs import Jobs\n"
            "from solidice_storage.engine.store import StateStore\n"
            "from solidice_storage.config import Config\n"
            "store = StateStore()\n"
            "nfs = NfsMounts(Runner({**TOOLS, 'mount': str(tmp / 'mount')}), store, "
            "Jobs(store), tmp / 'state', Intents(tmp / 'state'), "
            "Config(mount_roots=(str(tmp),)))\n"
            "nfs.mount_helper = '/bin/true'\n"
            "nfs.wanted = nfs.config.load()\n"
            "async def refresh():\n"           # the stand-in mount made it, as mount would
            "    nfs._mounts = {" f"{local!r}" ": MountEntry("
            f"{local!r}, 'nfs', '10.0.0.1:/x', 'rw')}}\n"
            "nfs.refresh = refresh\n"
            f"await nfs.mount('10.0.0.1', '/x', {local!r}, Options({{"
            f"'create-mountpoint': True, 'persistent': {persistent}}}), 0)")


async def nfs_engine(tmp_path) -> NfsMounts:
    store = StateStore()
    engine = NfsMounts(Runner(dict(TOOLS)), store, Jobs(store), tmp_path / "state",
                       config=Config(mount_roots=(str(tmp_path),)))   # mounts below it
    engine.wanted = await asyncio.to_thread(engine.config.load)   # off the loop
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
    (tmp_path / "mount").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "mount").chmod(0o755)
    (tmp_path / "base").mkdir()
    local = str(tmp_path / "base" / "a" / "b")
    crash_in_child(tmp_path, point, mount_code(local, persistent))
    engine = await nfs_engine(tmp_path)
    if mounted:
        engine._mounts = {local: MountEntry(local, "nfs", "10.0.0.1:/x", "rw")}
    (intent,) = await engine.intents.pending()
    assert await engine.intents.settle(intent, engine.recover(intent))
    assert await engine.intents.pending() == []
    if kept:
        assert point == "nfs-mount:recorded" or Path(local).is_dir()
        assert (local in await asyncio.to_thread(engine.config.load)) == persistent
    else:
        assert not (tmp_path / "base" / "a").exists()     # ours, removed
        assert (tmp_path / "base").is_dir()                # not ours, left
        assert await asyncio.to_thread(engine.config.load) == {}


async def test_an_undone_mount_puts_back_the_record_it_replaced(tmp_path):
    (tmp_path / "mount").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "mount").chmod(0o755)
    local = str(tmp_path / "m")
    os.mkdir(local)
    before = Wanted("10.0.0.2", "/old", local, {"persistent": True})
    records = MountConfig(tmp_path / "state", (str(tmp_path),))
    await asyncio.to_thread(records.save, {local: before})
    crash_in_child(tmp_path, "nfs-mount:mountpoint-ready", mount_code(local, False))
    assert await asyncio.to_thread(records.load) == {}  # the call ended the record
    engine = await nfs_engine(tmp_path)
    (intent,) = await engine.intents.pending()
    assert await engine.intents.settle(intent, engine.recover(intent))
    assert await asyncio.to_thread(engine.config.load) == {local: before}
    assert Path(local).is_dir()                            # was there before: left

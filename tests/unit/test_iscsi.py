"""engine/iscsi.py: sessions from a sysfs tree, iscsiadm's record files (the real one
captured in the lab) and the login sequence against a stand-in iscsiadm that acts on
those files as the real one does."""

import stat
from pathlib import Path

import pytest

from solidice_storage.engine import iscsi
from solidice_storage.engine.iscsi import (Iscsi, SysSession, login_bounds, node_records,
                                           read_sessions, set_record)
from solidice_storage.engine.runner import Runner
from solidice_storage.errors import Failed, Timeout
from solidice_storage.validation import Options

RECORD = (Path(__file__).parent / "data/lab/iscsi-node-record.txt").read_text()
TARGET = "iqn.2026-11.org.solidice.lab:data"
CHAP_TARGET = "iqn.2026-11.org.solidice.lab:chap"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_sessions_from_sysfs(tmp_path):
    for sid, address, target, state in ((1, "127.0.0.1", TARGET, "LOGGED_IN"),
                                        (2, "fd00::2", TARGET, "FAILED"),
                                        (7, "127.0.0.2", CHAP_TARGET, "LOGGED_IN")):
        write(tmp_path / f"class/iscsi_session/session{sid}/targetname", target + "\n")
        write(tmp_path / f"class/iscsi_session/session{sid}/state", state + "\n")
        connection = tmp_path / f"class/iscsi_connection/connection{sid}:0"
        write(connection / "persistent_address", address + "\n")
        write(connection / "persistent_port", "3260\n")
    write(tmp_path / "class/iscsi_session/session9/targetname", TARGET)   # no connection
    assert read_sessions(tmp_path) == [
        SysSession(1, TARGET, "127.0.0.1:3260", "LOGGED_IN"),
        SysSession(2, TARGET, "[fd00::2]:3260", "FAILED"),
        SysSession(7, CHAP_TARGET, "127.0.0.2:3260", "LOGGED_IN")]
    assert read_sessions(tmp_path / "nothing") == []


def test_records_in_both_layouts(tmp_path):
    nodes = tmp_path / "nodes" / TARGET
    write(nodes / "127.0.0.1,3260,1/default", RECORD)
    write(nodes / "127.0.0.1,3260", RECORD)                 # what `-o new` writes
    write(nodes / "127.0.0.11,3260,1/default", RECORD)      # another address
    write(nodes / "127.0.0.1,3261,1/default", RECORD)       # another port
    assert node_records(TARGET, "127.0.0.1:3260", tmp_path) == [
        nodes / "127.0.0.1,3260", nodes / "127.0.0.1,3260,1/default"]
    assert node_records(CHAP_TARGET, "127.0.0.1:3260", tmp_path) == []


def test_set_record_replaces_in_place_and_adds_before_the_end(tmp_path):
    record = tmp_path / "default"
    record.write_text(RECORD + "node.startup = automatic\n")        # a duplicate key
    previous = set_record(record, {"node.startup": "automatic",
                                   "node.session.auth.authmethod": "CHAP",
                                   "node.session.auth.password": "s3cret = x"})
    assert previous == {"node.startup": "manual", "node.session.auth.authmethod": "None"}
    lines = record.read_text().splitlines()
    assert lines.count("node.startup = automatic") == 1
    assert "node.startup = manual" not in lines
    assert lines.index("node.session.auth.password = s3cret = x") < lines.index("# END RECORD")
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["default"]      # no temporary left


@pytest.mark.parametrize("timeout, per_try, tries", [(1, 1, 1), (5, 2, 2), (30, 15, 2),
                                                     (120, 15, 8), (3600, 15, 240)])
def test_login_bounds_stay_within_the_timeout(timeout, per_try, tries):
    bounds = login_bounds(timeout)
    assert bounds == {iscsi.LOGIN_TIMEOUT_KEY: str(per_try), iscsi.LOGIN_TRIES_KEY: str(tries)}
    assert per_try * tries <= max(timeout, 1)


FAKE_ISCSIADM = """\
#!/bin/bash
# Stands in for iscsiadm: logs its arguments, keeps records under DB as the real one.
dir=@DIR@
printf '%s\\n' "$*" >> "$dir/argv.log"
target=$4 portal=$6
flat="$dir/db/nodes/$target/${portal/:/,}"
case "$*" in
  *"-o new"*) mkdir -p "$(dirname "$flat")"; cp "$dir/record.txt" "$flat"; exit 0 ;;
  *"-o delete"*) rm -f "$flat"; exit 0 ;;
  *--login*)
    grep -qx "node.session.initial_login_retry_max = $(cat "$dir/tries")" "$flat" || exit 99
    [ -e "$dir/hang" ] && sleep 30
    grep -qx 'node.session.auth.password = right-secret' "$flat" && exit 0
    echo "iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)" >&2
    exit 24 ;;
  *--logout*) exit 21 ;;
esac
exit 1
"""


@pytest.fixture
def fake(tmp_path):
    """(runner, iscsiadm's database, the argument log, a settings setter)."""
    script = tmp_path / "iscsiadm"
    script.write_text(FAKE_ISCSIADM.replace("@DIR@", str(tmp_path)))
    script.chmod(0o755)
    (tmp_path / "record.txt").write_text(RECORD)

    def expect_tries(count: int, hang: bool = False) -> None:
        (tmp_path / "tries").write_text(f"{count}\n")
        if hang:
            (tmp_path / "hang").touch()
    return Runner({"iscsiadm": str(script)}), tmp_path / "db", tmp_path / "argv.log", \
        expect_tries


async def test_chap_login_keeps_the_secret_off_every_command_line(fake):
    runner, db, argv_log, expect_tries = fake
    expect_tries(2)                            # timeout 5: 2 tries of 2 s
    opts = Options(username="lab-initiator", password="right-secret")
    await Iscsi(runner, db).login("127.0.0.1:3260", CHAP_TARGET, opts, timeout=5)
    argv = argv_log.read_text()
    assert "right-secret" not in argv and "lab-initiator" not in argv
    assert all("right-secret" not in " ".join(args) for args in runner.history)
    record = (db / "nodes" / CHAP_TARGET / "127.0.0.1,3260").read_text().splitlines()
    assert "node.session.auth.password = right-secret" in record
    assert "node.session.auth.authmethod = CHAP" in record
    # the login bounds are put back once the login is over
    assert "node.session.initial_login_retry_max = 8" in record
    assert "node.conn[0].timeo.login_timeout = 15" in record


async def test_wrong_secret_fails_cleanly_and_removes_the_record_it_made(fake):
    runner, db, argv_log, expect_tries = fake
    expect_tries(8)
    opts = Options(username="lab-initiator", password="wrong-secret")
    with pytest.raises(Failed, match="authorization failure") as error:
        await Iscsi(runner, db).login("127.0.0.1:3260", CHAP_TARGET, opts, timeout=120)
    assert "wrong-secret" not in str(error.value)
    assert node_records(CHAP_TARGET, "127.0.0.1:3260", db) == []
    assert "-o delete" in argv_log.read_text()


async def test_a_login_that_outlives_its_bound_is_logged_out_and_times_out(fake, monkeypatch):
    runner, db, argv_log, expect_tries = fake
    expect_tries(1, hang=True)
    monkeypatch.setattr(iscsi, "GRACE", 0.5)
    with pytest.raises(Timeout, match="within 1 s"):
        await Iscsi(runner, db).login("127.0.0.1:3260", TARGET, Options(), timeout=1)
    calls = argv_log.read_text()
    assert "--logout" in calls and "-o delete" in calls


async def test_an_existing_record_is_edited_not_duplicated(fake):
    runner, db, argv_log, expect_tries = fake
    expect_tries(2)
    existing = db / "nodes" / CHAP_TARGET / "127.0.0.1,3260,1" / "default"
    write(existing, RECORD)
    flat = db / "nodes" / CHAP_TARGET / "127.0.0.1,3260"
    write(flat, RECORD)       # the fake logs in through the flat file; both are edited
    await Iscsi(runner, db).login("127.0.0.1:3260", CHAP_TARGET,
                                  Options(password="right-secret", username="u",
                                          **{"node-startup": "automatic"}), timeout=5)
    assert "-o new" not in argv_log.read_text()
    for record in (existing, flat):
        text = record.read_text()
        assert "node.startup = automatic" in text and "node.conn[0].startup = automatic" in text

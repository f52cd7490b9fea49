# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/iscsi/initiator.py: the login and discovery sequences against a
stand-in iscsiadm that acts on iscsiadm's record files (the real one captured in
the lab) as the real one does."""

from pathlib import Path

import pytest

from solidice_storage.engine.host.iscsi import initiator
from solidice_storage.engine.host.iscsi.initiator import Initiator
from solidice_storage.engine.host.iscsi.records import node_records
from solidice_storage.engine.host.runner import Runner
from solidice_storage.errors import Busy, Failed, Timeout
from solidice_storage.options import DiscoveryOptions, LoginOptions

RECORD = (Path(__file__).parent.parent / "data/lab/iscsi-node-record.txt").read_text()
TARGET = "iqn.2026-11.org.solidice.lab:data"
CHAP_TARGET = "iqn.2026-11.org.solidice.lab:chap"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


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
    if [ -e "$dir/session" ]; then
      echo "iscsiadm: default: 1 session requested, but 1 already present." >&2
      exit 15
    fi
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
    opts = LoginOptions(username="lab-initiator", password="right-secret")
    await Initiator(runner, db).login("127.0.0.1:3260", CHAP_TARGET, opts, timeout=5)
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
    opts = LoginOptions(username="lab-initiator", password="wrong-secret")
    with pytest.raises(Failed, match="authorization failure") as error:
        await Initiator(runner, db).login("127.0.0.1:3260", CHAP_TARGET, opts, timeout=120)
    assert "wrong-secret" not in str(error.value)
    assert node_records(CHAP_TARGET, "127.0.0.1:3260", db) == []
    assert "-o delete" in argv_log.read_text()


async def test_a_login_that_outlives_its_bound_is_logged_out_and_times_out(fake, monkeypatch):
    runner, db, argv_log, expect_tries = fake
    expect_tries(1, hang=True)
    monkeypatch.setattr(initiator, "GRACE", 0.5)
    with pytest.raises(Timeout, match="within 1 s"):
        await Initiator(runner, db).login("127.0.0.1:3260", TARGET, LoginOptions(), timeout=1)
    calls = argv_log.read_text()
    assert "--logout" in calls and "-o delete" in calls


async def test_an_existing_record_is_edited_not_duplicated(fake):
    runner, db, argv_log, expect_tries = fake
    expect_tries(2)
    existing = db / "nodes" / CHAP_TARGET / "127.0.0.1,3260,1" / "default"
    write(existing, RECORD)
    flat = db / "nodes" / CHAP_TARGET / "127.0.0.1,3260"
    write(flat, RECORD)       # the fake logs in through the flat file; both are edited
    await Initiator(runner, db).login("127.0.0.1:3260", CHAP_TARGET,
                                  LoginOptions(password="right-secret", username="u",
                                          node_startup="automatic"), timeout=5)
    assert "-o new" not in argv_log.read_text()
    for record in (existing, flat):
        text = record.read_text()
        assert "node.startup = automatic" in text and "node.conn[0].startup = automatic" in text


RECORD_WITH_CHAP = RECORD.replace(
    "node.session.auth.authmethod = None\n",
    "node.session.auth.authmethod = CHAP\nnode.session.auth.username = lab-initiator\n"
    "node.session.auth.password = right-secret\n")


@pytest.mark.parametrize("before", [RECORD, RECORD_WITH_CHAP], ids=["no-chap", "chap"])
async def test_a_failed_login_on_an_existing_record_puts_its_settings_back(fake, before):
    runner, db, argv_log, expect_tries = fake
    expect_tries(8)
    record = db / "nodes" / CHAP_TARGET / "127.0.0.1,3260"
    write(record, before)
    opts = LoginOptions(username="someone", password="wrong-secret",
                   node_startup="automatic")
    with pytest.raises(Failed, match="authorization failure"):
        await Initiator(runner, db).login("127.0.0.1:3260", CHAP_TARGET, opts, timeout=120)
    assert record.read_text() == before            # CHAP, startup and bounds as they were
    assert "-o delete" not in argv_log.read_text()


async def test_other_chap_answered_by_a_session_already_there_is_busy_and_not_kept(fake):
    runner, db, argv_log, expect_tries = fake
    expect_tries(2)
    (db.parent / "session").touch()                # iscsiadm: "already present", exit 15
    record = db / "nodes" / CHAP_TARGET / "127.0.0.1,3260"
    write(record, RECORD_WITH_CHAP)
    opts = LoginOptions(username="lab-initiator", password="wrong-secret")
    with pytest.raises(Busy, match="log out") as error:
        await Initiator(runner, db).login("127.0.0.1:3260", CHAP_TARGET, opts, timeout=5)
    assert "wrong-secret" not in str(error.value)
    assert record.read_text() == RECORD_WITH_CHAP
    # the same credentials, or none, on that session: success, the record as it was
    await Initiator(runner, db).login("127.0.0.1:3260", CHAP_TARGET,
                                  LoginOptions(username="lab-initiator", password="right-secret"),
                                  timeout=5)
    await Initiator(runner, db).login("127.0.0.1:3260", CHAP_TARGET, LoginOptions(), timeout=5)
    assert record.read_text() == RECORD_WITH_CHAP
    assert "--logout" not in argv_log.read_text()  # the session there is never logged out


async def test_the_chap_check_of_a_live_session_reads_the_record(fake):
    runner, db, argv_log, expect_tries = fake
    write(db / "nodes" / CHAP_TARGET / "127.0.0.1,3260,1" / "default", RECORD_WITH_CHAP)
    engine_iscsi = Initiator(runner, db)
    same = LoginOptions(username="lab-initiator", password="right-secret")
    assert await engine_iscsi.chap_matches("127.0.0.1:3260", CHAP_TARGET, same)
    assert await engine_iscsi.chap_matches("127.0.0.1:3260", CHAP_TARGET, LoginOptions())
    for other in (LoginOptions(username="lab-initiator", password="wrong"),
                  LoginOptions(username="other", password="right-secret"),
                  LoginOptions(password="right-secret")):
        assert not await engine_iscsi.chap_matches("127.0.0.1:3260", CHAP_TARGET, other)
    assert not await engine_iscsi.chap_matches("127.0.0.2:3260", CHAP_TARGET, same)


ST_CONFIG = """\
# BEGIN RECORD 2.1.8
discovery.startup = manual
discovery.type = sendtargets
discovery.sendtargets.address = 127.0.0.1
discovery.sendtargets.port = 3260
discovery.sendtargets.auth.authmethod = None
discovery.sendtargets.timeo.login_timeout = 15
discovery.sendtargets.use_discoveryd = No
discovery.sendtargets.discoveryd_poll_inval = 30
discovery.sendtargets.reopen_max = 5
discovery.sendtargets.timeo.auth_timeout = 45
discovery.sendtargets.timeo.active_timeout = 30
discovery.sendtargets.iscsi.MaxRecvDataSegmentLength = 32768
# END RECORD
"""

FAKE_DISCOVERY = """\
#!/bin/bash
# Stands in for iscsiadm's discovery: the record under DB/send_targets as the real one.
dir=@DIR@
printf '%s\\n' "$*" >> "$dir/argv.log"
portal=$6
config="$dir/db/send_targets/${portal/:/,}/st_config"
case "$*" in
  *"-o new"*) mkdir -p "$(dirname "$config")"; cp "$dir/st_config.txt" "$config"; exit 0 ;;
  *--discover*)
    grep -qx 'discovery.sendtargets.auth.password = disc-secret' "$config" || exit 98
    if [ "${portal%%:*}" = 127.0.0.9 ]; then
      echo "iscsiadm: cannot make connection to 127.0.0.9: Connection refused" >&2
      exit 4
    fi
    echo "$portal,1 iqn.2026-11.org.solidice.lab:data"
    exit 0 ;;
esac
exit 1
"""


@pytest.fixture
def fake_discovery(tmp_path):
    script = tmp_path / "iscsiadm"
    script.write_text(FAKE_DISCOVERY.replace("@DIR@", str(tmp_path)))
    script.chmod(0o755)
    (tmp_path / "st_config.txt").write_text(ST_CONFIG)
    return Runner({"iscsiadm": str(script)}), tmp_path / "db", tmp_path / "argv.log"


DISCOVERY_CHAP = DiscoveryOptions(username="discoverer", password="disc-secret")


@pytest.mark.parametrize("portal", ["127.0.0.1:3260", "127.0.0.9:3260"])
async def test_discovery_chap_leaves_no_record_it_made(fake_discovery, portal):
    runner, db, argv_log = fake_discovery
    try:
        found = await Initiator(runner, db).discover(portal, DISCOVERY_CHAP)
        assert found == [("iqn.2026-11.org.solidice.lab:data", portal)]
    except Failed as error:
        assert portal.startswith("127.0.0.9") and "Connection refused" in str(error)
    assert "-o new" in argv_log.read_text()
    assert not [path for path in db.rglob("*") if path.is_file()], "a discovery record left"


@pytest.mark.parametrize("portal", ["127.0.0.1:3260", "127.0.0.9:3260"])
async def test_discovery_chap_puts_an_existing_record_back(fake_discovery, portal):
    runner, db, argv_log = fake_discovery
    config = db / "send_targets" / portal.replace(":", ",") / "st_config"
    write(config, ST_CONFIG)
    try:
        await Initiator(runner, db).discover(portal, DISCOVERY_CHAP)
    except Failed:
        assert portal.startswith("127.0.0.9")
    assert config.read_text() == ST_CONFIG
    assert "-o new" not in argv_log.read_text()     # an administrator's record kept

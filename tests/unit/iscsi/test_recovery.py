# SPDX-License-Identifier: LGPL-2.1-or-later
"""Recovery of logins a daemon that died left half-done (iscsi/recovery.py), on the
state a real crash point leaves: the login runs in a child process with
SOLIDICE_CRASH_AT set, against a stand-in iscsiadm, and SIGKILLs itself there."""

import pytest

from crashing import crash_in_child
from solidice_storage.engine.host.iscsi.initiator import Initiator
from solidice_storage.engine.host.iscsi.records import node_records
from solidice_storage.engine.host.iscsi.recovery import recover_login
from solidice_storage.engine.host.iscsi.sessions import SysSession
from solidice_storage.engine.host.runner import Runner
from solidice_storage.engine.intents import Intents

from .test_initiator import CHAP_TARGET, FAKE_ISCSIADM, RECORD

PORTAL = "127.0.0.1:3260"
SECRET = "right-secret"


# ---- iSCSI logins ----

@pytest.fixture
def iscsiadm(tmp_path):
    script = tmp_path / "iscsiadm"
    script.write_text(FAKE_ISCSIADM.replace("@DIR@", str(tmp_path)))
    script.chmod(0o755)
    (tmp_path / "record.txt").write_text(RECORD)
    (tmp_path / "tries").write_text("2\n")               # timeout 5: 2 tries of 2 s
    return Runner({"iscsiadm": str(script)})


LOGIN = (f"from solidice_storage.engine.host.iscsi.initiator import Initiator\n"
         f"iscsi = Initiator(Runner({{'iscsiadm': str(tmp / 'iscsiadm')}}), tmp / 'db', "
         f"Intents(tmp / 'state'))\n"
         f"await iscsi.login({PORTAL!r}, {CHAP_TARGET!r}, "
         f"LoginOptions(username='lab-initiator', password={SECRET!r}), timeout=5)")


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
    iscsi = Initiator(iscsiadm, tmp_path / "db", intents)
    assert await intents.settle(intent, recover_login(iscsi, intent, sessions))
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
    iscsi = Initiator(iscsiadm, tmp_path / "db", intents)
    assert await intents.settle(intent, recover_login(iscsi, intent, []))
    assert flat.exists()                                   # not ours to delete
    assert "node.session.initial_login_retry_max = 8" in flat.read_text()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/iscsi/records.py: iscsiadm's record files (the real one captured in
the lab), found in both layouts and edited in place."""

import stat

import pytest

from solidice_storage.engine.host.iscsi import records
from solidice_storage.engine.host.iscsi.records import login_bounds, node_records, set_record

from .test_initiator import CHAP_TARGET, RECORD, RECORD_WITH_CHAP, TARGET, write


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
    assert bounds == {records.LOGIN_TIMEOUT_KEY: str(per_try), records.LOGIN_TRIES_KEY: str(tries)}
    assert per_try * tries <= max(timeout, 1)


def test_set_record_drops_the_keys_set_to_none(tmp_path):
    record = tmp_path / "default"
    record.write_text(RECORD_WITH_CHAP)
    previous = set_record(record, {"node.session.auth.username": None,
                                   "node.session.auth.password": None,
                                   "node.session.auth.authmethod": "None",
                                   "node.session.auth.username_in": None})
    assert previous == {"node.session.auth.username": "lab-initiator",
                        "node.session.auth.password": "right-secret",
                        "node.session.auth.authmethod": "CHAP"}
    assert record.read_text() == RECORD

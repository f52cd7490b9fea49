"""engine/iscsi_parse.py on iscsiadm's real output (tests/unit/data/lab)."""

from pathlib import Path

from solidice_storage.engine.iscsi_parse import (Session, error_for, parse_nodes,
                                                 parse_session_disks, parse_sessions)
import json
from solidice_storage.engine.host.runner import Result
from solidice_storage.errors import Failed, NotFound, Timeout

DATA = Path(__file__).parent / "data/lab"
DATA_TARGET = "iqn.2026-11.org.solidice.lab:data"
CHAP_TARGET = "iqn.2026-11.org.solidice.lab:chap"


def captured(name: str) -> Result:
    text = (DATA / name).read_text()
    head, rest = text.split("# stdout:\n", 1)
    out, err = rest.split("# stderr:\n", 1)
    return Result(int(head.split("# exit ")[1].split()[0]), out, err)


def test_sessions():
    assert parse_sessions(captured("iscsiadm-session.txt")) == [
        Session(1, DATA_TARGET, "127.0.0.1:3260"), Session(2, DATA_TARGET, "127.0.0.2:3260")]


def test_no_sessions_is_an_empty_list():
    none = Result(21, "", "iscsiadm: No active sessions.\n")
    assert parse_sessions(none) == []


def test_discovery_lists_every_target_on_every_portal():
    nodes = parse_nodes(captured("iscsiadm-discovery.txt").stdout)
    assert len(nodes) == 6
    assert (CHAP_TARGET, "127.0.0.4:3260") in nodes
    assert {target for target, _ in nodes} == {DATA_TARGET, CHAP_TARGET}


def test_wrong_chap_secret_is_an_authorization_failure():
    error = error_for(captured("iscsiadm-login-wrong-chap.txt"), "log in")
    assert isinstance(error, Failed) and "authorization failure" in str(error)


def test_logout_without_session_is_not_found():
    error = error_for(captured("iscsiadm-logout-none.txt"), "log out")
    assert isinstance(error, NotFound) and "No matching sessions found" in str(error)


def test_transport_timeout():
    error = error_for(Result(8, "", "iscsiadm: connection login retries (reopen_max) 5 "
                                    "exceeded\n"), "log in")
    assert isinstance(error, Timeout)


def test_each_path_device_maps_to_its_session_portal():
    disks = parse_session_disks(captured("iscsiadm-session-P3.txt").stdout)
    assert len(disks) == 8
    assert {portal for _, portal in disks.values()} == {"127.0.0.1:3260", "127.0.0.2:3260"}
    assert {target for target, _ in disks.values()} == {DATA_TARGET}
    maps = json.loads(captured("multipathd-show-maps-json.txt").stdout)["maps"]
    for item in maps:              # every map has one path through each portal
        devices = [p["dev"] for group in item["path_groups"] for p in group["paths"]]
        assert sorted(disks[d][1] for d in devices) == ["127.0.0.1:3260", "127.0.0.2:3260"]

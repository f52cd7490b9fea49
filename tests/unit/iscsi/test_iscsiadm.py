# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/iscsi/iscsiadm.py on iscsiadm's real output (tests/unit/data/lab)."""

from pathlib import Path

import pytest

from solidice_storage.engine.host.iscsi import iscsiadm
from solidice_storage.engine.host.iscsi.iscsiadm import error_for, parse_nodes
from solidice_storage.engine.host.runner import Result, Runner
from solidice_storage.errors import Failed, NotFound, Timeout

DATA = Path(__file__).parent.parent / "data/lab"
DATA_TARGET = "iqn.2026-11.org.solidice.lab:data"
CHAP_TARGET = "iqn.2026-11.org.solidice.lab:chap"


def captured(name: str) -> Result:
    text = (DATA / name).read_text()
    head, rest = text.split("# stdout:\n", 1)
    out, err = rest.split("# stderr:\n", 1)
    return Result(int(head.split("# exit ")[1].split()[0]), out, err)


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


PORTAL = "127.0.0.1:3260"


@pytest.mark.parametrize("call, argv", [
    pytest.param(lambda r: iscsiadm.discover(r, PORTAL, 5, ()),
                 "-m discovery -t st -p 127.0.0.1:3260 -o nonpersistent", id="discover"),
    pytest.param(lambda r: iscsiadm.discover(r, PORTAL, 5, (), with_record=True),
                 "-m discoverydb -t st -p 127.0.0.1:3260 --discover -o nonpersistent",
                 id="discover-through-the-record"),
    pytest.param(lambda r: iscsiadm.new_discovery_record(r, PORTAL),
                 "-m discoverydb -t st -p 127.0.0.1:3260 -o new", id="discovery-record"),
    pytest.param(lambda r: iscsiadm.new_node_record(r, DATA_TARGET, PORTAL),
                 f"-m node -T {DATA_TARGET} -p 127.0.0.1:3260 -o new", id="node-record"),
    pytest.param(lambda r: iscsiadm.delete_node_record(r, DATA_TARGET, PORTAL),
                 f"-m node -T {DATA_TARGET} -p 127.0.0.1:3260 -o delete", id="delete-record"),
    pytest.param(lambda r: iscsiadm.login(r, DATA_TARGET, PORTAL, 5, ()),
                 f"-m node -T {DATA_TARGET} -p 127.0.0.1:3260 --login", id="login"),
    pytest.param(lambda r: iscsiadm.logout_node(r, DATA_TARGET, PORTAL),
                 f"-m node -T {DATA_TARGET} -p 127.0.0.1:3260 --logout", id="logout-node"),
    pytest.param(lambda r: iscsiadm.logout_session(r, 3, 5),
                 "-m session -r 3 --logout", id="logout-session"),
    pytest.param(lambda r: iscsiadm.rescan_sessions(r),
                 "-m session --rescan", id="rescan"),
])
async def test_each_command_is_the_argument_list_iscsiadm_takes(call, argv):
    runner = Runner({"iscsiadm": "/bin/true"})
    await call(runner)
    assert [" ".join(run[1:]) for run in runner.history] == [argv]

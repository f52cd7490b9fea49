# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/iscsi/sessions.py: the kernel's sessions, from a sysfs tree."""

from solidice_storage.engine.host.iscsi.sessions import SysSession, read_sessions

from .test_initiator import CHAP_TARGET, TARGET, write


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

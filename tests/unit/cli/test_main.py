# SPDX-License-Identifier: LGPL-2.1-or-later
"""cli/main.py: the one error boundary: exit codes and one sentence, no traceback."""

import socket

import pytest

from solidice_storage.cli.bus import bus_address
from solidice_storage.cli.main import EXIT_UNREACHABLE, advice, main
from solidice_storage.client import (BusyError, NoSpaceError,
                                     NotAuthorizedCanObtainError, NotAuthorizedError,
                                     ServiceUnavailableError)


def test_advice_names_the_flag_and_what_to_do():
    assert advice(BusyError("vg0 is in use; pass force=true to remove it")) == \
        "vg0 is in use; pass --force to remove it"
    assert advice(NotAuthorizedError("not allowed")).endswith(
        "run it as root, or ask an administrator to allow it")
    assert "pkttyagent" in advice(NotAuthorizedCanObtainError("needs a password"))


def test_advice_gives_sizes_as_people_read_them():
    assert advice(NoSpaceError("volume group vg0 has 36507222016 bytes free; "
                               "1649267441664 are needed")) == \
        "volume group vg0 has 34.0 GiB free; 1.5 TiB are needed"


def test_the_session_bus_is_found_or_its_absence_said(monkeypatch, tmp_path):
    for name in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert bus_address(False, None) is None                 # the system bus
    assert bus_address(True, "unix:path=/x") == "unix:path=/x"
    with pytest.raises(ServiceUnavailableError, match="no session bus here"):
        bus_address(True, None)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "bus").write_text("")                       # not a socket
    with pytest.raises(ServiceUnavailableError):
        bus_address(True, None)
    (tmp_path / "bus").unlink()
    with socket.socket(socket.AF_UNIX) as listener:         # the per-user bus
        listener.bind(str(tmp_path / "bus"))
        assert bus_address(True, None) == f"unix:path={tmp_path}/bus"
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus")
    assert bus_address(True, None) is None                  # the library reads it


def test_an_unreachable_bus_is_exit_3_and_one_sentence(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--address", f"unix:path={tmp_path}/no-bus", "status"])
    assert exited.value.code == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.startswith("solidice-storagectl: cannot reach unix:path=")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_completion_prints_the_script_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["completion", "bash"])
    assert exited.value.code == 0
    assert "complete -F _solidice_storagectl solidice-storagectl" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["completion", "zsh"])
    assert exited.value.code == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef solidice-storagectl\n")
    assert "compdef _solidice_storagectl solidice-storagectl" in script


def test_bad_usage_is_exit_2():
    with pytest.raises(SystemExit) as exited:
        main(["lv", "create", "vg0", "disk0", "ten"])
    assert exited.value.code == 2

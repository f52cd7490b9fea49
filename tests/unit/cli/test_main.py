"""cli/main.py: the one error boundary: exit codes and one sentence, no traceback."""

import pytest

from solidice_storage.cli.main import EXIT_UNREACHABLE, advice, main
from solidice_storage.client import (BusyError, NotAuthorizedCanObtainError,
                                     NotAuthorizedError)


def test_advice_names_the_flag_and_what_to_do():
    assert advice(BusyError("vg0 is in use; pass force=true to remove it")) == \
        "vg0 is in use; pass --force to remove it"
    assert advice(NotAuthorizedError("not allowed")).endswith(
        "run it as root, or ask an administrator to allow it")
    assert "pkttyagent" in advice(NotAuthorizedCanObtainError("needs a password"))


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


def test_bad_usage_is_exit_2():
    with pytest.raises(SystemExit) as exited:
        main(["lv", "create", "vg0", "disk0", "ten"])
    assert exited.value.code == 2

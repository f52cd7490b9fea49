"""The caps on authorization checks waiting on polkit (dbus/auth.py)."""

import contextlib

import pytest

from solidice_storage.dbus.auth import Authority
from solidice_storage.errors import Busy


def test_checks_waiting_are_capped_per_caller_per_uid_and_in_total():
    authority = Authority(None, 1, per_caller=2, total=3)
    with contextlib.ExitStack() as waiting:
        waiting.enter_context(authority._waiting(":1.1", 1000, "a"))
        waiting.enter_context(authority._waiting(":1.1", 1000, "a"))
        with pytest.raises(Busy, match="waiting for this caller"):
            waiting.enter_context(authority._waiting(":1.1", 1000, "a"))
        with pytest.raises(Busy, match="waiting for this caller"):   # same uid
            waiting.enter_context(authority._waiting(":1.2", 1000, "a"))
        waiting.enter_context(authority._waiting(":1.3", 1001, "a"))
        with pytest.raises(Busy, match="waiting for polkit"):        # everyone's
            waiting.enter_context(authority._waiting(":1.4", 1002, "a"))
    # all answered: nothing is counted any more
    assert not authority._by_sender and not authority._by_uid
    with authority._waiting(":1.4", 1002, "a"):
        pass

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The caps on authorization checks waiting on polkit (dbus/auth.py)."""

import asyncio
import contextlib
import time

import pytest

from solidice_storage.dbus import auth
from solidice_storage.dbus.auth import Authority
from solidice_storage.errors import Busy


async def test_checks_waiting_are_capped_per_caller_per_uid_and_in_total(monkeypatch):
    monkeypatch.setattr(auth, "SLOT_GRACE", 0.05)
    authority = Authority(None, 1, per_caller=2, total=3)
    async with contextlib.AsyncExitStack() as waiting:
        await waiting.enter_async_context(authority._waiting(":1.1", 1000, "a"))
        await waiting.enter_async_context(authority._waiting(":1.1", 1000, "a"))
        started = time.monotonic()
        with pytest.raises(Busy, match="waiting for this caller"):
            await waiting.enter_async_context(authority._waiting(":1.1", 1000, "a"))
        assert time.monotonic() - started >= 0.05
        with pytest.raises(Busy, match="waiting for this caller"):   # same uid
            await waiting.enter_async_context(authority._waiting(":1.2", 1000, "a"))
        await waiting.enter_async_context(authority._waiting(":1.3", 1001, "a"))
        with pytest.raises(Busy, match="waiting for polkit"):        # everyone's
            await waiting.enter_async_context(authority._waiting(":1.4", 1002, "a"))
    # all answered: nothing is counted any more
    assert not authority._by_sender and not authority._by_uid
    async with authority._waiting(":1.4", 1002, "a"):
        pass


async def test_a_check_past_the_cap_takes_the_slot_of_one_answered_meanwhile():
    authority = Authority(None, 1, per_caller=1, total=3)
    order = []

    async def check(name, hold):
        async with authority._waiting(":1.1", 1000, "a"):
            order.append(name)
            await asyncio.sleep(hold)

    await asyncio.gather(check("first", 0.1), check("second", 0))
    assert order == ["first", "second"]

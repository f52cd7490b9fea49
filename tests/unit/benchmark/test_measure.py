# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/measure.py: how one change's outcome is told (done, failed, did not finish)
and how a run of timed calls stops at an error reply."""

import asyncio

import pytest
from dbus_fast import Message, MessageType

from bench.common import DID_NOT_FINISH
from bench.measure import guarded, timed_runs
from lab.host import LabError


async def answer(value):
    return value


async def too_slow():
    raise asyncio.TimeoutError


async def test_a_create_is_done_with_its_path_or_failed_with_its_error():
    seconds, error, result = await guarded(answer(("/lv/1", "")))
    assert (error, result) == (None, "/lv/1") and seconds >= 0
    assert (await guarded(answer((None, "NoSpace: full"))))[1:] == ("NoSpace: full", None)


async def test_an_extend_or_remove_is_its_error_or_none():
    assert (await guarded(answer(None)))[1:] == (None, None)
    assert (await guarded(answer("Busy: open")))[1:] == ("Busy: open", None)


async def test_a_call_past_its_bound_did_not_finish():
    assert (await guarded(too_slow()))[1:] == (DID_NOT_FINISH, None)


async def test_timed_runs_keep_the_last_reply_and_stop_at_an_error():
    good = Message(message_type=MessageType.METHOD_RETURN, reply_serial=1)
    runs, reply = await timed_runs(3, lambda: answer(good), "reading Size")
    assert len(runs) == 3 and reply is good
    bad = Message(message_type=MessageType.ERROR, reply_serial=1,
                  error_name="org.example.Error.Failed", signature="s", body=["no"])
    with pytest.raises(LabError, match="reading Size: org.example.Error.Failed: no"):
        await timed_runs(3, lambda: answer(bad), "reading Size")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The blocking-I/O guard of this tier (conftest.py's autouse `blockbuster`): our
code blocking the event loop thread fails the test; the same call off the loop, or
outside any loop, does not."""

import asyncio

import pytest
from blockbuster import BlockingError

from solidice_storage.engine.host.nfs import mountinfo
from solidice_storage.engine.host.nfs.config import MountConfig, Wanted
from solidice_storage.options import MountNfsOptions


async def test_a_file_read_by_our_code_on_the_loop_fails_the_test(tmp_path):
    records = MountConfig(tmp_path, (str(tmp_path),))
    await asyncio.to_thread(records.save, {f"{tmp_path}/m": Wanted(
        "10.0.0.1", "/x", f"{tmp_path}/m", MountNfsOptions(persistent=True))})
    with pytest.raises(BlockingError, match="read"):
        records.load()                              # deliberately on the loop
    with pytest.raises(BlockingError, match="read"):
        mountinfo.read_mountinfo()
    assert list(await asyncio.to_thread(records.load)) == [f"{tmp_path}/m"]
    assert await asyncio.to_thread(mountinfo.read_mountinfo)


def test_outside_an_event_loop_nothing_is_refused(tmp_path):
    assert MountConfig(tmp_path).load() == {}
    assert mountinfo.read_mountinfo()

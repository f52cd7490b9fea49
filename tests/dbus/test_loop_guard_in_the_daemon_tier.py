# SPDX-License-Identifier: LGPL-2.1-or-later
"""The blocking-I/O guard of this tier (conftest.py's autouse `blockbuster`)
covers our code in the test process (the client library, and anything of ours a
test calls); the daemon is a child process, which it cannot reach."""

import asyncio

import pytest
from blockbuster import BlockingError

from solidice_storage import config


async def test_a_file_read_by_our_code_on_the_loop_fails_the_test(tmp_path):
    conf = tmp_path / "storage.conf"
    await asyncio.to_thread(conf.write_text, "[nfs]\ntimeo = 50\n")
    with pytest.raises(BlockingError, match="read"):
        config.load(conf)                           # deliberately on the loop
    assert (await asyncio.to_thread(config.load, conf)).nfs.timeo == 50

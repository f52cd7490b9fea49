# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/nfs/keeper.py: a persistent mount is made again, whatever one
attempt raises."""

import asyncio

from solidice_storage.engine.host.nfs import commands, keeper as keeping
from solidice_storage.engine.host.nfs.config import Wanted
from solidice_storage.options import MountNfsOptions

from .test_mounts import _engine


async def test_a_keeper_survives_a_failure_it_did_not_expect(tmp_path, monkeypatch):
    """Whatever one attempt raises, the keeper logs it and tries again later."""
    monkeypatch.setattr(keeping, "REMOUNT_DELAY", 0)
    monkeypatch.setattr(keeping, "RETRY_FIRST", 0.05)
    engine = _engine(tmp_path, "exit 0\n")
    attempts = []

    async def failing(helper):
        attempts.append(helper)
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    monkeypatch.setattr(commands, "check_helper", failing)
    wanted = Wanted("10.0.0.1", "/x", str(tmp_path / "kept"), MountNfsOptions(persistent=True))
    engine.wanted = {wanted.local_path: wanted}
    engine.keeper.serving = True
    engine.keeper.keep_all()
    keeper = engine.keeper.tasks[wanted.local_path]
    for _ in range(100):
        if len(attempts) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(attempts) >= 3 and not keeper.done()
    keeper.cancel()
    await asyncio.wait([keeper])

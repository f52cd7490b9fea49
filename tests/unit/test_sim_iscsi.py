"""The simulated engine's iSCSI keeps the real one's rules: other CHAP credentials
on a live session are refused, and a caller that was not authorized never logs in."""

import pytest

from solidice_storage.engine import sim_host, sim_lvm
from solidice_storage.engine.sim import engine as sim
from solidice_storage.engine.sim.engine import SimEngine
from solidice_storage.errors import Busy, NotFound
from solidice_storage.validation import Options

BACKUP, DATA = sim_host.BACKUP_TARGET, sim_host.DATA_TARGET
PORTAL_A = sim_host.PORTALS[0]
CHAP = Options(username="backup", password="backup-secret")


@pytest.fixture
async def engine(monkeypatch):
    monkeypatch.setattr(sim_lvm, "STEP", 0)          # simulated steps take no time
    monkeypatch.setattr(sim, "STEP", 0)
    engine = SimEngine()
    await engine.start()
    yield engine
    await engine.close()


async def test_other_chap_credentials_on_a_live_session_are_busy(engine):
    key = await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    with pytest.raises(Busy, match="log out first"):
        await engine.login_iscsi(PORTAL_A, BACKUP, Options(username="backup",
                                                           password="wrong"), uid=0)
    with pytest.raises(Busy, match="log out first"):
        await engine.login_iscsi(PORTAL_A, DATA, CHAP, uid=0)       # a session without
    assert await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0) == key
    assert await engine.login_iscsi(PORTAL_A, BACKUP, Options(
        **{"node-startup": "automatic"}), uid=0) == key             # the record's CHAP


async def test_the_records_chap_logs_in_again_after_a_logout(engine):
    await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    await engine.logout_iscsi(PORTAL_A, BACKUP, Options())
    assert await engine.login_iscsi(PORTAL_A, BACKUP, Options(), uid=0)


async def test_an_unauthorized_enumerate_never_logs_in(engine):
    with pytest.raises(NotFound):
        await engine.enumerate_iscsi_luns(PORTAL_A, BACKUP, CHAP, uid=None)
    assert (BACKUP, PORTAL_A) not in engine.sessions

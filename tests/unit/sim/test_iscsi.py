# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/sim/iscsi.py: discovery, sessions and node records on the simulated host.

The simulated engine's iSCSI keeps the real one's rules: other CHAP credentials
on a live session are refused, and a caller that was not authorized never logs in."""

from types import SimpleNamespace

import pytest

from solidice_storage.engine.sim import iscsi as sim_iscsi
from solidice_storage.errors import Busy, Failed, NotFound, Timeout
from solidice_storage.models import IscsiSession, Job
from solidice_storage.options import (DiscoveryOptions, EnumerateIscsiLunsOptions,
                                      LoginOptions, Options)

from .helpers import (BACKUP, BACKUP_LUNS, CHAP, DATA, ENUMERATE_CHAP, LUN1, LUN2, LUN3,
                      LUN4, PORTAL_A, PORTAL_B, assert_consistent, lun, seed)


# ---- iSCSI ----

@pytest.mark.parametrize("opts", [
    pytest.param(LoginOptions(), id="no-chap"),
    pytest.param(LoginOptions(username="backup", password="hunter2"), id="wrong-password"),
])
async def test_login_iscsi_without_chap(engine, completed, opts):
    with pytest.raises(Failed, match="CHAP") as info:
        await engine.login_iscsi(PORTAL_A, BACKUP, opts, uid=0)
    assert "hunter2" not in str(info.value)
    assert not [w for w in BACKUP_LUNS if lun(engine, w)]
    assert not engine.store.all(Job)
    assert [success for _, success, _ in completed] == [False]
    assert_consistent(engine.store)


async def test_login_iscsi_with_chap(engine):
    key = await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    assert key == f"{BACKUP}@{PORTAL_A}"
    session = engine.store.get(IscsiSession, key)
    assert session.luns == BACKUP_LUNS
    for wwid in BACKUP_LUNS:
        found = lun(engine, wwid)
        assert (found.multipath, found.transport, found.status) == (True, "iscsi", "free")
        assert len(found.paths) == 1
        assert wwid in engine.reads.enumerate_luns()
    assert_consistent(engine.store)


async def test_login_iscsi_second_portal_adds_paths(engine):
    await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    await engine.login_iscsi(PORTAL_B, BACKUP, CHAP, uid=0)
    assert [dev for dev, _ in lun(engine, BACKUP_LUNS[0]).paths] == ["sdj", "sdk"]
    assert_consistent(engine.store)


async def test_login_iscsi_again_is_no_change(engine):
    key = await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    before = {kind: dict(table) for kind, table in engine.store.objects.items()}
    assert await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0) == key
    assert {kind: dict(table) for kind, table in engine.store.objects.items()} == before


@pytest.mark.parametrize("portal,target,error,word", [
    pytest.param(PORTAL_A, "iqn.2003-01.org.x:none", NotFound, "no target",
                 id="unknown-target"),
    pytest.param("192.0.2.99:3260", DATA, Failed, "connection refused",
                 id="unknown-portal"),
])
async def test_login_iscsi_refused(engine, portal, target, error, word):
    with pytest.raises(error, match=word):
        await engine.login_iscsi(portal, target, LoginOptions(), uid=0)
    assert not engine.store.all(Job)


async def test_login_iscsi_unreachable_portal(engine):
    with pytest.raises(Timeout, match="did not answer"):
        await engine.login_iscsi(f"{seed.UNREACHABLE}:3260", DATA,
                                 LoginOptions(timeout=0.01), uid=0)


async def test_discover_iscsi_targets(engine):
    found = await engine.discover_iscsi_targets(PORTAL_A, DiscoveryOptions())
    assert {target for target, _ in found} == {DATA, BACKUP}


@pytest.mark.parametrize("opts,seconds", [
    pytest.param(DiscoveryOptions(), 30, id="default"),
    pytest.param(DiscoveryOptions(timeout=5), 5, id="timeout-option"),
])
async def test_discover_iscsi_targets_unreachable_portal(engine, monkeypatch, opts,
                                                         seconds):
    slept = []

    async def sleep(delay):            # the sim's clock only: no test waits 30 s
        slept.append(delay)
    monkeypatch.setattr(sim_iscsi, "asyncio", SimpleNamespace(sleep=sleep))
    with pytest.raises(Timeout, match=f"did not answer within {seconds} s"):
        await engine.discover_iscsi_targets(f"{seed.UNREACHABLE}:3260", opts)
    assert slept == [seconds]


async def test_enumerate_iscsi_luns_without_login(engine):
    with pytest.raises(NotFound, match="log in first"):
        await engine.enumerate_iscsi_luns(PORTAL_A, BACKUP,
                                          EnumerateIscsiLunsOptions(login=False), uid=0)
    assert not [w for w in BACKUP_LUNS if lun(engine, w)]


async def test_enumerate_iscsi_luns_logs_in(engine):
    wwids = await engine.enumerate_iscsi_luns(PORTAL_A, BACKUP, ENUMERATE_CHAP, uid=0)
    assert wwids == list(BACKUP_LUNS)
    assert engine.store.get(IscsiSession, f"{BACKUP}@{PORTAL_A}") is not None
    assert_consistent(engine.store)


async def test_enumerate_iscsi_luns_of_a_session(engine):
    assert await engine.enumerate_iscsi_luns(PORTAL_A, DATA,
                                             EnumerateIscsiLunsOptions(login=False),
                                             uid=0) == [LUN1, LUN2, LUN3, LUN4]


async def test_logout_iscsi_of_the_last_path_of_a_pv(engine):
    await engine.logout_iscsi(PORTAL_A, DATA, Options())
    assert [dev for dev, _ in lun(engine, LUN1).paths] == ["sdb"]
    with pytest.raises(Busy, match="physical volume") as info:
        await engine.logout_iscsi(PORTAL_B, DATA, Options())
    assert LUN1 in str(info.value) or LUN2 in str(info.value)
    assert engine.store.get(IscsiSession, f"{DATA}@{PORTAL_B}") is not None
    assert lun(engine, LUN1).paths == (("sdb", "active"),)
    assert_consistent(engine.store)


async def test_logout_iscsi_removes_its_luns(engine):
    await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    await engine.logout_iscsi(PORTAL_A, BACKUP, Options())
    assert engine.store.get(IscsiSession, f"{BACKUP}@{PORTAL_A}") is None
    assert not [w for w in BACKUP_LUNS if lun(engine, w)]
    assert_consistent(engine.store)


async def test_logout_iscsi_without_session(engine):
    with pytest.raises(NotFound, match="no session"):
        await engine.logout_iscsi(PORTAL_A, BACKUP, Options())


# ---- CHAP on a live session, and logins only for the authorized ----

async def test_other_chap_credentials_on_a_live_session_are_busy(engine):
    key = await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    with pytest.raises(Busy, match="log out first"):
        await engine.login_iscsi(PORTAL_A, BACKUP, LoginOptions(username="backup",
                                                                password="wrong"), uid=0)
    with pytest.raises(Busy, match="log out first"):
        await engine.login_iscsi(PORTAL_A, DATA, CHAP, uid=0)       # a session without
    assert await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0) == key
    assert await engine.login_iscsi(PORTAL_A, BACKUP, LoginOptions(
        node_startup="automatic"), uid=0) == key                    # the record's CHAP


async def test_the_records_chap_logs_in_again_after_a_logout(engine):
    await engine.login_iscsi(PORTAL_A, BACKUP, CHAP, uid=0)
    await engine.logout_iscsi(PORTAL_A, BACKUP, Options())
    assert await engine.login_iscsi(PORTAL_A, BACKUP, LoginOptions(), uid=0)


async def test_an_unauthorized_enumerate_never_logs_in(engine):
    with pytest.raises(NotFound):
        await engine.enumerate_iscsi_luns(PORTAL_A, BACKUP, ENUMERATE_CHAP, uid=None)
    assert (BACKUP, PORTAL_A) not in engine.iscsi.sessions

# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/iscsi/iscsi.py's rules on a host described in memory: what a logout may
take away, CHAP credentials on a session that exists, and portal names resolved only
for authorized callers, in a pool of their own. The same code on real devices is
proven in tests/lab/test_iscsi.py."""

import asyncio
import socket
import threading

import pytest

from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.host.iscsi.iscsi import maps_left_without_paths
from solidice_storage.engine.host.iscsi.sessions import SysSession, session_model
from solidice_storage.engine.host.luns.blockdev import Disk, Volume
from solidice_storage.engine.host.luns.luns import Luns
from solidice_storage.engine.host.runner import Runner
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import Busy, NotFound
from solidice_storage.models import IscsiSession
from solidice_storage.options import EnumerateIscsiLunsOptions, LoginOptions

NO_LOGIN = EnumerateIscsiLunsOptions(login=False)

WWID_A = "36001405aaaaaaaaaaaaaaaaaaaaaaaaa"
WWID_B = "36001405bbbbbbbbbbbbbbbbbbbbbbbbb"
WWID_C = "36001405ccccccccccccccccccccccccc"
TARGET = "iqn.2026-11.org.solidice.lab:data"
FIRST = SysSession(1, TARGET, "127.0.0.1:3260", "LOGGED_IN")
SECOND = SysSession(2, TARGET, "127.0.0.2:3260", "LOGGED_IN")


def disk(name, wwid, **more):
    node = f"/dev/mapper/{wwid}" if more.get("multipath") else f"/dev/{name}"
    return Disk(name=name, node=node, size=64 << 20, wwid=wwid, **more)


@pytest.fixture
def sessions() -> list[SysSession]:
    """The kernel's sessions the engine reads (none unless a test adds one)."""
    return []


@pytest.fixture
async def engine(tmp_path, sessions):
    """dm-0 over sda (session 1) and sdb (session 2); dm-1 over sdc (session 2);
    sdd, a LUN of session 2 that multipath leaves alone; iscsiadm's database in
    tmp_path; no tool installed."""
    disks = [
        disk("dm-0", WWID_A, multipath=True, slaves=["sda", "sdb"], dev_t="253:0"),
        disk("sda", WWID_A, path_of=WWID_A, iscsi_session=1, dev_t="8:0"),
        disk("sdb", WWID_A, path_of=WWID_A, iscsi_session=2, dev_t="8:16"),
        disk("dm-1", WWID_B, multipath=True, slaves=["sdc"], dev_t="253:1"),
        disk("sdc", WWID_B, path_of=WWID_B, iscsi_session=2, dev_t="8:32"),
        disk("sdd", WWID_C, iscsi_session=2, dev_t="8:48"),
    ]
    engine = HostEngine(Runner({}), sysfs=tmp_path / "sys", state_dir=tmp_path / "state",
                        iscsi_dir=tmp_path, read=lambda sysfs: (disks, sessions, {}))
    await engine.scan()
    yield engine
    await engine.close()


def by_name(engine, name):
    return next(d for d in engine.luns.disks if d.name == name)


def maps_left(engine, session, **more):
    return maps_left_without_paths(engine.luns, session, **more)


async def test_a_logout_that_takes_nothing_in_use_flushes_the_maps_left_pathless(engine):
    assert maps_left(engine, FIRST) == []        # dm-0 keeps sdb
    assert maps_left(engine, SECOND) == [WWID_B]


@pytest.mark.parametrize("name, wwid", [("sdd", WWID_C), ("dm-1", WWID_B)],
                         ids=["without-multipath", "map"])
async def test_logout_refuses_to_take_a_lun_holding_a_pv_of_any_vg(engine, name, wwid):
    """An inactive VG's PV has no holders and no mount: its label is what counts."""
    lun = by_name(engine, name)
    lun.fs_type, lun.status = "LVM2_member", "pv"
    with pytest.raises(Busy, match=f"LUN {wwid} .*physical volume"):
        maps_left(engine, SECOND)


async def test_logout_refuses_to_take_a_lun_without_multipath_that_is_held(engine):
    by_name(engine, "sdd").holders = ["dm-7"]
    with pytest.raises(Busy, match=f"LUN {WWID_C} .*held by dm-7"):
        maps_left(engine, SECOND)


@pytest.mark.parametrize("name, wwid", [("sdd", WWID_C), ("dm-1", WWID_B)],
                         ids=["without-multipath", "map"])
async def test_logout_refuses_to_take_a_mounted_lun(engine, name, wwid):
    with pytest.raises(Busy, match=f"LUN {wwid} .*mounted"):
        maps_left(engine, SECOND, mounted=frozenset({name}))


async def test_logout_refuses_to_take_a_lun_whose_partition_is_in_use(engine):
    partition = Volume(name="sdd1", node="/dev/sdd1", size=1 << 20, kind="partition",
                       uuid="p1", parent="sdd", fs_type="LVM2_member")
    with pytest.raises(Busy, match=f"LUN {WWID_C} .*sdd1 .*physical volume"):
        maps_left(engine, SECOND, partitions=[partition])
    partition.fs_type = "ext4"
    assert maps_left(engine, SECOND, partitions=[partition]) == [WWID_B]
    with pytest.raises(Busy, match=f"LUN {WWID_C} .*sdd1 .*mounted"):
        maps_left(engine, SECOND, mounted=frozenset({"sdd1"}),
                                        partitions=[partition])


async def test_a_map_that_keeps_a_path_may_lose_one_whatever_it_holds(engine):
    lun = by_name(engine, "dm-0")
    lun.fs_type, lun.status, lun.holders = "LVM2_member", "pv", ["dm-9"]
    assert maps_left(engine, FIRST) == []


# ---- CHAP on a session that exists ----

CHAP_TARGET = "iqn.2026-11.org.solidice.lab:chap"
CHAP_RECORD = """\
# BEGIN RECORD 2.1.8
node.name = iqn.2026-11.org.solidice.lab:chap
node.startup = manual
node.session.auth.authmethod = CHAP
node.session.auth.username = lab-initiator
node.session.auth.password = right-secret
# END RECORD
"""


@pytest.fixture
async def chap_session(engine, sessions, tmp_path):
    """A session to the CHAP target through 127.0.0.1, its record in tmp_path."""
    record = tmp_path / "nodes" / CHAP_TARGET / "127.0.0.1,3260,1" / "default"
    record.parent.mkdir(parents=True)
    record.write_text(CHAP_RECORD)
    sessions.append(SysSession(3, CHAP_TARGET, "127.0.0.1:3260", "LOGGED_IN"))
    await engine.scan()
    return record


async def test_other_chap_credentials_on_a_session_are_busy_and_change_nothing(
        engine, chap_session):
    with pytest.raises(Busy, match="log out first") as error:
        await engine.login_iscsi("127.0.0.1:3260", CHAP_TARGET,
                                 LoginOptions(username="lab-initiator", password="wrong"), uid=0)
    assert "wrong" not in str(error.value)
    assert chap_session.read_text() == CHAP_RECORD
    assert not engine.runner.history                  # nothing run, no job
    assert not engine.jobs._running


async def test_the_same_credentials_on_a_session_are_a_no_op(engine, chap_session):
    key = await engine.login_iscsi("127.0.0.1:3260", CHAP_TARGET,
                                   LoginOptions(username="lab-initiator", password="right-secret"),
                                   uid=0)
    assert key == f"{CHAP_TARGET}@127.0.0.1:3260"
    assert not engine.runner.history


# ---- portal names: never for an unauthorized caller, never in the shared pool ----

@pytest.fixture
def blocked_dns(monkeypatch):
    """socket.getaddrinfo hangs (a name server that never answers) until released;
    returns (the calls made, the release event)."""
    calls: list[str] = []
    release = threading.Event()

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        release.wait(30)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield calls, release
    release.set()


async def default_executor_answers() -> bool:
    try:
        await asyncio.wait_for(asyncio.to_thread(lambda: None), 2)
        return True
    except asyncio.TimeoutError:
        return False


async def test_enumerate_without_login_never_resolves_a_name(engine, blocked_dns):
    calls, release = blocked_dns
    try:
        results = await asyncio.wait_for(asyncio.gather(*(
            engine.enumerate_iscsi_luns(f"portal{n}.example:3260", TARGET,
                                        NO_LOGIN, uid=None)
            for n in range(100)), return_exceptions=True), 5)
        assert all(isinstance(r, NotFound) for r in results), results[:3]
        assert calls == []
        assert await default_executor_answers(), "the default executor is full"
    finally:
        release.set()


async def test_enumerate_without_login_matches_the_portal_as_written(engine):
    engine.store.publish([IscsiSession(target=TARGET, portal="[fd00::2]:3260",
                                       luns=(WWID_A,))])
    assert await engine.enumerate_iscsi_luns("[fd00:0::2]:3260", TARGET, NO_LOGIN,
                                             uid=None) == [WWID_A]
    with pytest.raises(NotFound, match="log in first"):
        await engine.enumerate_iscsi_luns("[fd00::3]:3260", TARGET, NO_LOGIN, uid=None)


async def test_names_resolve_in_a_pool_of_their_own_with_a_cap_per_caller(
        engine, blocked_dns):
    calls, release = blocked_dns
    engine.store.publish([IscsiSession(target=TARGET, portal="127.0.0.1:3260",
                                       luns=(WWID_A,))])
    try:
        first = [asyncio.ensure_future(engine.enumerate_iscsi_luns(
            f"array{n}.example:3260", TARGET, EnumerateIscsiLunsOptions(), uid=1000))
            for n in range(2)]
        await asyncio.sleep(0.2)
        with pytest.raises(Busy, match="resolv"):
            await engine.enumerate_iscsi_luns("array9.example:3260", TARGET,
                                              EnumerateIscsiLunsOptions(), uid=1000)
        other = asyncio.ensure_future(engine.enumerate_iscsi_luns(
            "array5.example:3260", TARGET, EnumerateIscsiLunsOptions(), uid=1001))
        await asyncio.sleep(0.2)
        assert not other.done()              # queued behind the two hung lookups
        assert await default_executor_answers(), "a lookup took a default executor thread"
        assert len(calls) == 2
        release.set()
        for future in (*first, other):
            assert await asyncio.wait_for(future, 5) == [WWID_A]
    finally:
        release.set()


# ---- another host: a map whose every path goes through one session ----

@pytest.fixture
async def luns(tmp_path):
    """dm-0 over sda (session 1) and sdb (session 2); dm-1, held by dm-5, over sdc
    (session 2)."""
    disks = [
        disk("dm-0", WWID_A, multipath=True, slaves=["sda", "sdb"]),
        disk("sda", WWID_A, path_of=WWID_A, iscsi_session=1),
        disk("sdb", WWID_A, path_of=WWID_A, iscsi_session=2),
        disk("dm-1", WWID_B, multipath=True, slaves=["sdc"], holders=["dm-5"],
             status="other"),
        disk("sdc", WWID_B, path_of=WWID_B, iscsi_session=2),
        disk("vda", "pci-0000:00:04.0"),
    ]
    index = Luns(Runner({}), StateStore(), tmp_path / "sys",
                 read=lambda sysfs: (disks, [], {}))
    await index.scan()
    return index


async def test_logout_flushes_only_maps_it_leaves_pathless(luns):
    assert maps_left_without_paths(luns, FIRST) == []       # dm-0 keeps sdb
    next(d for d in luns.disks if d.name == "dm-1").holders = []
    assert maps_left_without_paths(luns, SECOND) == [WWID_B]


async def test_logout_refuses_to_take_the_last_path_of_a_map_in_use(luns):
    with pytest.raises(Busy, match="held by dm-5"):
        maps_left_without_paths(luns, SECOND)


async def test_session_objects_list_the_maps_behind_them(luns):
    session = session_model(SysSession(2, TARGET, "127.0.0.2:3260", "LOGGED_IN"), luns.disks)
    assert session.key == f"{TARGET}@127.0.0.2:3260"
    assert session.luns == (WWID_A, WWID_B)

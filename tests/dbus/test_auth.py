# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit and the bus policy: who may do what, asked the right way."""

import asyncio
import collections
import os
import subprocess
import time

import pytest

import caller
from conftest import NOBODY
from storage import ERROR, HOST, Storage, opts

DEST = "org.solidice.Storage"
MANAGE_LVM = "org.solidice.storage.manage-lvm"
REMOVE = "org.solidice.storage.remove"


@pytest.fixture
def as_nobody(daemon, run_busctl):
    """busctl as uid 65534; returns (returncode, stdout, stderr)."""
    def run(*args):
        result = run_busctl("--", *args, user=NOBODY)
        return result.returncode, result.stdout, result.stderr
    return run


def create_lv(as_nobody, vg, name="fromnobody", *options):
    return as_nobody("call", DEST, vg, "org.solidice.Storage.VolumeGroup",
                     "CreateLogicalVolume", "sta{sv}", name, str(1024**3),
                     str(len(options) // 3), *options)


async def test_root_is_allowed_without_asking_polkit(storage, polkit):
    vg = await storage.vg("vmstore")
    await storage.call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "byroot",
                       1024**3, {})
    assert await polkit.checks() == []


async def test_unprivileged_reads_need_no_authorization(storage, polkit, as_nobody):
    for call in (("call", DEST, "/org/solidice/Storage", "org.freedesktop.DBus.ObjectManager",
                  "GetManagedObjects"),
                 ("call", DEST, HOST, "org.solidice.Storage.Host", "EnumerateLuns",
                  "a{sv}", "0"),
                 ("call", DEST, HOST, "org.solidice.Storage.Host", "GetBlockInfo",
                  "sa{sv}", "vmstore/templates", "0"),
                 ("get-property", DEST, HOST, "org.solidice.Storage.Host", "Luns")):
        status, out, err = as_nobody(*call)
        assert status == 0, err
    assert await polkit.checks() == []


async def test_unprivileged_change_is_denied_and_changes_nothing(storage, polkit, as_nobody):
    before = await storage.objects()
    status, out, err = create_lv(as_nobody, await storage.vg("vmstore"))
    assert status != 0 and "not allowed: " + MANAGE_LVM in err
    assert await storage.objects() == before
    [(subject, action, details, flags, _)] = await polkit.checks()
    assert action == MANAGE_LVM and flags == 1
    assert subject[0] == "system-bus-name" and subject[1]["name"].startswith(":1.")
    assert details["vg"] == "vmstore" and details["lv"] == "fromnobody"


async def test_polkit_allows_and_no_user_interaction_is_passed(storage, polkit, as_nobody):
    await polkit.allow(MANAGE_LVM)
    vg = await storage.vg("vmstore")
    status, out, err = create_lv(as_nobody, vg, "allowed", "auth.no_user_interaction",
                                 "b", "true")
    assert status == 0, err
    assert await storage.lv("allowed")
    [(_, action, _, flags, _)] = await polkit.checks()
    assert action == MANAGE_LVM and flags == 0
    lv = out.split('"')[1]
    status, out, err = as_nobody("call", DEST, lv, "org.solidice.Storage.LogicalVolume",
                                 "Remove", "a{sv}", "1", "force", "b", "true")
    assert status != 0 and REMOVE in err   # destroying data is a separate action


async def test_challenge_is_not_authorized_can_obtain(storage, polkit, as_nobody):
    await polkit.challenge(MANAGE_LVM)
    status, out, err = create_lv(as_nobody, await storage.vg("vmstore"))
    assert status != 0 and "needs authentication" in err


async def test_not_authorized_error_names(storage, polkit, system_bus):
    """The D-Bus error names themselves, seen through gdbus as uid 65534."""
    vg = await storage.vg("vmstore")
    for challenge, name in ((False, "NotAuthorized"), (True, "NotAuthorizedCanObtain")):
        await polkit.challenge(*([MANAGE_LVM] if challenge else []))
        result = gdbus_as_nobody(system_bus, vg, "CreateLogicalVolume",
                                 "x", "1024", "@a{sv} {}")
        assert f"{ERROR}{name}" in result.stderr, result.stderr


def gdbus_as_nobody(address, path, method, *args):
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
         "gdbus", "call", "--system", "--dest", DEST, "--object-path", path, "--method",
         f"org.solidice.Storage.VolumeGroup.{method}", *args],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address})


async def test_slow_polkit_delays_only_its_caller(storage, polkit, as_nobody):
    await polkit.allow(MANAGE_LVM)
    await polkit.delay(1.5)
    vg = await storage.vg("vmstore")
    started = time.monotonic()
    slow = asyncio.ensure_future(asyncio.to_thread(create_lv, as_nobody, vg, "slow"))
    await asyncio.sleep(0.3)
    read_started = time.monotonic()
    await storage.host("EnumerateLuns", "a{sv}", {})
    assert time.monotonic() - read_started < 0.5
    status, out, err = await slow
    assert status == 0, err
    assert time.monotonic() - started >= 1.5


async def test_hanging_polkit_denies_after_timeout_while_others_are_served(
        storage, polkit, as_nobody):
    await polkit.allow(MANAGE_LVM)
    await polkit.hang()
    vg = await storage.vg("vmstore")
    before = await storage.objects()
    hung = asyncio.ensure_future(asyncio.to_thread(create_lv, as_nobody, vg, "hung"))
    for _ in range(5):
        await asyncio.wait_for(storage.host("EnumerateVolumeGroups", "a{sv}", {}), 0.5)
        await asyncio.sleep(0.1)
    status, out, err = await hung
    assert status != 0 and "timed out" in err      # --polkit-timeout 2 in the fixture
    await polkit.release()
    await asyncio.sleep(0.2)
    assert await storage.objects() == before


async def test_cancelling_another_users_job_needs_the_other_user_action(
        storage, polkit, as_nobody):
    vg = await storage.vg("vmstore")
    pv = (await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"][0]
    job = await storage.call(vg, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}", pv,
                             opts(move_data=True))
    status, out, err = as_nobody("call", DEST, job, "org.solidice.Storage.Job", "Cancel",
                                 "a{sv}", "0")
    assert status != 0 and "cancel-job-other-user" in err
    await polkit.allow("org.solidice.storage.cancel-job-other-user")
    status, out, err = as_nobody("call", DEST, job, "org.solidice.Storage.Job", "Cancel",
                                 "a{sv}", "0")
    assert status == 0, err
    for _ in range(50):
        if job not in await storage.objects():
            break
        await asyncio.sleep(0.1)
    assert pv in await storage.objects()   # cancelled: the PV stays in the VG
    assert pv in (await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"]


async def test_only_root_may_own_the_name(daemon, system_bus):
    request = ["gdbus", "call", "--system", "--dest", "org.freedesktop.DBus",
               "--object-path", "/org/freedesktop/DBus", "--method",
               "org.freedesktop.DBus.RequestName", DEST, "4"]
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": system_bus}
    nobody = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                             "--clear-groups", "--", *request],
                            capture_output=True, text=True, env=env, timeout=30)
    assert "AccessDenied" in nobody.stderr, nobody
    root = subprocess.run(request, capture_output=True, text=True, env=env, timeout=30)
    assert root.stdout.strip() == "(uint32 3,)", root   # EXISTS: allowed, but owned


async def test_polkit_actions_are_checked_per_operation(storage, polkit, as_nobody):
    """Each kind of change asks for its own action id."""
    cases = [
        (("call", DEST, HOST, "org.solidice.Storage.StoragePool", "MountNfs", "sssa{sv}",
          "nfs.example.com", "/x", "/mnt/x", "0"), "org.solidice.storage.mount-nfs"),
        (("call", DEST, HOST, "org.solidice.Storage.Host", "LoginIscsi", "ssa{sv}",
          "192.0.2.10", "iqn.2003-01.org.linux-iscsi.sim.example:backup", "0"),
         "org.solidice.storage.iscsi"),
        (("call", DEST, HOST, "org.solidice.Storage.StoragePool", "RemoveVolumeGroup",
          "sa{sv}", "vmstore", "0"), REMOVE),
    ]
    for call, action in cases:
        status, out, err = as_nobody(*call)
        assert status != 0 and action in err, (call, err)
    assert [check[1] for check in await polkit.checks()] == [a for _, a in cases]


OTHER_USER = 1          # "daemon": a second non-root uid, besides NOBODY
BUSY = ERROR + "Busy"


async def calls_as(system_bus: str, uid: int, calls: list[dict], timeout: float = 30):
    return await caller.run_as(system_bus, uid, calls, timeout)


def remove_call(lv: str) -> dict:
    return {"path": lv, "interface": "org.solidice.Storage.LogicalVolume",
            "member": "Remove", "signature": "a{sv}", "body": [{"force": ["b", True]}]}


@pytest.fixture
async def hung_removals(polkit, bus):
    """polkit leaves every check of the remove action unanswered."""
    async def hang(*actions):
        await polkit._call("SimulateHangActions", "as", [list(actions)])
    await hang(REMOVE)
    yield
    await hang()


async def wait_for_checks(polkit, count: int, limit: float = 10) -> None:
    deadline = time.monotonic() + limit
    while len(await polkit.checks()) < count:
        assert time.monotonic() < deadline, await polkit.checks()
        await asyncio.sleep(0.05)


async def test_a_caller_with_hung_checks_cannot_block_another_users_authorization(
        start_daemon, bus, polkit, hung_removals, system_bus):
    """200 removals waiting on polkit from one user on two connections (more than
    dbus-daemon's 128 pending replies on our connection to polkit, and each under
    the 128 the caller's own connection may have): past 4 the checks are Busy
    within a second (auth.SLOT_GRACE), without asking polkit, and another user's
    check is still answered by polkit."""
    start_daemon("--polkit-timeout", "20")
    storage = Storage(bus)
    await polkit.allow(MANAGE_LVM)
    templates = await storage.lv("templates")
    vg = await storage.vg("vmstore")
    calls = [calls_as(system_bus, NOBODY, [remove_call(templates)] * 100) for _ in range(2)]
    async with caller.running(asyncio.gather(*calls)) as flood:
        await wait_for_checks(polkit, 4)
        await asyncio.sleep(0.5)                    # the rest of the flood is in
        started = time.monotonic()
        [other] = await calls_as(system_bus, OTHER_USER, [{
            "path": vg, "interface": "org.solidice.Storage.VolumeGroup",
            "member": "CreateLogicalVolume", "signature": "sta{sv}",
            "body": ["fromother", 1024**3, {}]}])
        assert other["outcome"] == "ok", other
        assert time.monotonic() - started < 5
        assert await storage.lv("fromother")
        await polkit.release()                      # the hung checks: "no" at last
        outcomes = [o for each in await flood for o in each]
    busy = [o for o in outcomes if o["outcome"] == BUSY]
    assert len(busy) == 200 - 4, collections.Counter(o["outcome"] for o in outcomes)
    assert all("too many authorization requests" in o["message"] for o in busy)
    assert max(o["seconds"] for o in busy) < 5
    assert [o["outcome"] for o in outcomes if o not in busy] == [ERROR + "NotAuthorized"] * 4
    checks = await polkit.checks()
    assert [c[1] for c in checks].count(REMOVE) == 4 and len(checks) == 5
    assert await storage.lv("templates")


async def test_pending_checks_are_capped_per_user_across_connections(
        start_daemon, bus, polkit, hung_removals, system_bus):
    """Three connections of one uid, two hung checks each: four wait, two are Busy."""
    start_daemon("--polkit-timeout", "20")
    templates = await Storage(bus).lv("templates")
    calls = [calls_as(system_bus, NOBODY, [remove_call(templates)] * 2) for _ in range(3)]
    async with caller.running(asyncio.gather(*calls)) as callers:
        await wait_for_checks(polkit, 4)
        await asyncio.sleep(2)                      # every caller has called by now
        await polkit.release()
        outcomes = [o["outcome"] for each in await callers for o in each]
    assert sorted(outcomes) == sorted([BUSY] * 2 + [ERROR + "NotAuthorized"] * 4)
    assert len(await polkit.checks()) == 4

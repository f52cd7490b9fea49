# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host.Rescan (a contract addition, @since 0.2) over the bus.

The simulated array has changed since the host last looked (engine/sim/seed.py): it
mapped LUN 5 (200 GiB) on target `data` and grew LUN 2, a PV of `vmstore`, from 100
to 120 GiB. Each test gets a fresh daemon, so each starts with both changes unseen.
"""

import asyncio

import pytest
from dbus_fast import DBusError, Message, Variant

from conftest import NOBODY
from storage import ERROR, HOST, IFACE, ROOT, opts

GiB = 1024**3
LUN2 = f"{ROOT}/Lun/36001405d0e1f2a3b4c5d6e7f80910002"
LUN5 = f"{ROOT}/Lun/36001405d0e1f2a3b4c5d6e7f80910005"
ISCSI = "org.solidice.storage.iscsi"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"


@pytest.fixture
async def signals(storage, bus):
    """Every signal the daemon sends from now on."""
    received: list[Message] = []
    rule = "type='signal',sender='org.solidice.Storage'"
    await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                           interface="org.freedesktop.DBus", member="AddMatch",
                           signature="s", body=[rule]))
    bus.add_message_handler(lambda m: received.append(m)
                            if m.message_type.name == "SIGNAL" else None)
    return received


@pytest.fixture
def rescan_as_nobody(daemon, run_busctl):
    """Host.Rescan through busctl as uid 65534; (returncode, stderr)."""
    def run(*options: str):
        result = run_busctl("--", "call", "org.solidice.Storage", HOST, IFACE + "Host",
                            "Rescan", "a{sv}", str(len(options) // 3), *options,
                            user=NOBODY)
        return result.returncode, result.stderr
    return run


async def settle(received: list, quiet: float = 0.3) -> None:
    count = -1
    while count != len(received):
        count = len(received)
        await asyncio.sleep(quiet)


def pv_of(objects, lun_path):
    return objects[lun_path][IFACE + "Lun"]["PhysicalVolume"]


async def test_rescan_exports_new_luns_and_grown_sizes(storage, polkit, signals):
    before = await storage.objects()
    assert LUN5 not in before
    assert before[LUN2][IFACE + "Lun"]["Size"] == 100 * GiB
    assert await storage.host("Rescan", "a{sv}", {}) == []
    objects = await storage.objects()          # on the bus by the time of the reply
    assert objects[LUN5][IFACE + "Lun"]["Size"] == 200 * GiB
    assert objects[LUN5][IFACE + "Lun"]["Paths"] == [["sdn", "active"], ["sdo", "active"]]
    assert LUN5 in (await storage.props(HOST, "Host"))["Luns"]
    assert objects[LUN2][IFACE + "Lun"]["Size"] == 120 * GiB
    pv = pv_of(objects, LUN2)
    grown = objects[pv][IFACE + "PhysicalVolume"]["Size"]
    assert grown - before[pv][IFACE + "PhysicalVolume"]["Size"] == 20 * GiB
    vg = objects[pv][IFACE + "PhysicalVolume"]["VolumeGroup"]
    assert (objects[vg][IFACE + "VolumeGroup"]["Size"]
            - before[vg][IFACE + "VolumeGroup"]["Size"]) == 20 * GiB
    assert await polkit.checks() == []          # root: polkit is not asked

    await settle(signals)
    added = [m.body[0] for m in signals
             if m.interface == OBJECT_MANAGER and m.member == "InterfacesAdded"]
    assert added == [LUN5]
    assert {m.path for m in signals if m.interface == OBJECT_MANAGER} == {ROOT}
    sizes = [m.body[1]["Size"].value for m in signals
             if m.member == "PropertiesChanged" and m.path == LUN2]
    assert sizes == [120 * GiB]


async def test_rescan_again_sends_no_signal(storage, signals):
    await storage.host("Rescan", "a{sv}", {})
    await settle(signals)
    signals.clear()
    before = await storage.objects()
    await storage.host("Rescan", "a{sv}", opts(auth_no_user_interaction=True))
    await settle(signals)
    assert [(m.path, m.member) for m in signals] == []
    assert await storage.objects() == before


@pytest.mark.parametrize("options", [
    pytest.param(opts(force=True), id="unknown-key"),
    pytest.param(opts(timeout=Variant("u", 30)), id="timeout-is-not-an-option-here"),
    pytest.param({"auth.no_user_interaction": Variant("s", "yes")}, id="wrong-type"),
])
async def test_rescan_rejects_options(storage, options):
    with pytest.raises(DBusError) as error:
        await storage.host("Rescan", "a{sv}", options)
    assert error.value.type == ERROR + "InvalidArgument"
    assert LUN5 not in await storage.objects()


async def test_rescan_unprivileged_is_denied_and_changes_nothing(storage, polkit,
                                                                 rescan_as_nobody):
    before = await storage.objects()
    status, err = rescan_as_nobody()
    assert status != 0 and "not allowed: " + ISCSI in err
    assert await storage.objects() == before
    [(subject, action, details, flags, _)] = await polkit.checks()
    assert (subject[0], action, details, flags) == ("system-bus-name", ISCSI, {}, 1)


async def test_rescan_unprivileged_without_user_interaction(storage, polkit,
                                                            rescan_as_nobody):
    await polkit.challenge(ISCSI)
    status, err = rescan_as_nobody("auth.no_user_interaction", "b", "true")
    assert status != 0 and "needs authentication" in err
    [(_, action, _, flags, _)] = await polkit.checks()
    assert (action, flags) == (ISCSI, 0)
    assert LUN5 not in await storage.objects()


async def test_rescan_unprivileged_with_authorization(storage, polkit, rescan_as_nobody):
    await polkit.allow(ISCSI)
    status, err = rescan_as_nobody()
    assert status == 0, err
    assert LUN5 in await storage.objects()

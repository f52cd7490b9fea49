# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tier 3 fixtures: one lab host per session (see lab/host.py), faults on demand.

These tests run only inside the lab guest (`make lab`); elsewhere they refuse to
run rather than touch the machine's own storage.
"""

import os
import signal

import pytest

from lab import host as labhost
from lab.host import (DATA_TARGET, NFS_ADDRESS, SILENT_PORTAL, LabHost, iscsi_login,
                     iscsi_logout, iscsi_sessions, multipath_maps, wait_for)


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("LAB_RESULTS"):
        raise pytest.UsageError("tests/lab runs inside the lab guest: use `make lab`")


@pytest.fixture(scope="session")
def lab():
    host = LabHost().up()
    yield host
    host.down()


@pytest.fixture
def daemon(lab):
    """The running solidice-storaged; a test that kills it gets a fresh one after.
    A crash in the daemon (a method answered with its "internal error" after a
    traceback) fails the test that met it, with the traceback: the daemon's log
    of a CI run is not kept."""
    from waits import log_mark, log_since
    mark = log_mark()
    yield lab.services["solidice-storaged"]
    crashes = internal_errors(log_since(mark))
    if not lab.services["solidice-storaged"].alive():
        lab.restart_daemon()
    if crashes:
        pytest.fail("the daemon crashed in a method call:\n" + "\n\n".join(crashes),
                    pytrace=False)


def internal_errors(log: str) -> list[str]:
    """Each crash dbus/errors.py logged in `log`: its line and the traceback after."""
    lines = log.splitlines()
    crashes = []
    for number, line in enumerate(lines):
        if line.startswith("ERROR solidice_storage.dbus.errors: internal error in "):
            end = number + 1
            while end < len(lines) and not lines[end].startswith(
                    ("DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL ")):
                end += 1
            crashes.append("\n".join(lines[number:end]))
    return crashes


@pytest.fixture
async def bus(daemon):
    """A system bus connection to the daemon, recording its signals (labbus.Bus)."""
    from labbus import Bus
    connection = await Bus.connect()
    yield connection
    await connection.close()


@pytest.fixture
def kill_daemon(lab):
    """SIGKILL the daemon and start it again as the unit does; returns the new one."""
    def kill_and_restart():
        return lab.restart_daemon(signal.SIGKILL)
    return kill_and_restart


@pytest.fixture
def failed_path(lab):
    """Take one path of a data LUN away (sysfs offline); back at the end."""
    taken = []

    def take(device: str | None = None) -> str:
        if device is None:
            two_paths = [paths for paths in multipath_maps().values() if len(paths) == 2]
            device = sorted(two_paths)[0][0][0]
        with open(f"/sys/block/{device}/device/state", "w") as state:
            state.write("offline\n")
        taken.append(device)
        return device

    yield take
    for device in taken:
        with open(f"/sys/block/{device}/device/state", "w") as state:
            state.write("running\n")
    wait_for(lab.data_paths_ready, "the paths to come back", 60)


@pytest.fixture
def silence(lab):
    """Drop every packet to an address (a dead portal or NFS server); healed after."""
    def drop(address: str) -> str:
        assert address in (NFS_ADDRESS, SILENT_PORTAL), address
        lab.firewall.silence(address)
        return address
    yield drop
    for address in list(lab.firewall.silenced):
        lab.firewall.heal(address)


@pytest.fixture
def session_behind_the_back(lab):
    """Log a data session out with iscsiadm, as an administrator would; back after."""
    gone = []

    def logout(portal: str = labhost.PORTALS[1]) -> tuple[str, str]:
        iscsi_logout(DATA_TARGET, portal)
        gone.append(portal)
        return DATA_TARGET, portal

    yield logout
    for portal in gone:
        if (DATA_TARGET, portal) not in iscsi_sessions():
            iscsi_login(DATA_TARGET, portal)
    labhost.settle()
    wait_for(lab.data_paths_ready, "the data paths to come back", 120)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The client refuses arguments of the wrong type before anything is sent: the
caller's InvalidArgumentError naming the argument, never a D-Bus library's exception,
and nothing left behind (no "Future exception was never retrieved" at exit), with
the asyncio client and the blocking one."""

import asyncio
import subprocess
import sys

import pytest

from solidice_storage import client as sc
from solidice_storage.client import GiB, StorageClient

FREE_LUN = "36001405d0e1f2a3b4c5d6e7f80910003"


@pytest.fixture
async def client(daemon, system_bus):
    async with StorageClient.connect(address=system_bus) as connected:
        yield connected


def bad_calls(client, vg, lv):
    """(what the message names, the call) for each kind of wrong argument."""
    return [
        ("size", lambda: vg.create_logical_volume("x", 1.5 * GiB)),
        ("size", lambda: vg.create_logical_volume("x", -5)),
        ("size", lambda: vg.create_logical_volume("x", True)),
        ("size", lambda: vg.create_logical_volume("x", 2**64)),
        ("size", lambda: vg.create_logical_volume("x", "1G")),
        ("name", lambda: vg.create_logical_volume(5, GiB)),
        ("by", lambda: lv.extend(by=-GiB)),
        ("size", lambda: lv.snapshot("s", 0.5)),
        ("devices", lambda: client.create_volume_group("vgx", FREE_LUN)),
        ("devices", lambda: vg.extend([5])),
        ("name", lambda: client.create_volume_group(5, [FREE_LUN])),
        ("force", lambda: client.unmount("/mnt/iso", 1)),
        ("expected_size", lambda: lv.extend(by=GiB, expected_size=-1)),
        ("timeout", lambda: client.discover_iscsi_targets("192.0.2.10", timeout=2.5)),
        ("timeout", lambda: client.discover_iscsi_targets("192.0.2.10", timeout=2**32)),
        ("port", lambda: client.mount_nfs("nfs.example.com", "/export/vms", "/srv/x",
                                          port=2**16)),
        ("username", lambda: client.login_iscsi("192.0.2.10", "iqn.x", username=True)),
        ("wipe", lambda: client.create_volume_group("vgx", [FREE_LUN], wipe=1)),
        ("ref", lambda: client.volume_group(None)),
        ("call_timeout", lambda: client.host(call_timeout=-1)),
        ("pv", lambda: vg.remove_physical_volume(3)),
    ]


async def test_wrong_types_are_the_callers_invalid_argument(client):
    vg = await client.volume_group("vmstore")
    lv = await client.logical_volume("vmstore/templates")
    for words, call in bad_calls(client, vg, lv):
        with pytest.raises(sc.InvalidArgumentError, match=words):
            await call()
    assert (await client.host()).version      # the connection is still usable
    assert {v.name for v in await client.volume_groups()} == {"vmstore"}


async def test_objects_of_a_kind_that_does_not_exist_is_refused(client):
    with pytest.raises(sc.InvalidArgumentError, match="LogicalVolume.*VolumeGroup"):
        await client.objects("Bogus")
    assert len(await client.objects("VolumeGroup")) == 1


SCRIPT = """
import asyncio, sys
from solidice_storage.client import StorageClient, SyncStorageClient, InvalidArgumentError

async def main():
    async with StorageClient.connect(address=sys.argv[1]) as storage:
        vg = await storage.volume_group("vmstore")
        for size in (1.5, -5, True):
            try:
                await vg.create_logical_volume("x", size)
            except InvalidArgumentError:
                print("refused")

asyncio.run(main())
with SyncStorageClient(address=sys.argv[1]) as storage:
    vg = storage.volume_group("vmstore")
    try:
        vg.create_logical_volume("x", 2.5)
    except InvalidArgumentError:
        print("refused")
"""


async def test_nothing_is_left_unretrieved_at_exit(daemon, system_bus):
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-X", "dev", "-c", SCRIPT, system_bus],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused"] * 4
    assert "never retrieved" not in result.stderr and "Error" not in result.stderr, \
        result.stderr

# SPDX-License-Identifier: LGPL-2.1-or-later
"""One mount-point rule for both ways of unmounting: `StoragePool.Unmount(path)` and
`Mount.Unmount()` on an exported mount refuse the same mount points (/, /home, the
system's trees) before polkit is asked and before the engine moves, whichever way
the caller names the mount. Driven through the adapters' own methods over the
simulated engine, with mounts the host has (made outside the service)."""

import pytest
from dbus_fast import DBusError

from solidice_storage.dbus.base import Context
from solidice_storage.dbus.mount import MountInterface
from solidice_storage.dbus.storage_pool import StoragePoolInterface
from solidice_storage.engine.sim.engine import SimEngine
from solidice_storage.models import Mount

ERROR = "org.solidice.Storage.Error."


class Recorder:
    """polkit stand-in: allows everything (as for root) and records each check."""

    def __init__(self) -> None:
        self.checks: list[tuple[str, dict]] = []

    async def check(self, action, details, interactive) -> int:
        self.checks.append((action, details))
        return 0

    async def uid(self, sender=None) -> int:
        return 0


async def call(interface, member: str, *args):
    """The adapter's method itself: validation, polkit, engine, the error it becomes."""
    method = type(interface).__dict__[member].__dict__["__DBUS_METHOD"]
    try:
        return None, await method.fn(interface, *args)
    except DBusError as error:
        return error.type, error.text


@pytest.fixture
async def host():
    engine = SimEngine()
    await engine.start()
    yield engine
    await engine.close()


def nfs_mount(local_path: str) -> Mount:
    return Mount(server="192.0.2.20", remote_path="/export", local_path=local_path,
                 options="rw,nosuid,nodev")


@pytest.mark.parametrize("local_path", ["/home", "/", "/usr", "/etc/x", "/root",
                                        "/var", "/boot/efi"])
async def test_both_unmounts_refuse_a_system_mount_point_alike(host, local_path):
    host.store.publish([nfs_mount(local_path)])
    auth = Recorder()
    ctx = Context(host, auth)
    pool_error = await call(StoragePoolInterface(ctx), "Unmount", local_path, True, {})
    mount_error = await call(MountInterface(ctx, host.store.get(Mount, local_path)),
                             "Unmount", True, {})
    assert pool_error[0] == mount_error[0] == ERROR + "InvalidArgument", \
        (pool_error, mount_error)
    assert auth.checks == []
    assert host.store.get(Mount, local_path) is not None


async def test_both_unmounts_end_a_mount_where_the_rule_allows_it(host):
    auth = Recorder()
    ctx = Context(host, auth)
    host.store.publish([nfs_mount("/mnt/a"), nfs_mount("/mnt/b")])
    assert await call(StoragePoolInterface(ctx), "Unmount", "/mnt/a", False, {}) == \
        (None, None)
    assert await call(MountInterface(ctx, host.store.get(Mount, "/mnt/b")), "Unmount",
                      False, {}) == (None, None)
    assert host.store.get(Mount, "/mnt/a") is None
    assert host.store.get(Mount, "/mnt/b") is None
    assert [details["local-path"] for _, details in auth.checks] == ["/mnt/a", "/mnt/b"]

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where MountNfs may mount, through the bus (the simulated daemon): strictly below
the allowed roots (the defaults, and those the administrator adds in
storage.conf), never in a home or system directory, never in a directory a user
owns; nothing is mounted or created when refused."""

import pytest
from dbus_fast import DBusError

from storage import ERROR, opts

REFUSED = [
    ("/root/.ssh", "allowed"),                     # root's authorized_keys
    ("/var/spool/cron/crontabs", "allowed"),       # root's crontab
    ("/home/u/x", "allowed"),
    ("/opt/x", "allowed"),
    ("/mnt", "allowed"),                           # a root itself
    ("/var/lib/images", "allowed"),
    ("/srv/upload/x", "uid 1000"),                 # below a user's directory
    ("/srv/upload", "uid 1000"),
]


async def _mount(storage, local: str, **options):
    return await storage.pool("MountNfs", "sssa{sv}", "nfs.example.com", "/export", local,
                              opts(create_mountpoint=True, **options))


@pytest.mark.parametrize("local, words", REFUSED, ids=[local for local, _ in REFUSED])
async def test_mount_points_outside_the_allowed_roots_are_refused(storage, local, words):
    before = await storage.objects()
    with pytest.raises(DBusError) as raised:
        await _mount(storage, local)
    assert raised.value.type == ERROR + "InvalidArgument"
    assert words in raised.value.text
    assert await storage.objects() == before
    with pytest.raises(DBusError) as raised:      # and nothing to unmount there either
        await storage.pool("Unmount", "sba{sv}", local, True, {})
    assert raised.value.type in (ERROR + "InvalidArgument", ERROR + "NotFound")


async def test_mount_points_below_the_default_roots_are_accepted(storage):
    for local in ("/srv/nfs/a", "/mnt/new/deep", "/media/usb",
                  "/var/lib/solidice-storage/mnt/vms"):
        assert await _mount(storage, local) == await storage.find("Mount", LocalPath=local)
        await storage.pool("Unmount", "sba{sv}", local, False, {})


async def test_a_root_the_administrator_adds_is_accepted(start_daemon, bus, tmp_path):
    from storage import Storage
    conf = tmp_path / "storage.conf"
    conf.write_text('[mounts]\nallowed-roots = ["/rhev/data-center/mnt"]\n')
    start_daemon("--config", str(conf))
    storage = Storage(bus)
    local = "/rhev/data-center/mnt/nfs.example.com:_export"
    await _mount(storage, local)
    assert await storage.find("Mount", LocalPath=local)
    await storage.pool("Unmount", "sba{sv}", local, False, {})
    with pytest.raises(DBusError) as raised:
        await _mount(storage, "/rhev/data-center/other")
    assert raised.value.type == ERROR + "InvalidArgument"

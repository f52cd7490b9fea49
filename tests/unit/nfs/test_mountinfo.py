# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/nfs/mountinfo.py: the kernel's mount table parsed (as the lab's
captures and odd names write it) and watched."""

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from solidice_storage.engine.host.nfs.mountinfo import (MountinfoWatch, nfs_mounts,
                                                        parse_mountinfo, split_source)

DATA = Path(__file__).parent.parent / "data" / "lab"
# mount points whose names are not UTF-8 (any user can make one)
ODD_MOUNTINFO = (
    b"22 1 0:21 / / rw - ext4 /dev/vda1 rw\n"
    b"40 22 0:40 / /mnt/lab/user-\xff-mount rw,nosuid,nodev - fuse.sshfs me@h:/x rw\n"
    b"41 22 0:41 / /mnt/lab/esc-\\377 rw - fuse me@h:/y rw\n"
    b"42 22 0:42 / /mnt/lab/nfs-\xff rw,nosuid,nodev - nfs 10.0.0.9:/odd-\xfe rw,vers=3\n"
    b"43 22 0:43 / /mnt/lab/nfs-ok rw,nosuid,nodev - nfs 10.0.0.1:/export rw,vers=3\n"
    b"44 22 0:44 / /mnt/lab/caf\xc3\xa9 rw,nosuid,nodev - nfs4 10.0.0.1:/e\\040x rw\n")


def test_mountinfo_from_the_lab():
    """Captured in the lab guest with a v3 and a v4.2 mount made by the service."""
    entries = parse_mountinfo((DATA / "mountinfo-nfs.txt").read_text())
    mounts = nfs_mounts(entries)
    v3, v4 = mounts["/mnt/lab/nfs-v3"], mounts["/mnt/lab/nfs-v4"]
    assert (v3.fstype, v3.source) == ("nfs", "127.0.0.3:/srv/nfs/export")
    assert (v4.fstype, v4.source) == ("nfs4", "127.0.0.3:/export")
    for entry, extra in ((v3, {"rw", "vers=3", "timeo=50", "rsize=65536"}),
                         (v4, {"ro", "vers=4.2", "timeo=100"})):
        options = entry.options.split(",")
        assert {"nosuid", "nodev", "soft", "retrans=3", *extra} <= set(options)
        assert len(options) == len(set(options))        # rw once, not twice
        assert options[:4] == [*sorted(extra & {"rw", "ro"}), "nosuid", "nodev", "relatime"]
    assert all(e.fstype in ("nfs", "nfs4") for e in mounts.values())
    assert len(entries) > len(mounts)                   # the rest are not NFS


def test_mountinfo_escapes_and_hidden_mounts():
    text = ("30 1 0:50 / /mnt/my\\040share rw,nosuid,nodev - nfs [fd00::3]:/ex\\134port "
            "rw,vers=3,addr=fd00::3\n"
            "31 1 0:51 / /mnt/over rw - nfs4 10.0.0.1:/a rw,vers=4.2\n"
            "32 31 0:52 / /mnt/over rw - tmpfs none rw\n"
            "33 1 0:53 / /mnt/odd rw - nfs no-colon rw\n"
            "garbage\n")
    mounts = nfs_mounts(parse_mountinfo(text))
    assert list(mounts) == ["/mnt/my share"]           # /mnt/over is hidden by tmpfs
    entry = mounts["/mnt/my share"]
    assert split_source(entry.source) == ("[fd00::3]", "/ex\\port")
    assert entry.options == "rw,nosuid,nodev,vers=3,addr=fd00::3"


@pytest.mark.parametrize("source, expected", [
    ("server:/export", ("server", "/export")),
    ("10.1.2.3:/", ("10.1.2.3", "/")),
    ("[::1]:/x", ("[::1]", "/x")),
    ("server", None), (":/x", None), ("[::1]/x", None)])
def test_split_source(source, expected):
    assert split_source(source) == expected


# ---- the mount table's watch (a real tmpfs mount: the tests run as root) ----

async def test_the_watch_sees_a_mount_and_does_not_spin(tmp_path):
    assert os.geteuid() == 0, "this test mounts a tmpfs: run the unit tests as root"
    calls = []

    async def changed():
        calls.append(asyncio.get_running_loop().time())
    watch = MountinfoWatch(changed, delay=0.05)
    watch.start()
    try:
        await asyncio.sleep(0.3)
        assert calls == []                          # idle: nothing, no busy loop
        target = tmp_path / "mnt"
        target.mkdir()
        await asyncio.to_thread(subprocess.run, ["mount", "-t", "tmpfs", "solidice-test",
                                                 str(target)], check=True)
        try:
            for _ in range(100):
                if calls:
                    break
                await asyncio.sleep(0.05)
            assert len(calls) == 1
        finally:
            await asyncio.to_thread(subprocess.run, ["umount", str(target)], check=True)
        for _ in range(100):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert len(calls) == 2
    finally:
        watch.close()


def test_a_table_with_non_utf8_paths_is_read_and_only_those_are_left_out(tmp_path):
    from solidice_storage.engine.host.nfs import mountinfo
    table = tmp_path / "mountinfo"
    table.write_bytes(ODD_MOUNTINFO)
    entries = mountinfo.read_mountinfo(str(table))
    assert len(entries) == 6                       # every line read, none fatal
    paths = [entry.local_path for entry in entries]
    assert os.fsencode(paths[1]) == b"/mnt/lab/user-\xff-mount"
    assert os.fsencode(paths[2]) == b"/mnt/lab/esc-\xff"   # the byte, not U+00FF
    mounts = nfs_mounts(entries)
    assert list(mounts) == ["/mnt/lab/nfs-ok", "/mnt/lab/café"]
    assert mounts["/mnt/lab/café"].source == "10.0.0.1:/e x"
    for entry in mounts.values():                  # what reaches D-Bus is UTF-8
        entry.local_path.encode()
        entry.source.encode()
        entry.options.encode()


def test_the_root_filesystems_vgs_are_found_beside_a_non_utf8_mount(tmp_path):
    """blockdev.vgs_under (RemoveVolumeGroup's check) reads the same table."""
    from solidice_storage.engine.host.luns import blockdev
    table = tmp_path / "mountinfo"
    table.write_bytes(ODD_MOUNTINFO)
    assert blockdev.vgs_under("/", str(table), str(tmp_path / "sys")) == set()


def test_each_mount_names_its_device_numbers():
    from solidice_storage.engine.host.nfs.mountinfo import parse_mountinfo
    line = (b"36 25 8:17 / /srv/a\\040b rw,relatime shared:1 - ext4 /dev/sdb1 rw\n"
            b"40 25 0:52 / /mnt/\xff rw - tmpfs tmpfs rw\n")
    assert [entry.device for entry in parse_mountinfo(line)] == ["8:17", "0:52"]

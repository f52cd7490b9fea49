# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/nfs/commands.py: the argument lists of mount and umount, and
mount.nfs's answers as the contract's errors."""

import pytest

from solidice_storage.engine.host.nfs import commands
from solidice_storage.engine.host.runner import Runner
from solidice_storage.errors import Busy, Failed, NotFound, NotSupported, Timeout


def fake(tmp_path, script: str) -> Runner:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    return Runner({"mount": str(tool), "umount": str(tool)})


async def test_mount_names_the_source_and_path_after_a_double_dash(tmp_path):
    runner = fake(tmp_path, "exit 0\n")
    await commands.mount(runner, "10.0.0.1:/x", "/mnt/a", "nosuid,nodev", timeout=5)
    assert [argv[1:] for argv in runner.history] == [
        ("-t", "nfs", "-o", "nosuid,nodev", "--", "10.0.0.1:/x", "/mnt/a")]


@pytest.mark.parametrize("force, argv", [
    (False, ("-i", "-c", "--", "/mnt/a")),
    (True, ("-i", "-c", "-f", "-l", "--", "/mnt/a"))])
async def test_umount_never_canonicalizes_nor_asks_the_helper(tmp_path, force, argv):
    runner = fake(tmp_path, "exit 0\n")
    await commands.umount(runner, "/mnt/a", force)
    assert [run[1:] for run in runner.history] == [argv]


@pytest.mark.parametrize("line, error", [
    ("mount.nfs: access denied by server while mounting 10.0.0.1:/x", NotFound),
    ("mount.nfs: requested NFS version or transport protocol is not supported",
     NotSupported),
    ("mount.nfs: /mnt/a is busy or already mounted", Busy),
    ("mount.nfs: Connection timed out", Timeout),
    ("mount.nfs: something else", Failed)])
async def test_mount_errors_become_the_contracts(tmp_path, line, error):
    runner = fake(tmp_path, f"echo '{line}' >&2\nexit 32\n")
    with pytest.raises(error):
        await commands.mount(runner, "10.0.0.1:/x", "/mnt/a", "nosuid", timeout=5)


@pytest.mark.parametrize("line, error", [
    ("umount: /mnt/a: target is busy.", Busy), ("umount: /mnt/a: no reason", Failed)])
async def test_umount_errors_become_the_contracts(tmp_path, line, error):
    runner = fake(tmp_path, f"echo '{line}' >&2\nexit 32\n")
    with pytest.raises(error):
        await commands.umount(runner, "/mnt/a", force=False)


async def test_an_unmount_of_what_is_gone_is_success(tmp_path):
    await commands.umount(fake(tmp_path, "echo 'umount: /mnt/a: not mounted.' >&2\nexit 32\n"),
                          "/mnt/a", force=False)


async def test_a_missing_mount_helper_is_not_supported(tmp_path):
    with pytest.raises(NotSupported, match="nfs-common"):
        await commands.check_helper(str(tmp_path / "mount.nfs"))

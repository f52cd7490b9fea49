# SPDX-License-Identifier: LGPL-2.1-or-later
"""probe.py: what a host offers the domains, read from its files; and the host
engine's answers when a piece is missing (NotSupported before any tool runs)."""

import logging
from pathlib import Path

import pytest

from solidice_storage.engine.host import probe
from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.host.runner import Runner
from solidice_storage.errors import NotSupported
from solidice_storage.options import (CreateVolumeGroupOptions, DiscoveryOptions,
                                      LoginOptions, MountNfsOptions, Options)

RELEASE = "6.1.0-test"


def host(tmp: Path, misc: str = "", filesystems: str = "", unix: str = "",
         dep: str = "", builtin: str = "", sys_dirs=(), run_files=()) -> probe.HostFiles:
    """A host's files as `probe` reads them, in `tmp`."""
    files = probe.HostFiles(proc=tmp / "proc", sys=tmp / "sys", run=tmp / "run",
                            modules=tmp / "lib/modules" / RELEASE)
    for directory in (files.proc / "net", files.sys, files.run, files.modules):
        directory.mkdir(parents=True)
    (files.proc / "misc").write_text(misc)
    (files.proc / "filesystems").write_text(filesystems)
    (files.proc / "net/unix").write_text(
        "Num       RefCount Protocol Flags    Type St Inode Path\n" + unix)
    (files.modules / "modules.dep").write_text(dep)
    (files.modules / "modules.builtin").write_text(builtin)
    for name in sys_dirs:
        (files.sys / name).mkdir(parents=True)
    for name in run_files:
        (files.run / name).parent.mkdir(parents=True, exist_ok=True)
        (files.run / name).write_text("")
    return files


ISCSID = "0000000000000000: 00000002 00000000 00010000 0001 01 21977 @ISCSIADM_ABSTRACT_NAMESPACE\n"
LOADED = dict(misc=" 236 device-mapper\n 229 fuse\n", filesystems="nodev\tnfs\nnodev\tnfs4\n",
              unix=ISCSID, sys_dirs=["module/iscsi_tcp"], run_files=["udev/control"])


def test_a_host_with_everything_loaded_lacks_nothing(tmp_path):
    support = probe.probe(host(tmp_path, **LOADED))
    assert support.missing == {} and support.log_lines() == []
    for domain in probe.DOMAIN_NEEDS:
        support.require(domain)


def test_modules_that_can_be_loaded_count(tmp_path):
    """Not loaded yet, but the running kernel has them as modules (compressed or
    not, `-` or `_`) or built in: the tools load them when they need them."""
    files = host(tmp_path, unix=ISCSID, run_files=["udev/control"],
                 dep="kernel/drivers/md/dm-mod.ko.xz:\n"
                     "kernel/drivers/scsi/iscsi_tcp.ko: kernel/drivers/scsi/libiscsi.ko\n",
                 builtin="kernel/fs/nfs/nfs.ko\n")
    assert probe.probe(files).missing == {}


def test_device_mapper_in_sysfs_only_counts(tmp_path):
    files = host(tmp_path, **{**LOADED, "misc": "",
                              "sys_dirs": ["module/iscsi_tcp", "class/misc/device-mapper"]})
    assert probe.probe(files).missing == {}


def test_a_bare_host_lacks_every_piece_and_says_why(tmp_path):
    files = host(tmp_path, misc=" 229 fuse\n", filesystems="nodev\tproc\n\text4\n",
                 dep="kernel/fs/nfsd/nfsd.ko:\nkernel/drivers/md/dm-crypt.ko:\n")
    support = probe.probe(files)
    assert list(support.missing) == ["device-mapper", "udevd", "iscsi_tcp", "iscsid", "nfs"]
    lines = support.log_lines()
    assert len(lines) == 5 and all(line.startswith("not on this host: ") for line in lines)
    assert "LVM and multipath calls answer NotSupported" in lines[0]
    assert f"{files.run}/udev/control" in lines[1]
    assert "MountNfs answers NotSupported" in lines[4]
    with pytest.raises(NotSupported, match="LVM needs device-mapper") as raised:
        support.require("LVM")
    assert f"{files.proc}/misc" in str(raised.value)
    with pytest.raises(NotSupported, match="iSCSI needs the iscsi_tcp module, .* and "
                                           "iscsid, which this host lacks"):
        support.require("iSCSI")
    with pytest.raises(NotSupported, match="NFS needs the nfs filesystem"):
        support.require("NFS")


def test_unreadable_files_mean_missing_never_an_error(tmp_path):
    files = probe.HostFiles(proc=tmp_path / "none", sys=tmp_path / "none",
                            run=tmp_path / "none", modules=tmp_path / "none")
    assert len(probe.probe(files).missing) == 5


BARE = probe.Support({"device-mapper": "not here", "iscsi_tcp": "not here",
                      "iscsid": "not here", "nfs": "not here", "udevd": "not here"})


@pytest.fixture
async def bare_engine(tmp_path):
    """The real engine over a host that lacks every piece; no tool is installed,
    so a call that got past its check would fail otherwise."""
    engine = HostEngine(Runner({}), sysfs=tmp_path / "sys", state_dir=tmp_path / "state",
                        iscsi_dir=tmp_path / "iscsi", read=lambda sysfs: ([], [], {}),
                        probe_host=lambda: BARE)
    engine.support = BARE                   # as start() finds it
    yield engine
    await engine.close()


@pytest.mark.parametrize("call,domain", [
    (lambda e: e.create_volume_group("vg", ["/dev/sda"], CreateVolumeGroupOptions()),
     "LVM needs device-mapper"),
    (lambda e: e.remove_logical_volume("vg/lv", Options()), "LVM needs device-mapper"),
    (lambda e: e.activate_logical_volume("vg/lv", Options()), "LVM needs device-mapper"),
    (lambda e: e.discover_iscsi_targets("192.0.2.1:3260", DiscoveryOptions()),
     "iSCSI needs the iscsi_tcp module"),
    (lambda e: e.login_iscsi("192.0.2.1:3260", "iqn.2026-01.org.example:t",
                             LoginOptions(), 0), "iSCSI needs the iscsi_tcp module"),
    (lambda e: e.mount_nfs("192.0.2.1", "/export", "/mnt/x", MountNfsOptions(), 0),
     "NFS needs the nfs filesystem"),
], ids=["create-vg", "remove-lv", "activate-lv", "discover", "login", "mount"])
async def test_what_cannot_work_here_is_not_supported(bare_engine, call, domain):
    with pytest.raises(NotSupported, match=domain):
        await call(bare_engine)
    assert list(bare_engine.runner.history) == []    # nothing was run


async def test_a_piece_that_came_since_start_is_asked_again(tmp_path):
    """iscsid started after the daemon: the call is not refused on the old answer."""
    answers = [BARE, probe.Support()]
    engine = HostEngine(Runner({}), sysfs=tmp_path / "sys", state_dir=tmp_path / "state",
                        read=lambda sysfs: ([], [], {}), probe_host=lambda: answers.pop(0))
    engine.support = engine._probe()
    await engine._require("iSCSI")                  # asked again: now it is there
    assert engine.support.missing == {}


async def test_start_logs_one_line_per_missing_piece(tmp_path, caplog):
    engine = HostEngine(Runner({}), sysfs=tmp_path / "sys", state_dir=tmp_path / "state",
                        iscsi_dir=tmp_path / "iscsi", read=lambda sysfs: ([], [], {}),
                        probe_host=lambda: BARE)
    engine._watch.start = lambda: None              # no udev monitor in a unit test
    with caplog.at_level(logging.INFO, logger="solidice_storage"):
        await engine.start()
    await engine.close()
    missing = [r.message for r in caplog.records if r.message.startswith("not on this host")]
    assert len(missing) == 5
    assert "without device-mapper, iscsi_tcp, iscsid, nfs, udevd" in engine.description
    assert engine.description.startswith("this host (solidice-storage ")
    assert "LVM" not in engine.description.split(";")[1]

# SPDX-License-Identifier: LGPL-2.1-or-later
"""GetBlockInfo on the real host engine (engine/host/luns/block_info.py) over a host described by
fakes of udev's data: a /dev name is resolved from what udev recorded (kernel names,
nodes, DEVLINKS), never by asking the filesystem, so no caller can point the daemon
at a dead NFS or FUSE mount and leave a thread stuck there. The same resolution on
real devices is proven in tests/lab/test_host_luns.py."""

import os
from pathlib import Path
import threading

import pytest

from solidice_storage.engine.host.luns import blockdev
from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.host.runner import Runner
from solidice_storage.engine.sim.engine import SimEngine
from solidice_storage.errors import InvalidArgument, NotFound

WWID = "36001405aaaaaaaaaaaaaaaaaaaaaaaaa"
LOCAL = "pci-0000:00:04.0"
LV_UUID = "Fwx8ij-Jkde-xft9-I7a2-I40o-4zPu-V5ViaD"
MAP_LINKS = [f"/dev/disk/by-id/dm-uuid-mpath-{WWID}", f"/dev/disk/by-id/dm-name-{WWID}",
             f"/dev/disk/by-id/wwn-0x{WWID[1:]}"]
LV_LINKS = ["/dev/vmstore/templates", f"/dev/disk/by-id/dm-uuid-LVM-{LV_UUID}",
            "/dev/disk/by-id/dm-name-vmstore-templates"]


def host_disks() -> list[blockdev.Disk]:
    return [
        blockdev.Disk(name="dm-0", node=f"/dev/mapper/{WWID}", size=64 << 20, wwid=WWID,
                      multipath=True, slaves=["sda", "sdb"], links=MAP_LINKS),
        blockdev.Disk(name="sda", node="/dev/sda", size=64 << 20, wwid=WWID,
                      path_of=WWID, status="other",
                      links=["/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-x-lun-1"]),
        blockdev.Disk(name="sdb", node="/dev/sdb", size=64 << 20, wwid=WWID,
                      path_of=WWID, status="other"),
        blockdev.Disk(name="vda", node="/dev/vda", size=40 << 30, wwid=LOCAL,
                      status="partitioned", links=[f"/dev/disk/by-path/{LOCAL}"]),
    ]


def host_volumes() -> list[blockdev.Volume]:
    return [blockdev.Volume(name="dm-1", node="/dev/mapper/vmstore-templates",
                            size=8 << 30, kind="lvm", uuid=LV_UUID,
                            label="vmstore/templates", links=LV_LINKS)]


class FilesystemWatch:
    """Stands in for every call that looks a path up on the filesystem: records
    it and hangs, as a lookup into a dead hard NFS mount or a FUSE mount whose
    server never answers would (until the test releases it)."""

    CALLS = ("realpath", "abspath", "exists", "lexists", "isdir", "isfile", "islink")
    OS_CALLS = ("stat", "lstat", "readlink", "open", "listdir", "scandir", "access")
    #: where a caller's path could lead (the daemon's own files are elsewhere)
    WATCHED = ("/dev", "/mnt", "/proc", "/etc", "/sys", "/run")

    def __init__(self, monkeypatch) -> None:
        self.looked_up: list[str] = []
        self.release = threading.Event()
        for module, names in ((os.path, self.CALLS), (os, self.OS_CALLS)):
            for name in names:
                monkeypatch.setattr(module, name, self._hang(name, getattr(module, name)))

    def _hang(self, name, real):

        def call(path, *args, **kwargs):
            if not str(os.fspath(path) if isinstance(path, os.PathLike) else path
                       ).startswith(self.WATCHED):
                return real(path, *args, **kwargs)      # pytest's own, the venv's
            self.looked_up.append(f"{name}({path})")
            self.release.wait(2)
            raise OSError(f"{name}({path}) hung")
        return call


@pytest.fixture
async def engine(tmp_path, monkeypatch):
    """The host engine after one scan of the described host; no tool installed."""
    monkeypatch.setattr(blockdev, "volumes", lambda context=None: host_volumes())
    engine = HostEngine(Runner(tools={}), sysfs=tmp_path / "sys",
                        state_dir=tmp_path / "state",
                        read=lambda sysfs: (host_disks(), [], {}))
    await engine.scan()
    yield engine
    await engine.close()


@pytest.fixture
def filesystem(engine, monkeypatch):
    watch = FilesystemWatch(monkeypatch)
    yield watch
    watch.release.set()


@pytest.mark.parametrize("ref", [
    pytest.param("/dev/../proc/1/mem", id="dotdot-to-proc"),
    pytest.param("/dev/../mnt/fuse/x", id="dotdot-into-a-fuse-mount"),
    pytest.param("/dev/disk/by-id/../../../mnt/nfs/x", id="deep-dotdot-into-nfs"),
    pytest.param("/dev/./mapper/x", id="dot-component"),
    pytest.param("/dev//sda", id="double-slash"),
    pytest.param("/mnt/fuse/x", id="a-fuse-mount"),
    pytest.param("/etc/passwd", id="outside-dev"),
])
async def test_block_info_refuses_paths_outside_dev_without_looking_them_up(
        engine, filesystem, ref):
    with pytest.raises(InvalidArgument, match="under /dev"):
        await engine.get_block_info(ref)
    assert filesystem.looked_up == []


@pytest.mark.parametrize("ref,path,kind", [
    pytest.param(f"/dev/mapper/{WWID}", f"/dev/mapper/{WWID}", "multipath", id="map-node"),
    pytest.param("/dev/dm-0", f"/dev/mapper/{WWID}", "multipath", id="map-kernel-node"),
    pytest.param(f"/dev/disk/by-id/wwn-0x{WWID[1:]}", f"/dev/mapper/{WWID}", "multipath",
                 id="map-by-id-link"),
    pytest.param("/dev/sda", "/dev/sda", "disk", id="path-node"),
    pytest.param("/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-x-lun-1", "/dev/sda", "disk",
                 id="path-by-path-link"),
    pytest.param(f"/dev/disk/by-path/{LOCAL}", "/dev/vda", "disk", id="local-link"),
    pytest.param("/dev/vmstore/templates", "/dev/mapper/vmstore-templates", "lvm",
                 id="vg-lv-node"),
    pytest.param("/dev/mapper/vmstore-templates", "/dev/mapper/vmstore-templates", "lvm",
                 id="lv-map-node"),
    pytest.param("/dev/disk/by-id/dm-name-vmstore-templates",
                 "/dev/mapper/vmstore-templates", "lvm", id="lv-by-id-link"),
])
async def test_block_info_resolves_dev_names_from_udev_data_alone(
        engine, filesystem, ref, path, kind):
    info = await engine.get_block_info(ref)
    assert (info.path, info.type) == (path, kind)
    assert filesystem.looked_up == []


@pytest.mark.parametrize("ref", ["/dev/stdin", "/dev/fd/0", "/dev/sdz",
                                 "/dev/disk/by-id/wwn-0x6001405ffff"])
async def test_block_info_of_a_dev_name_udev_does_not_know_is_not_found(
        engine, filesystem, ref):
    with pytest.raises(NotFound):
        await engine.get_block_info(ref)
    assert filesystem.looked_up == []


async def test_devices_for_lvm_are_resolved_from_udev_data_alone(engine, filesystem):
    """What CreateVolumeGroup and Extend resolve before asking polkit."""
    [lun] = engine.reads.resolve_devices([f"/dev/disk/by-id/dm-uuid-mpath-{WWID}"])
    assert (lun.wwid, lun.device) == (WWID, f"/dev/mapper/{WWID}")
    with pytest.raises(InvalidArgument, match="use the map"):
        engine.reads.resolve_devices(["/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-x-lun-1"])
    with pytest.raises(InvalidArgument, match="under /dev"):
        engine.reads.resolve_devices(["/dev/../mnt/fuse/x"])
    with pytest.raises(InvalidArgument, match="same LUN twice"):
        engine.reads.resolve_devices([f"/dev/mapper/{WWID}", "/dev/dm-0"])
    assert filesystem.looked_up == []


@pytest.mark.parametrize("ref", ["/etc/passwd", "/dev/../etc/passwd", "/dev//sda"])
async def test_the_simulated_host_refuses_the_same_paths(ref):
    engine = SimEngine()
    await engine.start()
    with pytest.raises(InvalidArgument, match="under /dev"):
        await engine.get_block_info(ref)
    await engine.close()


class CapturedDevice:
    """A pyudev device as udev recorded the lab's multipath map (its properties
    captured with udevadm info), over a sysfs directory of the test's own."""

    sys_name, device_type = "dm-0", "disk"

    def __init__(self, sys_path, properties) -> None:
        self.sys_path, self.properties = str(sys_path), properties


def test_a_map_keeps_the_links_udev_made_for_it(tmp_path):
    text = (Path(__file__).parent.parent / "data/lab/udevadm-info-map.txt").read_text()
    text = text.split("# stdout:\n", 1)[1].split("# stderr:", 1)[0]
    properties = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    (tmp_path / "dm").mkdir()
    (tmp_path / "dm/name").write_text("360014050b2ad49498d048429d4213f47\n")
    disk = blockdev.describe(CapturedDevice(tmp_path, properties))
    assert "/dev/disk/by-id/dm-uuid-mpath-360014050b2ad49498d048429d4213f47" in disk.links
    assert "/dev/disk/by-id/wwn-0x60014050b2ad49498d048429d4213f47" in disk.links

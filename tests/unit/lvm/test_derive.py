# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/derive.py: an LV's map as the kernel has it."""

import os

from solidice_storage.engine.host.lvm.derive import Map, dm_name, read_map


def test_read_map_reads_the_kernels_map(tmp_path):
    assert dm_name("my-vg", "a-b") == "my--vg-a--b"
    dev, sysfs = tmp_path / "mapper", tmp_path / "sys"
    dev.mkdir()
    os.mknod(dev / "my--vg-a--b", 0o600 | 0o060000, os.makedev(253, 7))   # S_IFBLK
    block = sysfs / "dev/block/253:7"
    (block / "dm").mkdir(parents=True)
    (block / "dm/name").write_text("my--vg-a--b\n")
    (block / "dm/uuid").write_text("LVM-" + "v" * 32 + "l" * 32 + "\n")
    (block / "size").write_text("8192\n")
    for slave, number in (("dm-3", "253:3"), ("sdb", "8:16")):
        (block / "slaves" / slave).mkdir(parents=True)
        (block / "slaves" / slave / "dev").write_text(number + "\n")
    assert read_map("my-vg", "a-b", str(dev), str(sysfs)) == Map(
        "LVM-" + "v" * 32 + "l" * 32, 8192 * 512, ("253:3", "8:16"))
    assert read_map("my-vg", "other", str(dev), str(sysfs)) is None
    (block / "dm/name").write_text("someone-else\n")     # the node is another map's
    assert read_map("my-vg", "a-b", str(dev), str(sysfs)) is None

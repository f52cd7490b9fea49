# SPDX-License-Identifier: LGPL-2.1-or-later
"""Intent records (engine/intents.py): written, read back, crash points; the LVM
engine's recovery from them is in tests/unit/lvm/test_recovery.py."""

import os
import subprocess
import sys

from solidice_storage.engine.intents import Intents


async def test_a_record_lives_from_begin_to_end(tmp_path):
    intents = Intents(tmp_path)
    intent = await intents.begin("create-vg", name="vg", labelled=["/dev/a"])
    await intents.step(intent, "pvcreate-done")
    (pending,) = await Intents(tmp_path).pending()          # as a new daemon sees it
    assert (pending.kind, pending.step, pending.data) == (
        "create-vg", "pvcreate-done", {"name": "vg", "labelled": ["/dev/a"]})
    assert oct(os.stat(pending.path).st_mode & 0o777) == "0o600"
    await intents.end(intent)
    assert await Intents(tmp_path).pending() == []


async def test_records_come_back_oldest_first_and_a_broken_one_stays(tmp_path):
    intents = Intents(tmp_path)
    first = await intents.begin("remove-vg", name="a", devices=[])
    second = await intents.begin("remove-vg", name="b", devices=[])
    broken = intents.directory / "999-1-1.json"
    broken.write_text("{not json")
    (intents.directory / "5-1-1.tmp").write_text("{}")      # a write cut short
    assert [i.id for i in await intents.pending()] == [first.id, second.id]
    assert broken.exists() and not (intents.directory / "5-1-1.tmp").exists()


def test_a_crash_point_kills_only_when_asked():
    code = ("from solidice_storage.engine.intents import crash_point\n"
            "crash_point('create-vg:pvcreate-done')\nprint('alive')")
    env = dict(os.environ)
    env.pop("SOLIDICE_CRASH_AT", None)
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True).stdout == "alive\n"
    env["SOLIDICE_CRASH_AT"] = "create-vg:vgcreate-done"
    assert subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True).returncode == 0
    env["SOLIDICE_CRASH_AT"] = "create-vg:pvcreate-done"
    assert subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True).returncode == -9


def test_the_vgs_under_root_through_a_luks_device(tmp_path):
    """/ on dm-2 (crypt) on dm-1 (an LV of VG aaaa…), as sysfs and mountinfo show it."""
    from solidice_storage.engine.host.luns.blockdev import vgs_under
    sys_block = tmp_path / "sys/devices/virtual/block"
    vg, lv = "a" * 32, "b" * 32
    for name, uuid, slaves in (("dm-2", "CRYPT-LUKS2-x", ["dm-1"]),
                               ("dm-1", f"LVM-{vg}{lv}", ["sda"]), ("sda", None, [])):
        (sys_block / name / "slaves").mkdir(parents=True)
        if uuid:
            (sys_block / name / "dm").mkdir()
            (sys_block / name / "dm/uuid").write_text(uuid + "\n")
        for slave in slaves:
            (sys_block / name / "slaves" / slave).symlink_to(sys_block / slave)
    (tmp_path / "sys/dev/block").mkdir(parents=True)
    (tmp_path / "sys/dev/block/254:2").symlink_to(sys_block / "dm-2")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("20 1 0:5 / / rw - tmpfs none rw\n"
                         "21 1 254:2 / / rw,relatime - ext4 /dev/mapper/root rw\n"
                         "22 21 254:3 / /home rw - ext4 /dev/x rw\n")
    assert vgs_under("/", str(mountinfo), str(tmp_path / "sys")) == {vg}
    assert vgs_under("/home", str(mountinfo), str(tmp_path / "sys")) == set()

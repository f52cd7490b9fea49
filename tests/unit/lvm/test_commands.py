# SPDX-License-Identifier: LGPL-2.1-or-later
"""host/lvm/commands.py: LVM's command lines (our config, the VG's devices), its
errors as the contract's, its hints and devices files; on LVM's real output."""

import pytest

from solidice_storage.engine.host.lvm.commands import CONFIG, LvmCommands, error_for
from solidice_storage.engine.host.runner import Runner
from solidice_storage.errors import AlreadyExists, Busy, Failed, NoSpace, NotFound

from .fakes import captured, script


@pytest.mark.parametrize("name, kind, words", [
    ("lvm-vgcreate-exists.txt", AlreadyExists, "labcap already exists"),
    ("lvm-lvcreate-exists.txt", AlreadyExists, '"lv1" already exists'),
    ("lvm-lvcreate-nospace.txt", NoSpace, "insufficient free space"),
    ("lvm-vgs-missing.txt", NotFound, '"nosuchvg" not found'),
    ("lvm-lvs-missing.txt", NotFound, "Failed to find logical volume"),
    ("lvm-lvremove-open.txt", Busy, "labcap/lv1 in use"),
])
def test_lvm_errors_become_the_contracts(name, kind, words):
    error = error_for(captured(name), "do it")
    assert type(error) is kind and words in str(error) and str(error).startswith("cannot do it")


def test_a_refused_prompt_is_a_plain_failure():
    error = error_for(captured("lvm-lvremove-origin-with-snap.txt"), "remove labcap/lv1")
    assert type(error) is Failed and "not removed" in str(error)


async def test_every_command_carries_the_config_and_its_devices(tmp_path):
    lvm = LvmCommands(Runner({"lvm": script(tmp_path / "lvm",
                                            '#!/bin/sh\nprintf "%s\\n" "$@"\n')}))
    result = await lvm.run("lvcreate", "-n", "x", "--", "vg", devices=["/dev/a", "/dev/b"])
    assert result.stdout.splitlines() == ["lvcreate", "--config", CONFIG, "--devices",
                                          "/dev/a,/dev/b", "-n", "x", "--", "vg"]


@pytest.fixture
def hints_file(tmp_path):
    """LVM's hints file, in a temporary directory: never this machine's."""
    path = tmp_path / "hints"
    path.write_text("# hints\n")
    return path


@pytest.fixture
def devices_dir(tmp_path):
    """LVM's devices file directory, in a temporary directory: never this machine's."""
    path = tmp_path / "devices"
    path.mkdir()
    return path


def _script_lvm(tmp_path, body: str) -> LvmCommands:
    return LvmCommands(Runner({"lvm": script(tmp_path / "lvm", "#!/bin/bash\n" + body)}),
                       hints_file=str(tmp_path / "hints"),
                       devices_dir=str(tmp_path / "devices"))


async def test_a_change_to_which_devices_are_pvs_drops_lvms_hints(tmp_path, hints_file):
    lvm = _script_lvm(tmp_path, "exit 0\n")
    await lvm.lvcreate("vg", "x", 1, True, [])
    assert hints_file.exists()                  # LV changes leave the PV hints alone
    await lvm.pvcreate(["/dev/a"], wipe=False)
    assert not hints_file.exists()              # the next `pvs` rescans
    await lvm.pvcreate(["/dev/a"], wipe=False)


async def test_a_failed_change_drops_the_hints_too(tmp_path, hints_file):
    lvm = _script_lvm(tmp_path, 'echo "  Device /dev/a is in use." >&2; exit 5\n')
    with pytest.raises(Busy):
        await lvm.vgextend("vg", ["/dev/a"], ["/dev/a"])
    assert not hints_file.exists()


@pytest.mark.parametrize("answer, enabled", [("use_devicesfile=1", True),
                                             ("use_devicesfile=0", False),
                                             ("", False)])
async def test_the_devices_file_is_used_when_lvm_is_set_to(tmp_path, devices_dir, answer,
                                                          enabled):
    (devices_dir / "system.devices").write_text("VERSION=1.1.1\n")
    lvm = _script_lvm(tmp_path, f'echo "$*" >> {tmp_path}/log\n'
                      f'[ "$1" = lvmconfig ] && echo "{answer}"\nexit 0\n')
    await lvm.probe()
    assert lvm.devices_file is enabled
    await lvm.add_devices(["/dev/mapper/a"])
    await lvm.remove_devices(["/dev/mapper/b"])
    added = [line for line in (tmp_path / "log").read_text().splitlines()
             if line.startswith("lvmdevices")]
    assert added == ([f"lvmdevices --config {CONFIG} --adddev /dev/mapper/a",
                      f"lvmdevices --config {CONFIG} --deldev /dev/mapper/b"]
                     if enabled else [])


# `lvmconfig --typeconfig full devices/use_devicesfile devices/devicesfile`, as
# Debian 12's lvm2 2.03.16 prints it with use_devicesfile = 1 in lvmlocal.conf
SET_TO_USE_ONE = 'use_devicesfile=1\ndevicesfile="%s"'


@pytest.mark.parametrize("name", ["system.devices", "lab.devices"])
async def test_no_devices_file_is_made_where_lvm_has_none(tmp_path, devices_dir, name):
    """use_devicesfile=1 but no file: LVM uses every device, and `lvmdevices
    --adddev` would create a file listing only ours (seen in the lab), hiding every
    other PV from LVM. Nothing is added until the file exists; then it is."""
    lvm = _script_lvm(tmp_path, f'echo "$*" >> {tmp_path}/log\n'
                      f"[ \"$1\" = lvmconfig ] && echo '{SET_TO_USE_ONE % name}'\nexit 0\n")
    await lvm.probe()
    assert lvm.devices_file and lvm.devices_file_path == str(devices_dir / name)
    await lvm.add_devices(["/dev/mapper/a"])
    await lvm.remove_devices(["/dev/mapper/a"])
    assert [line for line in (tmp_path / "log").read_text().splitlines()
            if line.startswith("lvmdevices")] == []
    (devices_dir / name).write_text("VERSION=1.1.1\n")       # an administrator made one
    await lvm.add_devices(["/dev/mapper/a"])
    assert (tmp_path / "log").read_text().splitlines()[-1] == \
        f"lvmdevices --config {CONFIG} --adddev /dev/mapper/a"


async def test_a_device_already_in_the_devices_file_is_fine(tmp_path, devices_dir):
    (devices_dir / "system.devices").write_text("VERSION=1.1.1\n")
    lvm = _script_lvm(tmp_path, '[ "$1" = lvmconfig ] && echo use_devicesfile=1 && exit 0\n'
                      'echo "  Device /dev/a already in devices file." >&2; exit 5\n')
    await lvm.probe()
    await lvm.add_devices(["/dev/a"])

# SPDX-License-Identifier: LGPL-2.1-or-later
"""solidice-storagectl's rough edges, against the daemon: what a new user typed and
what the command said back (issue 18, point 11), and every method of the contract
reached from the command line."""

import asyncio
import json
import os
import pty
import re
import shutil
import subprocess

import pytest

from storage import IFACE
from test_storagectl import COMMAND, FREE, SIM, as_json, ctl, run  # noqa: F401 (fixture)

EXPECTED_NEW_LUN = "36001405d0e1f2a3b4c5d6e7f80910005"     # the sim's unscanned LUN


async def test_version_and_global_options_after_the_command(run):
    version = await run("--version")
    assert re.fullmatch(r"solidice-storagectl \d+\.\d+\.\d+\n", version.stdout)
    after = json.loads((await run("lv", "list", "vmstore", "--json")).stdout)
    before = await as_json(run, "lv", "list", "vmstore")
    assert after == before and {lv["name"] for lv in after} >= {"templates"}
    shown = json.loads((await run("status", "--json", "--timeout", "20")).stdout)
    assert shown["multipath"] is True


async def test_bad_values_are_usage_errors_in_their_own_words(run):
    for args, words in (
            (("lv", "create", "vmstore", "x", "-5G"), "'-5G' is negative"),
            (("lv", "extend", "vmstore/templates", "-1G"), "'-1G' is negative"),
            (("job", "cancel", "abc"), "'abc' is not a job number"),
            (("--timeout", "0", "status"), "'0' is not a number of seconds above 0"),
            (("status", "--timeout", "-1"), "'-1' is not a number of seconds above 0"),
            (("iscsi", "discover", "192.0.2.10", "--timeout", "0"),
             "'0' is not a whole number of seconds"),
            (("nfs", "mount", "s:/e", "/srv/x", "--timeo", "-5"), "0 or more")):
        result = await run(*args, code=2)
        assert words in result.stderr, (args, result.stderr)
        assert "required" not in result.stderr


def test_session_without_a_session_bus_is_exit_3_and_a_sentence(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY")}
    result = subprocess.run([*COMMAND, "--session", "status"], capture_output=True,
                            text=True, timeout=30, env={**env, "XDG_RUNTIME_DIR":
                                                        str(tmp_path)})
    assert result.returncode == 3, result.stderr
    assert "no session bus here" in result.stderr and "dbus-run-session" in result.stderr
    assert "DISPLAY" not in result.stderr and len(result.stderr.splitlines()) == 1


async def test_words_sizes_and_plurals(run):
    status = (await run("status")).stdout
    assert "iSCSI initiator name:" in status and "iSCSI sessions:" in status
    assert "LUNs:" in status
    assert "iSCSI targets and sessions." in (await run("iscsi", "--help")).stdout
    no_space = await run("lv", "create", "vmstore", "huge", "1TiB", code=1)
    assert "142.0 GiB free; 1.0 TiB are needed" in no_space.stderr
    one = await run("vg", "create", "vg0", FREE[0])
    assert "on 1 device)" in one.stdout
    await run("vg", "remove", "vg0")


async def test_a_refused_snapshot_shows_no_progress(run):
    refused = await run("lv", "snapshot", "vmstore/templates", "templates", "1G", code=1)
    assert refused.stderr.splitlines() == [
        "solidice-storagectl: vmstore/templates exists"]


async def test_listings_are_sorted(run):
    await run("vg", "create", "vg0", *FREE)
    for name in ("zeta", "alpha", "mid"):
        await run("lv", "create", "vg0", name, "1G")
    lines = (await run("lv", "list", "vg0")).stdout.splitlines()[1:]
    assert [line.split()[1] for line in lines] == ["alpha", "mid", "zeta"]
    assert [lv["name"] for lv in await as_json(run, "lv", "list", "vg0")] == \
        ["alpha", "mid", "zeta"]
    everything = (await run("lv", "list")).stdout.splitlines()[1:]
    assert everything == sorted(everything, key=lambda line: line.split()[:2])
    wwids = [line.split()[0] for line in (await run("lun", "list")).stdout.splitlines()[1:]]
    assert wwids == sorted(wwids)
    await run("vg", "remove", "vg0", "--yes")


async def test_info_names_the_volume_group_and_the_origin(run):
    lv = (await run("lv", "info", "vmstore/templates")).stdout
    assert re.search(r"^volume group: +vmstore$", lv, re.M)
    pv = (await run("pv", "info", "/dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001")).stdout
    assert re.search(r"^volume group: +vmstore$", pv, re.M)
    lun = (await run("lun", "info", "36001405d0e1f2a3b4c5d6e7f80910001")).stdout
    assert re.search(r"^physical volume: +/dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001 "
                     r"\(in vmstore\)$", lun, re.M)
    vg = (await run("vg", "info", "vmstore")).stdout
    assert re.search(r"^physical volumes: +/dev/mapper/\w+1, /dev/mapper/\w+2$", vg, re.M)
    await run("lv", "snapshot", "vmstore/templates", "tsnap", "1G")
    snap = (await run("lv", "info", "vmstore/tsnap")).stdout
    assert re.search(r"^origin: +vmstore/templates$", snap, re.M)
    raw = await as_json(run, "lv", "info", "vmstore/tsnap")     # scripts keep the keys
    assert raw["origin"] == (await as_json(run, "lv", "info", "vmstore/templates"))["uuid"]
    await run("lv", "remove", "vmstore/tsnap", "--force")


async def test_vg_remove_of_a_vg_holding_lvs_needs_yes_without_a_terminal(run, storage):
    await run("vg", "create", "vg0", *FREE)
    await run("lv", "create", "vg0", "disk0", "1G")
    refused = await run("vg", "remove", "vg0", code=2)
    assert "1 logical volume (disk0)" in refused.stderr and "--yes" in refused.stderr
    assert await storage.vg("vg0")
    await run("vg", "remove", "vg0", "--yes")
    assert [vg["name"] for vg in await as_json(run, "vg", "list")] == ["vmstore"]


def on_a_terminal(address: str, answer: str, *args: str) -> tuple[int, str]:
    """The command with a terminal for its standard input, `answer` typed there."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode())
        result = subprocess.run([*COMMAND, "--address", address, *args], stdin=terminal,
                                capture_output=True, text=True, timeout=30)
    finally:
        os.close(terminal)
        os.close(controller)
    return result.returncode, result.stderr


async def test_vg_remove_asks_on_a_terminal(run, storage, system_bus):
    await run("vg", "create", "vg0", *FREE)
    await run("lv", "create", "vg0", "disk0", "1G")
    await run("lv", "create", "vg0", "disk1", "1G")
    code, err = await asyncio.to_thread(on_a_terminal, system_bus, "n\n", "vg", "remove",
                                        "vg0")
    assert code == 1 and "remove volume group vg0 and its 2 logical volumes " \
                         "(disk0, disk1)? [y/N]" in err
    assert "nothing done" in err and await storage.vg("vg0")
    code, err = await asyncio.to_thread(on_a_terminal, system_bus, "y\n",
                                        "--non-interactive", "vg", "remove", "vg0")
    assert code == 2 and "[y/N]" not in err and "--yes" in err     # nobody is asked
    assert await storage.vg("vg0")
    code, err = await asyncio.to_thread(on_a_terminal, system_bus, "y\n", "vg", "remove",
                                        "vg0")
    assert code == 0, err
    assert [vg["name"] for vg in await as_json(run, "vg", "list")] == ["vmstore"]


async def test_block_info_and_host_rescan(run, storage):
    info = await as_json(run, "block-info", "/dev/vda")
    assert (info["type"], info["path"], info["size"]) == ("disk", "/dev/vda", 40 * 1024**3)
    assert "used by:" in (await run("block-info", "vmstore/templates")).stdout
    missing = await run("block-info", "/dev/nosuch", code=1)
    assert "nosuch" in missing.stderr
    rescanned = await run("host", "rescan")
    assert rescanned.stdout.strip() == f"rescanned: 1 new LUN ({EXPECTED_NEW_LUN})"
    assert await storage.find("Lun", Uuid=EXPECTED_NEW_LUN)
    again = await as_json(run, "host", "rescan")
    assert again == {"new_luns": []}


async def test_lv_activate_and_deactivate(run, storage):
    path = await storage.lv("templates")
    assert "activated vmstore/templates" in (await run("lv", "activate",
                                                       "vmstore/templates")).stdout
    assert (await storage.props(path, "LogicalVolume"))["Active"] is True
    deactivated = await as_json(run, "lv", "deactivate", "vmstore/templates")
    assert deactivated["active"] is False
    assert (await storage.props(path, "LogicalVolume"))["Active"] is False


async def test_iscsi_luns(run, storage):
    listed = await as_json(run, "iscsi", "luns", "192.0.2.10", SIM + "data")
    assert len(listed) == 4 and all(lun["transport"] == "iscsi" for lun in listed)
    assert [lun["wwid"] for lun in listed] == sorted(lun["wwid"] for lun in listed)
    refused = await run("iscsi", "luns", "192.0.2.10", SIM + "backup", "--no-login",
                        code=1)
    assert "Traceback" not in refused.stderr
    assert not [p for p, i in (await storage.objects()).items()
                if IFACE + "IscsiSession" in i
                and i[IFACE + "IscsiSession"]["Target"] == SIM + "backup"]
    logged_in = await run("iscsi", "luns", "192.0.2.10", SIM + "backup", "--username",
                          "backup", stdin="backup-secret\n")       # logs in first
    assert len(logged_in.stdout.splitlines()) == 3                 # header, 2 LUNs
    assert await storage.find("IscsiSession", Target=SIM + "backup")
    await run("iscsi", "logout", "192.0.2.10", SIM + "backup")


async def test_output_to_a_reader_that_stopped_is_no_error(daemon, system_bus):
    def closed_early():
        process = subprocess.Popen([*COMMAND, "--address", system_bus, "lun", "list"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        process.stdout.close()                        # `| head` that has had enough
        err = process.stderr.read()
        process.stderr.close()
        return process.wait(30), err
    code, err = await asyncio.to_thread(closed_early)
    assert "Traceback" not in err and "Broken pipe" not in err, err
    assert code == 0


def test_nfs_mount_help_gives_every_option_its_unit():
    text = " ".join(subprocess.run([*COMMAND, "nfs", "mount", "--help"],
                                   capture_output=True, text=True, timeout=30,
                                   check=True).stdout.split())
    for words in ("--timeo DECISECONDS deciseconds to wait for each try",
                  "--retry MINUTES minutes", "--rsize BYTES bytes per read request",
                  "--timeout SECONDS seconds the whole call may take",
                  "--retrans TRIES tries", "--port PORT", "--vers VERS NFS version"):
        assert words in text, words


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_completes_commands_and_verbs(tmp_path):
    script = subprocess.run([*COMMAND, "completion", "zsh"], capture_output=True,
                            text=True, timeout=30, check=True).stdout
    (tmp_path / "_solidice_storagectl").write_text(script)
    # compadd only works inside completion: stand it in, and give the function the
    # words and position zsh's completion system gives it.
    check = ('compdef() { :; }; compadd() { shift; print -r -- "${(P)1}"; }; '
             'source ./_solidice_storagectl; '
             'words=(solidice-storagectl --json lv ""); CURRENT=4; _solidice_storagectl; '
             'words=(solidice-storagectl ""); CURRENT=2; _solidice_storagectl; '
             'words=(solidice-storagectl completion ""); CURRENT=3; _solidice_storagectl')
    lines = subprocess.run(["zsh", "-f", "-c", check], cwd=tmp_path, capture_output=True,
                           text=True, timeout=30, check=True).stdout.splitlines()
    assert {"activate", "deactivate", "extend", "list"} <= set(lines[0].split())
    assert {"status", "block-info", "host", "lun", "iscsi", "vg", "lv", "monitor"} <= \
        set(lines[1].split())
    assert {"bash", "zsh"} <= set(lines[2].split())

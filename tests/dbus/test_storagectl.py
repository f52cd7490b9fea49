# SPDX-License-Identifier: LGPL-2.1-or-later
"""solidice-storagectl against the daemon: every command, its --json checked against
GetManagedObjects, and its error paths (one sentence, the documented exit code)."""

import asyncio
import json
import signal
import subprocess
import sys

import pytest

from storage import IFACE, opts

SIM = "iqn.2003-01.org.linux-iscsi.sim.example:"
FREE = ["36001405d0e1f2a3b4c5d6e7f80910003", "36001405d0e1f2a3b4c5d6e7f80910004"]
COMMAND = [sys.executable, "-m", "solidice_storage.cli"]


def ctl(address, *args, stdin=""):
    return subprocess.run([*COMMAND, "--address", address, *args], capture_output=True,
                          text=True, timeout=30, input=stdin)


@pytest.fixture
def run(daemon, system_bus):
    """The command, run in a thread (the test's loop keeps serving); its result."""
    async def run(*args, code=0, stdin=""):
        result = await asyncio.to_thread(ctl, system_bus, *args, stdin=stdin)
        assert result.returncode == code, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        return result
    return run


async def as_json(run, *args):
    return json.loads((await run("--json", *args)).stdout)


def of_kind(tree, kind):
    return {path: ifaces[IFACE + kind] for path, ifaces in tree.items()
            if IFACE + kind in ifaces}


async def test_listings_json_match_the_tree(run, storage):
    tree = await storage.objects()
    for command, kind, key, prop in (
            ("lun", "Lun", "wwid", "Uuid"), ("vg", "VolumeGroup", "uuid", "Uuid"),
            ("pv", "PhysicalVolume", "uuid", "Uuid"), ("lv", "LogicalVolume", "uuid", "Uuid"),
            ("nfs", "Mount", "local_path", "LocalPath")):
        listed = await as_json(run, command, "list")
        assert {i["object_path"]: i[key] for i in listed} == \
            {path: p[prop] for path, p in of_kind(tree, kind).items()}, command
    sessions = await as_json(run, "iscsi", "sessions")
    assert {s["object_path"] for s in sessions} == set(of_kind(tree, "IscsiSession"))
    assert await as_json(run, "job", "list") == []
    status = await as_json(run, "status")
    assert len(status["luns"]) == 7 and status["multipath"] is True


async def test_tables_and_info(run, storage):
    lines = (await run("lv", "list", "vmstore")).stdout.splitlines()
    assert lines[0].split() == ["VG", "NAME", "SIZE", "ACTIVE", "ATTR"]
    assert any(line.split()[:3] == ["vmstore", "templates", "8.0"] for line in lines)
    assert "GiB" in lines[1] and len({line.index("  ") for line in lines[1:]}) >= 1
    assert "multipath:" in (await run("status")).stdout
    info = (await run("lun", "info", "naa.6001405d0e1f2a3b4c5d6e7f80910001")).stdout
    assert "100.0 GiB (107374182400 bytes)" in info and "sda active" in info
    vg = await as_json(run, "vg", "info", "vmstore")
    props = of_kind(await storage.objects(), "VolumeGroup")[vg["object_path"]]
    assert (vg["free_size"], vg["name"]) == (props["FreeSize"], "vmstore")
    assert "templates" in vg["logical_volumes"]
    lv = await as_json(run, "lv", "info", "/dev/vmstore/templates")
    assert lv["path"] == "/dev/vmstore/templates" and lv["active"] is False
    pv = await as_json(run, "pv", "info", "/dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001")
    assert pv["lun"] == "36001405d0e1f2a3b4c5d6e7f80910001"
    assert len(await as_json(run, "pv", "list", "vmstore")) == 2
    assert "nfs.example.com" in (await run("nfs", "list")).stdout


async def test_lvm_life_cycle(run, storage):
    vg = await as_json(run, "vg", "create", "vg0", FREE[0], "--extent-size", "8M")
    assert vg["extent_size"] == 8 * 1024**2 and await storage.vg("vg0") == vg["object_path"]
    assert "extended vg0" in (await run("vg", "extend", "vg0", FREE[1])).stdout
    lv = await as_json(run, "lv", "create", "vg0", "disk0", "10G", "--inactive")
    assert (lv["size"], lv["active"]) == (10 * 1024**3, False)
    assert "to 11.5 GiB" in (await run("lv", "extend", "vg0/disk0", "+1.5GiB")).stdout
    assert "to 12.0 GiB" in (await run("lv", "extend", "vg0/disk0", "12884901888")).stdout
    props = await storage.props(lv["object_path"], "LogicalVolume")
    assert props["Size"] == 12 * 1024**3
    smaller = await run("lv", "extend", "vg0/disk0", "1G", code=2)
    assert "write +SIZE" in smaller.stderr
    snap = await run("lv", "snapshot", "vg0/disk0", "disk0-snap", "512MiB")
    assert "created snapshot disk0-snap" in snap.stdout
    assert "lv-snapshot: 100%" in snap.stderr          # progress lines off a terminal
    assert (await storage.props(await storage.lv("disk0-snap"), "LogicalVolume"))[
        "Origin"] == lv["object_path"]
    await run("lv", "remove", "vg0/disk0-snap")
    await run("lv", "remove", "vg0/disk0")
    await run("pv", "remove", "vg0", FREE[1])
    assert len(await as_json(run, "pv", "list", "vg0")) == 1
    await run("vg", "remove", "vg0")
    assert [v["name"] for v in await as_json(run, "vg", "list")] == ["vmstore"]


async def test_resize_rename_and_tag_commands(run, storage):
    assert "to 10.0 GiB" in (await run("lv", "resize", "vmstore/templates", "10G")).stdout
    refused = await run("lv", "resize", "vmstore/templates", "1G", code=1)
    assert "shrink" in refused.stderr
    shrunk = await run("lv", "resize", "vmstore/templates", "1G", "--shrink")
    assert "to 1.0 GiB" in shrunk.stdout
    renamed = await run("lv", "rename", "vmstore/templates", "tmpl")
    assert "renamed vmstore/templates to tmpl (/dev/vmstore/tmpl)" in renamed.stdout
    assert "to vmdata" in (await run("vg", "rename", "vmstore", "vmdata")).stdout
    lv = await as_json(run, "lv", "info", "vmdata/tmpl")
    assert (lv["path"], lv["size"]) == ("/dev/vmdata/tmpl", 1024**3)

    pv = "/dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001"
    added = await run("tag", "add", "vg", "vmdata", "site=paris", "tier:gold")
    assert "vg vmdata has tags: site=paris, tier:gold" in added.stdout
    await run("tag", "add", "lv", "vmdata/tmpl", "keep", "b")
    await run("tag", "add", "pv", pv, "fast#1")
    assert (await as_json(run, "vg", "info", "vmdata"))["tags"] == ["site=paris",
                                                                    "tier:gold"]
    assert (await as_json(run, "pv", "info", pv))["tags"] == ["fast#1"]
    assert "keep" in (await run("lv", "info", "vmdata/tmpl")).stdout
    removed = await run("tag", "remove", "lv", "vmdata/tmpl", "keep", "b")
    assert "has tags: none" in removed.stdout
    refused = await run("tag", "remove", "vg", "vmdata", "org.solidice.storage", code=1)
    assert "service's own" in refused.stderr
    await run("tag", "add", "nothing", "x", "y", code=2)


async def test_pv_remove_moves_data_with_progress_and_job_commands(run, storage, system_bus):
    await run("vg", "create", "vg0", *FREE)
    await run("lv", "create", "vg0", "big", "40G")
    moving = asyncio.create_task(run("pv", "remove", "vg0", FREE[0], "--move-data"))
    for _ in range(50):
        jobs = await as_json(run, "job", "list")
        if jobs:
            break
    [job] = jobs
    assert job["operation"] == "pv-move" and job["cancelable"] is True
    result = await moving
    lines = [line for line in result.stderr.splitlines() if line.startswith("pv-move:")]
    assert lines[-1] == "pv-move: 100%" and len(lines) > 3
    assert len(await as_json(run, "pv", "list", "vg0")) == 1
    missing = await run("job", "cancel", str(job["id"]), code=1)
    assert f"no running job {job['id']}" in missing.stderr
    await run("vg", "remove", "vg0", "--yes")


async def test_job_cancel(run, storage):
    await run("vg", "create", "vg0", *FREE)
    await run("lv", "create", "vg0", "big", "40G")
    vg = await storage.vg("vg0")
    pv = (await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"][0]
    job = await storage.call(vg, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}", pv,
                             opts(move_data=True))
    number = job.rsplit("/", 1)[1]
    assert "asked job" in (await run("job", "cancel", number)).stdout
    await asyncio.sleep(0.3)
    assert len((await storage.props(vg, "VolumeGroup"))["PhysicalVolumes"]) == 2
    await run("vg", "remove", "vg0", "--yes")


async def test_iscsi_commands(run, storage):
    found = await as_json(run, "iscsi", "discover", "192.0.2.10")
    assert {"target": SIM + "backup", "portal": "192.0.2.11:3260"} in found
    assert SIM + "data" in (await run("iscsi", "discover", "192.0.2.10")).stdout
    refused = await run("iscsi", "login", "192.0.2.10", SIM + "backup", code=1)
    assert "CHAP" in refused.stderr
    piped = await run("iscsi", "login", "192.0.2.10", SIM + "backup", "--username",
                      "backup", stdin="backup-secret\n")   # off the command line
    assert "logged in" in piped.stdout
    await run("iscsi", "logout", "192.0.2.10", SIM + "backup")
    wrong = await run("iscsi", "login", "192.0.2.10", SIM + "backup", "--username",
                      "backup", stdin="not-the-secret\n", code=1)
    assert "CHAP" in wrong.stderr
    login = await run("iscsi", "login", "192.0.2.10", SIM + "backup", "--username",
                      "backup", "--password", "backup-secret", "--node-startup", "manual")
    assert "logged in" in login.stdout
    assert await storage.find("IscsiSession", Target=SIM + "backup")
    await run("iscsi", "logout", "192.0.2.10", SIM + "backup")
    assert len(await as_json(run, "iscsi", "sessions")) == 2
    silent = await run("iscsi", "discover", "unreachable.invalid", "--timeout", "1", code=1)
    assert "did not answer" in silent.stderr


async def test_nfs_commands(run, storage):
    mount = await as_json(run, "nfs", "mount", "nfs.example.com:/export/vms", "/srv/nfs/vms",
                          "--vers", "4.2", "--ro", "--persistent", "--create-mountpoint")
    props = await storage.props(mount["object_path"], "Mount")
    assert props["Persistent"] and "vers=4.2" in props["Options"]
    assert "ro" in props["Options"].split(",")
    await run("nfs", "unmount", "/srv/nfs/vms")
    busy = await run("nfs", "unmount", "/mnt/iso", code=1)
    assert "in use; pass --force" in busy.stderr           # the CLI's own words
    await run("nfs", "unmount", "/mnt/iso", "--force")
    assert await as_json(run, "nfs", "list") == []
    bad = await run("nfs", "mount", "nfs.example.com", "/srv/x", code=2)
    assert "SERVER:PATH" in bad.stderr


async def test_error_paths(run, system_bus):
    for args, code, words in (
            (("vg", "remove", "vmstore"), 1, "pass --force"),
            (("lv", "list", "nosuch"), 1, "no volume group nosuch"),
            (("lv", "info", "vmstore/nosuch"), 1, "no logical volume vmstore/nosuch"),
            (("lv", "create", "vmstore", "templates", "1G"), 1, "exists"),
            (("lv", "create", "vmstore", "huge", "1TiB"), 1, "GiB free"),
            (("lv", "create", "vmstore", "x", "10Q"), 2, "is not a size"),
            (("lv", "remove", "vmstore/vm-101-disk-0", "--force"), 1, "is open"),
            (("vg", "create", "bad name", FREE[0]), 1, "not valid"),
            (("lun", "info", "nosuch"), 1, "no LUN nosuch"),
            (("vg",), 2, "required"),
            (("frobnicate",), 2, "invalid choice")):
        result = await run(*args, code=code)
        assert words in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 or code == 2, result.stderr
    debug = await asyncio.to_thread(ctl, system_bus, "--debug", "vg", "remove", "vmstore")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "InvalidArgumentError" in debug.stderr


def test_not_authorized_is_one_sentence(daemon, system_bus):
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *COMMAND,
         "--address", system_bus, "--non-interactive", "lv", "create", "vmstore", "x", "1G"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "not allowed" in result.stderr and "run it as root" in result.stderr
    assert "Traceback" not in result.stderr


def test_service_not_running_is_one_sentence(system_bus, tmp_path):
    result = ctl(system_bus, "status")
    assert result.returncode == 3 and "not running" in result.stderr
    assert "Traceback" not in result.stderr
    nobus = ctl(f"unix:path={tmp_path}/none", "status")
    assert nobus.returncode == 3 and "cannot reach" in nobus.stderr


def start_monitor(system_bus, **popen) -> subprocess.Popen:
    """`monitor --json`, once it prints that it is watching (its snapshot taken:
    every change after that is printed)."""
    monitor = subprocess.Popen([*COMMAND, "--address", system_bus, "--json", "monitor"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               **popen)
    assert "watching" in monitor.stderr.readline()
    return monitor


async def read_until(monitor: subprocess.Popen, done) -> list[dict]:
    """The monitor's events up to the first for which `done` is true."""
    seen = []
    while not seen or not done(seen[-1]):
        line = await asyncio.wait_for(asyncio.to_thread(monitor.stdout.readline), 30)
        assert line, "the monitor ended"
        seen.append(json.loads(line))
    return seen


async def test_monitor_prints_changes(run, system_bus):
    monitor = await asyncio.to_thread(start_monitor, system_bus)
    try:
        await run("vg", "create", "vg0", *FREE)
        await run("vg", "remove", "vg0")
        seen = await read_until(monitor, lambda e: (e["event"], e.get("kind")) == (
            "removed", "VolumeGroup"))
    finally:
        monitor.send_signal(signal.SIGINT)
        out, err = await asyncio.to_thread(monitor.communicate, timeout=10)
    assert monitor.returncode == 0, err
    kinds = {(e["event"], e.get("kind")) for e in seen}
    assert {("added", "VolumeGroup"), ("removed", "VolumeGroup"),
            ("added", "PhysicalVolume"), ("changed", "Lun")} <= kinds
    [vg] = [e for e in seen if e["event"] == "added" and e["kind"] == "VolumeGroup"]
    assert vg["name"] == "vg0"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_monitor_stops_at_once_on_a_signal_even_with_sigint_ignored(
        daemon, system_bus, signum):
    # a script's background job (`storagectl monitor &` without job control)
    # starts with SIGINT ignored: the monitor must still stop when told
    monitor = await asyncio.to_thread(
        start_monitor, system_bus,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    monitor.send_signal(signum)
    try:
        out, err = await asyncio.to_thread(monitor.communicate, timeout=10)
    finally:
        monitor.kill()
    assert monitor.returncode == 0 and "Traceback" not in err, err


def test_help_on_every_level_has_an_example(tmp_path):
    from solidice_storage.cli.parser import build_parser
    top = build_parser()
    pending = [top]
    seen = 0
    while pending:
        level = pending.pop()
        assert "Example: solidice-storagectl" in level.format_help(), level.prog
        seen += 1
        for action in level._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                pending.extend(action.choices.values())
    assert seen >= 35


def test_bash_completion_completes_commands_and_verbs(tmp_path):
    script = subprocess.run([*COMMAND, "completion", "bash"], capture_output=True,
                            text=True, timeout=30, check=True).stdout
    (tmp_path / "completion.sh").write_text(script)
    check = ('source completion.sh; COMP_WORDS=(solidice-storagectl --json lv ex); '
             'COMP_CWORD=3; _solidice_storagectl; echo "${COMPREPLY[@]}"; '
             'COMP_WORDS=(solidice-storagectl ""); COMP_CWORD=1; _solidice_storagectl; '
             'echo "${COMPREPLY[@]}"')
    lines = subprocess.run(["bash", "-c", check], cwd=tmp_path, capture_output=True,
                           text=True, timeout=30, check=True).stdout.splitlines()
    assert lines[0] == "extend"
    assert {"status", "lun", "iscsi", "vg", "pv", "lv", "nfs", "job", "monitor"} <= \
        set(lines[1].split())

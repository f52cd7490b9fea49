# SPDX-License-Identifier: LGPL-2.1-or-later
"""A whole storage life cycle with solidice-storagectl alone, on the lab's real
devices: discover and log in to iSCSI (CHAP), create a VG on two multipathed LUNs,
create, extend, snapshot and remove LVs, mount and unmount NFS, remove the VG, log
out. Each step is checked with the system's own tools (iscsiadm, vgs, lvs, pvs,
mountinfo). What a user sees is kept in logs/cli-lifecycle.txt."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lab.host import (CHAP_PASSWORD, CHAP_TARGET, CHAP_USER, DATA_TARGET, LOGS,
                     NFS_ADDRESS, iscsi_logout, iscsi_sessions, lvm, lvm_report, mounted,
                     multipath_maps, run, settle)

CLI = str(Path(sys.executable).parent / "solidice-storagectl")
VG = "clivg"
MiB = 1024**2
MOUNT_POINT = "/mnt/lab/nfs-cli"


def storagectl(*args: str, expect: int = 0, stdin: str | None = None) -> str:
    """Run the CLI as a user would; its output, recorded in the transcript."""
    result = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300,
                            input=stdin)
    with open(LOGS / "cli-lifecycle.txt", "a") as transcript:
        transcript.write(f"# solidice-storagectl {shlex.join(args)}\n{result.stdout}"
                         f"{result.stderr}(exit {result.returncode})\n\n")
    assert result.returncode == expect, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def lvs() -> dict[str, dict]:
    return {row["lv_name"]: row for row in lvm_report(
        "lvs", "-o", "lv_name,vg_name,lv_size,origin,lv_attr") if row["vg_name"] == VG}


@pytest.fixture
def two_luns(lab):
    """Two data LUNs (multipath maps), and a host put back as it was after."""
    wwids = sorted(multipath_maps())[:2]
    yield wwids
    if (CHAP_TARGET, "127.0.0.1") in iscsi_sessions():
        iscsi_logout(CHAP_TARGET, "127.0.0.1")
    run("iscsiadm", "-m", "node", "-T", CHAP_TARGET, "-p", "127.0.0.1:3260", "-o",
        "delete", check=False)                 # the record our login wrote
    if mounted(MOUNT_POINT):
        run("umount", "-f", "-l", MOUNT_POINT, check=False)
    if any(row["vg_name"] == VG for row in lvm_report("vgs", "-o", "vg_name")):
        lvm("vgremove", "-y", "-f", "--", VG, check=False)
    for wwid in wwids:
        lvm("pvremove", "-y", "-ff", "--", f"/dev/mapper/{wwid}", check=False)
        run("wipefs", "-a", "--", f"/dev/mapper/{wwid}", check=False)
    run("udevadm", "trigger", "--settle", "--action=change", "--",
        *(f"/dev/mapper/{wwid}" for wwid in wwids))
    settle()


def test_a_storage_life_cycle_with_the_cli_alone(daemon, two_luns):
    first, second = two_luns
    (LOGS / "cli-lifecycle.txt").unlink(missing_ok=True)
    storagectl("status")

    found = json.loads(storagectl("--json", "iscsi", "discover", "127.0.0.1"))
    assert {DATA_TARGET, CHAP_TARGET} <= {entry["target"] for entry in found}
    storagectl("iscsi", "login", "127.0.0.1", CHAP_TARGET, "--username", CHAP_USER,
               stdin=CHAP_PASSWORD + "\n")          # the secret never on a command line
    assert (CHAP_TARGET, "127.0.0.1") in iscsi_sessions()
    sessions = json.loads(storagectl("--json", "iscsi", "sessions"))
    assert CHAP_TARGET in {session["target"] for session in sessions}

    storagectl("lun", "list")
    storagectl("vg", "create", VG, first, f"/dev/mapper/{second}")
    (vg,) = [row for row in lvm_report("vgs", "-o", "vg_name,pv_count,vg_tags")
             if row["vg_name"] == VG]
    assert vg["pv_count"] == "2" and "org.solidice.storage" in vg["vg_tags"]
    pvs = {row["pv_name"] for row in lvm_report("pvs", "-o", "pv_name,vg_name")
           if row["vg_name"] == VG}
    assert pvs == {f"/dev/mapper/{first}", f"/dev/mapper/{second}"}

    storagectl("lv", "create", VG, "disk0", "16MiB")
    assert int(lvs()["disk0"]["lv_size"]) == 16 * MiB
    storagectl("lv", "extend", f"{VG}/disk0", "+8M")
    assert int(lvs()["disk0"]["lv_size"]) == 24 * MiB
    storagectl("lv", "snapshot", f"{VG}/disk0", "snap0", "8M")
    assert lvs()["snap0"]["origin"] == "disk0"
    info = json.loads(storagectl("--json", "lv", "info", f"{VG}/snap0"))
    assert info["name"] == "snap0" and info["size"] == 8 * MiB
    storagectl("lv", "list", VG)
    storagectl("lv", "remove", f"{VG}/disk0", expect=1)      # it has a snapshot
    storagectl("lv", "remove", f"{VG}/snap0")
    storagectl("lv", "remove", f"{VG}/disk0")
    assert lvs() == {}

    storagectl("nfs", "mount", f"{NFS_ADDRESS}:/export", MOUNT_POINT, "--vers", "4.2",
               "--create-mountpoint")
    kernel = mounted(MOUNT_POINT)
    assert kernel["fstype"] == "nfs4" and {"nosuid", "nodev", "soft"} <= set(
        kernel["options"].split(","))
    listed = json.loads(storagectl("--json", "nfs", "list"))
    assert MOUNT_POINT in {mount["local_path"] for mount in listed}
    storagectl("nfs", "unmount", MOUNT_POINT)
    assert mounted(MOUNT_POINT) is None

    storagectl("vg", "remove", VG)
    assert not [row for row in lvm_report("vgs", "-o", "vg_name") if row["vg_name"] == VG]
    labels = lvm("pvs", "--", f"/dev/mapper/{first}", f"/dev/mapper/{second}", check=False)
    assert labels.returncode != 0                          # the PV labels went too
    storagectl("iscsi", "logout", "127.0.0.1", CHAP_TARGET)
    assert (CHAP_TARGET, "127.0.0.1") not in iscsi_sessions()
    storagectl("vg", "info", VG, expect=1)                 # gone: one sentence, exit 1

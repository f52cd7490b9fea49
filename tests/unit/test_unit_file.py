# SPDX-License-Identifier: LGPL-2.1-or-later
"""The unit file's hardening, by systemd's own tools: it parses cleanly, its exposure
score does not regress, and it never puts the daemon in a mount namespace (host
mounts and new device nodes must be visible both ways). docs/unit-hardening.md
explains each setting; tools/unit_sandbox.py applies them without systemd for the
tests that run the daemon under them (tests/dbus/test_daemon.py, tests/lab)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
UNIT = TOP / "systemd/solidice-storaged.service"
# What `systemd-analyze security --offline=true` said, systemd 252: 9.6 before the
# hardening (issue 9), this after. Lower it when the unit gets better.
EXPOSURE = 4.5
# The settings that would give the daemon a mount namespace of its own (or a device
# allow-list), each of them explained in the unit's comments.
NAMESPACED = {
    "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateMounts",
    "PrivateIPC", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths",
    "NoExecPaths", "TemporaryFileSystem", "BindPaths", "BindReadOnlyPaths", "MountFlags",
    "RootDirectory", "RootImage", "MountImages", "ExtensionImages", "DynamicUser",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
    "ProtectControlGroups", "ProtectProc", "ProcSubset", "ProtectClock", "DeviceAllow",
    "DevicePolicy", "ReadWriteDirectories", "ReadOnlyDirectories",
    "InaccessibleDirectories", "PrivateNetwork", "NetworkNamespacePath", "PrivateUsers"}

sys.path.insert(0, str(TOP / "tools"))
import unit_sandbox  # noqa: E402

@pytest.fixture
def installed_unit(tmp_path) -> Path:
    """The unit with ExecStart pointing at a program that exists here (verify checks
    it; the package is not installed in /usr/sbin on a test machine)."""
    text = UNIT.read_text()
    assert "\nExecStart=/usr/sbin/solidice-storaged\n" in text
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("\nExecStart=/usr/sbin/solidice-storaged\n",
                                 "\nExecStart=/bin/true\n"))
    return unit


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=60)


def test_systemd_accepts_every_line(installed_unit):
    result = analyze("verify", "--man=no", str(installed_unit))
    # verify exits 0 on an unknown key or a bad value, and only says so: nothing said
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_exposure_score_does_not_regress(installed_unit):
    result = analyze("security", "--offline=true", "--no-pager", str(installed_unit))
    assert result.returncode == 0, result.stderr
    score = float(re.search(r"Overall exposure level for \S+: (\d+\.\d)",
                            result.stdout).group(1))
    assert score <= EXPOSURE, result.stdout


def test_systemd_sees_no_private_mounts_or_devices(installed_unit):
    """systemd's own reading, which counts what a setting implies (DynamicUser=
    implies ProtectSystem=strict, for one)."""
    result = analyze("security", "--offline=true", "--json=short", str(installed_unit))
    checks = {item["name"]: item["set"] for item in json.loads(result.stdout)}
    for name in ("PrivateMounts=", "PrivateDevices=", "ProtectSystem=", "ProtectHome=",
                 "PrivateTmp=", "ProtectKernelTunables=", "ProtectControlGroups=",
                 "RootDirectory=/RootImage=", "DeviceAllow="):
        assert checks[name] is False, name
    for name in ("NoNewPrivileges=", "SystemCallArchitectures=", "LockPersonality=",
                 "MemoryDenyWriteExecute=", "RestrictSUIDSGID=", "UMask=",
                 "SystemCallFilter=~@module", "SystemCallFilter=~@raw-io",
                 "RestrictAddressFamilies=~AF_PACKET", "RestrictNamespaces=~user",
                 "CapabilityBoundingSet=~CAP_SYS_MODULE", "CapabilityBoundingSet=~CAP_SYS_PTRACE"):
        assert checks[name] is True, name


def test_no_setting_that_makes_a_mount_namespace():
    keys = set(unit_sandbox.service_section(UNIT))
    assert not keys & NAMESPACED, keys & NAMESPACED


def test_sandbox_reads_the_units_capabilities_and_filters():
    values = unit_sandbox.service_section(UNIT)
    caps = unit_sandbox.capability_names(values)
    assert "sys_admin" in caps and "sys_module" not in caps
    command = unit_sandbox.sandbox_command(UNIT, ["solidice-storaged"])
    assert command[:3] == ["unshare", "--uts", "--"]
    assert f"--bounding-set=-all,{','.join('+' + c for c in caps)}" in command
    assert "--no-new-privs" in command and command[-2:] == ["--", "solidice-storaged"]


def test_sandbox_allows_mount_and_not_what_the_unit_takes_out():
    allowed = unit_sandbox.resolve_filter(unit_sandbox.service_section(UNIT)["SystemCallFilter"])
    # setuid/setgid: mount(8) resets its ids before it runs mount.nfs, even as root;
    # fchown: umount(8) on libmount's utab lock (both seen refused in the lab)
    assert {"mount", "umount2", "ioctl", "openat", "socket", "mlock", "setuid",
            "setgid", "fchown"} <= allowed
    assert not {"chroot", "pivot_root", "capset", "init_module", "reboot",
                "swapon", "ptrace", "setpriority", "settimeofday", "sethostname",
                "bpf"} & allowed


def test_every_kept_capability_has_its_reason_in_the_docs():
    docs = (TOP / "docs/unit-hardening.md").read_text()
    caps = " ".join(unit_sandbox.service_section(UNIT)["CapabilityBoundingSet"]).split()
    for cap in caps:
        assert re.search(rf"`{cap}`[^\n]*\S", docs), cap

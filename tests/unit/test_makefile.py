# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Makefile installs what each target needs and no more: run against stand-ins
for dpkg-query and apt-get that record what apt was asked to do."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
LAB_ONLY = ("qemu-system-x86", "linux-image-amd64", "nfs-kernel-server",
            "python3-rtslib-fb", "busybox-static")
FAKE_DPKG_QUERY = """#!/bin/sh
# dpkg-query -W -f=FORMAT PACKAGE: installed when PACKAGE is in $FAKE_INSTALLED.
for p in $FAKE_INSTALLED; do
    [ "$p" = "$3" ] && { echo "install ok installed"; exit 0; }
done
exit 1
"""
FAKE_APT_GET = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
[ "$1" = download ] && cp "$FAKE_DEB" ./busybox-static_1_all.deb
exit 0
"""


def variable(name: str) -> list[str]:
    text = (TOP / "Makefile").read_text().replace("\\\n", " ")
    return re.search(rf"^{name} := (.*)$", text, re.M).group(1).split()


@pytest.fixture
def apt(tmp_path):
    """Runs make with the stand-ins first on PATH; returns the apt-get calls."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for name, text in (("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "apt.log"
    log.touch()

    def make(target, installed, *args):
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
               "FAKE_INSTALLED": " ".join(installed), "FAKE_LOG": str(log),
               "FAKE_DEB": str(tmp_path / "busybox-static.deb")}
        result = subprocess.run(["make", "-s", "-C", str(TOP), target, "SUDO=", *args],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return log.read_text().splitlines()
    return make


def test_nothing_missing_runs_no_apt_at_all(apt):
    everything = (variable("SIM_PACKAGES") + variable("HOST_PACKAGES")
                  + variable("TEST_PACKAGES"))
    for target in ("sim-deps", "host-deps", "test-deps"):
        assert apt(target, everything) == []


def test_the_simulator_installs_python3_venv_dbus_and_busctl_only(apt):
    assert apt("sim-deps", ["systemd"]) == [
        "update -qq", "install -y -qq --no-remove python3-venv dbus"]


def test_install_pulls_the_hosts_tools_and_none_of_the_labs(apt):
    calls = apt("host-deps", [])
    assert calls[0] == "update -qq"
    packages = calls[1].split()
    assert "--no-remove" in packages
    for package in ("python3-venv", "dbus", "polkitd", "lvm2", "multipath-tools",
                    "open-iscsi", "nfs-common"):
        assert package in packages
    assert not set(packages) & set(LAB_ONLY)


def test_only_lab_targets_name_the_labs_packages():
    def dry_run(target):
        return subprocess.run(["make", "-n", "-C", str(TOP), target, "VENV=/nonexistent"],
                              capture_output=True, text=True, timeout=60).stdout
    for target in ("run-sim", "install", "unit", "dbus"):
        assert not [p for p in LAB_ONLY if p in dry_run(target)], target
    for target in ("check", "lab", "run"):
        assert all(p in dry_run(target) for p in LAB_ONLY), target


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb")
def test_the_lab_takes_a_static_busybox_without_removing_busybox(apt, tmp_path):
    package = tmp_path / "pkg"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "DEBIAN/control").write_text(
        "Package: busybox-static\nVersion: 1\nArchitecture: all\n"
        "Maintainer: test <test@example.org>\nDescription: a stand-in\n")
    (package / "bin").mkdir()
    (package / "bin/busybox").write_text("#!/bin/sh\necho static\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(package),
                    str(tmp_path / "busybox-static.deb")], check=True, capture_output=True)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for stamp in (".installed", ".installed-test"):
        (venv / stamp).touch()
    installed = (variable("SIM_PACKAGES") + variable("TEST_PACKAGES")
                 + variable("LAB_PACKAGES") + ["busybox"])
    calls = apt("lab-deps", installed, f"VENV={venv}")
    assert calls == ["download -qq busybox-static"]       # no install, no removal
    assert subprocess.run([venv / "bin/busybox-static"], capture_output=True,
                          text=True).stdout == "static\n"
    assert apt("lab-deps", installed, f"VENV={venv}") == calls    # done once


def test_uninstall_keeps_the_state_directory_unless_purge(apt, tmp_path):
    state, config, lib = tmp_path / "state", tmp_path / "etc", tmp_path / "lib"
    for directory in (state / "intents", config, lib):
        directory.mkdir(parents=True)
    (config / "storage.conf").touch()
    where = [f"PREFIX={tmp_path}/usr", f"LIBDIR={lib}", f"SYSCONFDIR={config}",
             f"STATEDIR={state}", "SYSTEMCTL=:"]
    apt("uninstall", [], *where)
    assert not lib.exists()
    assert (state / "intents").is_dir() and (config / "storage.conf").exists()
    apt("uninstall", [], *where, "PURGE=1")
    assert not state.exists() and not config.exists()


def test_a_fresh_machine_gets_the_labs_packages_in_one_apt_run(apt):
    calls = apt("lab-packages", [])
    assert [call.split()[0] for call in calls] == ["update", "install"]
    assert {"python3-venv", "python3-dbus", "qemu-system-x86", "busybox-static"} <= \
        set(calls[1].split())


def test_the_lab_never_asks_apt_for_busybox_static_where_busybox_is(apt):
    calls = apt("lab-packages", ["busybox"])
    assert "qemu-system-x86" in calls[1] and "busybox-static" not in calls[1]

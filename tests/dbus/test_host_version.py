# SPDX-License-Identifier: LGPL-2.1-or-later
"""The running service reports the package's version (Host.Version, solidice-storaged --version)."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((TOP / "pyproject.toml").read_text())["project"]["version"]


def test_host_version_is_the_packages(daemon, run_busctl):
    result = run_busctl("--json=short", "get-property", "org.solidice.Storage",
                        "/org/solidice/Storage/Host", "org.solidice.Storage.Host", "Version")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"] == VERSION


def test_the_daemon_says_the_packages_version():
    daemon = subprocess.run([sys.executable, "-m", "solidice_storage.daemon", "--version"],
                            capture_output=True, text=True, timeout=30)
    assert daemon.stdout.strip() == VERSION

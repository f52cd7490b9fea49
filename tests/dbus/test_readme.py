# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README runs as written against the simulated host: its busctl tour and its
Python client example."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def block(marker: str, language: str) -> str:
    match = re.search(rf"<!-- {marker}:[^\n]*-->\n```{language}\n(.*?)```",
                      README.read_text(), re.S)
    assert match, f"the README lost its {marker} block"
    return match.group(1)


@pytest.fixture
def sim_session(tmp_path):
    """A session bus of its own with `solidice-storaged --sim --session` on it, as
    `make run-sim` gives a reader; the environment to reach it."""
    address = f"unix:path={tmp_path}/bus"
    bus = subprocess.Popen(["dbus-daemon", "--session", f"--address={address}", "--nofork",
                            "--print-address=1"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    bus.stdout.readline()
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
    daemon = subprocess.Popen([sys.executable, "-m", "solidice_storage.daemon", "--sim",
                               "--session"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if subprocess.run(["busctl", "--user", "status", "org.solidice.Storage"],
                              env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        yield env
    finally:
        daemon.terminate()
        assert daemon.wait(10) == 0, daemon.stderr.read()
        daemon.stderr.close()
        bus.terminate()
        bus.wait(10)
        bus.stdout.close()


def test_readme_tour_runs_against_the_simulated_host(sim_session):
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block("tour", "sh")],
                            env=sim_session, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "templates" not in result.stderr
    assert "was not created by this service" in result.stderr
    assert "nosuid,nodev" in result.stdout


def test_readme_client_example_runs_against_the_simulated_host(sim_session, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(block("client-example", "python"))
    result = subprocess.run([sys.executable, str(script)], env=sim_session,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "retry refused:" in out and "not the expected" in out
    assert "/dev/vg0/disk0 11 GiB; snapshot of" in out
    assert "pv-move 100%" in out and "nosuid,nodev" in out
    assert "refused: /mnt/iso is in use" in out
    assert "36001405d0e1f2a3b4c5d6e7f8091" in out and "backup LUNs: ['3600" in out

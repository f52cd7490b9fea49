"""The README's busctl tour runs as written, against the simulated host."""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def tour() -> str:
    text = README.read_text()
    match = re.search(r"<!-- tour:[^\n]*-->\n```sh\n(.*?)```", text, re.S)
    assert match, "the README lost its tour block"
    return match.group(1)


def test_readme_tour_runs_against_the_simulated_host():
    with tempfile.TemporaryDirectory() as tmp:
        address = f"unix:path={tmp}/bus"
        bus = subprocess.Popen(["dbus-daemon", "--session", f"--address={address}",
                                "--nofork", "--print-address=1"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
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
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", tour()], env=env,
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "templates" not in result.stderr
            assert "was not created by this service" in result.stderr
            assert "nosuid,nodev" in result.stdout
        finally:
            daemon.terminate()
            assert daemon.wait(10) == 0, daemon.stderr.read()
            daemon.stderr.close()
            bus.terminate()
            bus.wait(10)
            bus.stdout.close()


def client_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- client-example:[^\n]*-->\n```python\n(.*?)```", text, re.S)
    assert match, "the README lost its Python client example"
    return match.group(1)


def test_readme_client_example_runs_against_the_simulated_host(tmp_path):
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
        script = tmp_path / "example.py"
        script.write_text(client_example())
        result = subprocess.run([sys.executable, str(script)], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert "retry refused:" in out and "not the expected" in out
        assert "/dev/vg0/disk0 11 GiB; snapshot of" in out
        assert "pv-move 100%" in out and "nosuid,nodev" in out
        assert "refused: /mnt/iso is in use" in out
        assert "36001405d0e1f2a3b4c5d6e7f8091" in out and "backup LUNs: ['3600" in out
    finally:
        daemon.terminate()
        assert daemon.wait(10) == 0, daemon.stderr.read()
        daemon.stderr.close()
        bus.terminate()
        bus.wait(10)
        bus.stdout.close()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layers' import rules hold: the contracts in pyproject.toml's [tool.importlinter],
run by import-linter over the package as it is on disk.

The engine imports nothing of the D-Bus layer, the client, the CLI or the object
paths; the real engine (`engine.host`) and the simulated one (`engine.sim`) never
import each other; the D-Bus layer imports neither (daemon.py picks the engine).
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
CONTRACTS = {"engine-alone", "engines-apart", "dbus-engine-blind"}


def test_the_three_contracts_are_declared():
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    assert config["root_package"] == "solidice_storage"
    assert CONTRACTS <= {contract["id"] for contract in config["contracts"]}


def test_the_imports_keep_every_contract():
    lint = Path(sys.executable).parent / "lint-imports"     # the venv's (test extra)
    # this tree's package, whichever one the venv was installed from; wide lines
    # so a broken chain reads on one line each
    env = {**os.environ, "PYTHONPATH": str(ROOT / "service"), "COLUMNS": "200"}
    result = subprocess.run([str(lint), "--no-cache", "--no-logo", str(PYPROJECT)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"lint-imports exited {result.returncode}:\n"
                    f"{result.stdout}{result.stderr}", pytrace=False)

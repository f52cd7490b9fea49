# SPDX-License-Identifier: LGPL-2.1-or-later
"""One version everywhere: the package's metadata, the code, and the reference."""

import re
import tomllib
from pathlib import Path

import solidice_storage

TOP = Path(__file__).resolve().parents[2]


def pyproject_version() -> str:
    return tomllib.loads((TOP / "pyproject.toml").read_text())["project"]["version"]


def test_the_code_says_the_packages_version():
    assert solidice_storage.__version__ == pyproject_version() == "0.2.0"


def test_the_host_interface_reference_gives_the_current_version_as_its_example():
    text = (TOP / "interfaces/org.solidice.Storage.Host.xml").read_text()
    assert re.search(r'The version of the service, e\.g\. "([^"]+)"', text)[1] == \
        pyproject_version()


def test_no_member_is_documented_since_a_version_not_yet_released():
    released = tuple(int(part) for part in pyproject_version().split(".")[:2])
    for xml in (TOP / "interfaces").glob("*.xml"):
        for since in re.findall(r"@since: (\d+)\.(\d+)", xml.read_text()):
            assert tuple(map(int, since)) <= released, xml.name

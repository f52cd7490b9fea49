# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every source file says its license (SPDX), as a distribution requires; the text
is in COPYING. tools/spdx-headers adds the line where it is missing."""

from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
LINE = "SPDX-License-Identifier: LGPL-2.1-or-later"


def sources() -> list[Path]:
    files = [path for tree in ("service", "lab", "bench", "tools", "tests")
             for path in (TOP / tree).rglob("*")
             if path.is_file() and "__pycache__" not in path.parts
             and "results" not in path.parts
             and (path.suffix == ".py" or path.read_bytes()[:2] == b"#!")]
    files += [*TOP.glob("interfaces/*.xml"), *TOP.glob("dbus-conf/*"),
              *TOP.glob("systemd/*"), *TOP.glob("lab/*.conf"), *TOP.glob("lab/*.rules"),
              TOP / "etc/storage.conf", TOP / "Makefile"]
    return files


def test_every_source_file_carries_the_spdx_line_at_its_top():
    files = sources()
    assert len(files) > 200 and TOP / "service/solidice_storage/daemon.py" in files
    missing = [str(path.relative_to(TOP)) for path in files
               if not any(LINE in line for line in path.read_text().splitlines()[:5])]
    assert missing == []


def test_the_package_metadata_names_the_same_license():
    assert 'license = "LGPL-2.1-or-later"' in (TOP / "pyproject.toml").read_text()

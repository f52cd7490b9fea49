# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README and docs/ send a reader only to files the repository has."""

import re
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
PAGES = [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]


def test_every_relative_link_names_a_file_of_the_repository():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(TOP)}: {target}")
    assert broken == []


def test_no_page_points_outside_the_repository():
    for page in PAGES:
        text = page.read_text()
        assert "../shared" not in text and not re.search(r"\bissue \d", text), page.name


def test_the_license_text_is_the_lgpl_2_1():
    text = (TOP / "COPYING").read_text()
    assert text.lstrip().startswith("GNU LESSER GENERAL PUBLIC LICENSE")
    assert "Version 2.1, February 1999" in text

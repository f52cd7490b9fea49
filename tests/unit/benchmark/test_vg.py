# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/vg.py: the LVM metadata text that gives the bench VG its N LVs at once."""

import re

import pytest

from bench.vg import lv_text, lvm_uuid, with_lvs
from lab.host import LabError

# An empty VG's `vgcfgbackup` text, cut to what with_lvs reads.
BACKUP = """benchvg {
\tid = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg"
\textent_size = 8192

\tphysical_volumes {

\t\tpv0 {
\t\t\tdevice = "/dev/loop0"
\t\t\tpe_start = 32768
\t\t\tpe_count = 10
\t\t}
\t}
}
"""


def test_an_lvm_uuid_has_lvm_s_grouping():
    assert re.fullmatch(r"\w{6}-\w{4}-\w{4}-\w{4}-\w{4}-\w{4}-\w{6}", lvm_uuid())


def test_an_lv_takes_one_extent_of_its_pv_at_its_index():
    text = lv_text(7, "pv0", 1700000000)
    assert text.startswith("\t\tlv00007 {\n")
    assert '\t\t\t\t\t"pv0", 7\n' in text and "extent_count = 1" in text
    assert "creation_time = 1700000000" in text and '"VISIBLE"' in text


def test_with_lvs_adds_the_lvs_inside_the_vg():
    text = with_lvs(BACKUP, 3, 2)
    assert text.count("segment1 {") == 3 and "\tlogical_volumes {" in text
    assert text.rstrip().endswith("\t}\n}") and text.index("physical_volumes") < \
        text.index("logical_volumes")


@pytest.mark.parametrize("backup, count, spare, message", [
    (BACKUP, 9, 2, "do not fit"),
    (BACKUP.replace("pe_count", "pe_total"), 1, 0, "not in the expected form"),
    (BACKUP.replace("physical_volumes", "logical_volumes"), 1, 0, "lists logical volumes"),
])
def test_with_lvs_refuses_what_it_cannot_place(backup, count, spare, message):
    with pytest.raises(LabError, match=message):
        with_lvs(backup, count, spare)

# SPDX-License-Identifier: LGPL-2.1-or-later
import io

import pytest

from solidice_storage.cli.format import (Progress, fields, human_size, humanize_sizes,
                                         parse_size, plural, table)


def test_human_size_uses_binary_units():
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(10 * 1024**3) == "10.0 GiB"
    assert human_size(1536 * 1024**2) == "1.5 GiB"
    assert human_size(2**63 - 1) == "8.0 EiB"


def test_table_aligns_columns():
    assert table([["vmstore", "200.0 GiB"]], ["NAME", "SIZE"]).splitlines() == [
        "NAME     SIZE", "vmstore  200.0 GiB"]


def test_parse_size_takes_binary_units_in_any_case():
    assert parse_size("4096") == 4096
    assert parse_size("10G") == parse_size("10gib") == 10 * 1024**3
    assert parse_size("1.5TiB") == 3 * 1024**4 // 2
    assert parse_size("0.5b") == 1                    # a fraction of a byte rounds up
    for text in ("ten", "0", "-1G", "5X"):
        with pytest.raises(ValueError):
            parse_size(text)
    with pytest.raises(ValueError, match="'-5G' is negative"):
        parse_size("-5G")


def test_the_service_s_sizes_in_bytes_become_human():
    assert humanize_sizes("volume group vg0 has 36507222016 bytes free; "
                          "1649267441664 are needed") == \
        "volume group vg0 has 34.0 GiB free; 1.5 TiB are needed"
    assert humanize_sizes("vg0 has 1024 bytes free; disk0 needs 2199023255552") == \
        "vg0 has 1.0 KiB free; disk0 needs 2.0 TiB"
    assert humanize_sizes("there is no running job 123456789") == \
        "there is no running job 123456789"
    exact = "disk0 is 8589934592 bytes, not the expected 8589934593"
    assert humanize_sizes(exact) == exact               # rounded, both read 8.0 GiB


def test_plural():
    assert [plural(n, "device") for n in (0, 1, 2)] == ["0 devices", "1 device",
                                                          "2 devices"]
    assert plural(1, "LUN") == "1 LUN" and plural(3, "LUN") == "3 LUNs"


def test_fields_humanize_sizes_flags_and_lists():
    assert fields({"size": 2048, "managed": True, "tags": (), "paths": (("sda", "active"),),
                   "progress": 0.5}).splitlines() == [
        "size:     2.0 KiB (2048 bytes)", "managed:  yes", "tags:     -",
        "paths:    sda active", "progress: 50%"]


def test_progress_on_a_pipe_is_a_line_every_ten_percent():
    stream = io.StringIO()
    bar = Progress("pv-move", stream)
    for fraction in (0.0, 0.05, 0.1, 0.15, 1.0):
        bar.update(fraction)
    bar.done()
    assert stream.getvalue().splitlines() == ["pv-move: 5%", "pv-move: 10%", "pv-move: 100%"]
    assert bar.shown


def test_progress_shows_nothing_until_work_is_done():
    stream = io.StringIO()
    bar = Progress("lv-snapshot", stream)
    bar.update(0.0)                     # then the service refuses: no "0%" before it
    bar.done()
    assert stream.getvalue() == "" and not bar.shown

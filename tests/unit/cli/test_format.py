import io

import pytest

from solidice_storage.cli.format import Progress, fields, human_size, parse_size, table


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
    assert stream.getvalue().splitlines() == ["pv-move: 0%", "pv-move: 10%", "pv-move: 100%"]
    assert bar.shown

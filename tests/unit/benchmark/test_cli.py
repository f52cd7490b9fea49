# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/cli.py: `python -m bench`'s options and where its results go."""

import argparse
from pathlib import Path

import pytest

from bench.cli import output_dir, parse_args, sizes
from bench.services import OurService


def test_sizes_are_a_comma_separated_list_of_counts():
    assert sizes("10") == [10] and sizes("100, 1000,") == [100, 1000]
    for text in ("", "0", "5,-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            sizes(text)


def test_the_defaults_are_the_full_run():
    args = parse_args([])
    assert args.lvs == [100, 1000, 10000] and args.repeats == 5
    assert args.property_reads == 50 and args.idle_seconds == 60
    assert args.services == ["ours", "lvmdbusd", "udisks2"] and not args.native


def test_a_tiny_run_as_make_bench_passes_it():
    args = parse_args(["--lvs", "10", "--repeats", "1", "--idle-seconds", "2",
                       "--services", "ours"])
    assert (args.lvs, args.repeats, args.idle_seconds, args.services) == (
        [10], 1, 2.0, ["ours"])


def test_profile_runs_our_daemon_with_debug(tmp_path):
    parse_args(["--profile", str(tmp_path)])
    assert OurService.debug
    parse_args([])
    assert not OurService.debug


def test_bad_counts_are_refused():
    with pytest.raises(SystemExit):
        parse_args(["--repeats", "0"])


def test_results_go_to_out_the_lab_s_results_or_bench_results(monkeypatch, tmp_path):
    assert output_dir(parse_args(["--out", str(tmp_path)])) == tmp_path
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "lab"))
    assert output_dir(parse_args([])) == tmp_path / "lab"
    native = output_dir(parse_args(["--native"]))
    assert native.parent == Path(__file__).resolve().parents[3] / "bench" / "results"
    assert native.name.endswith("-native")

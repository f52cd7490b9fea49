# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/common.py: the summaries and look-ups every phase writes with."""

from bench.common import get, number, summary


def test_a_summary_holds_the_median_the_bounds_and_the_runs():
    assert summary([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0,
                                        "runs": [3.0, 1.0, 2.0]}
    assert summary([]) == {"median": None, "min": None, "max": None, "runs": []}


def test_get_is_none_where_a_step_is_missing():
    results = {"sizes": {"100": {"ours": {"gmo": 1}}}}
    assert get(results, "sizes", "100", "ours", "gmo") == 1
    assert get(results, "sizes", "1000", "ours") is None
    assert get(results, "sizes", "100", "ours", "gmo", "median") is None


def test_number_shows_a_dash_for_nothing():
    assert number(None) == "-" and number(0.12345) == "0.123" and number(2, 1) == "2.0"

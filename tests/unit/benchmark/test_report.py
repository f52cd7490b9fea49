# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/report.py's tables, on made-up data."""

from bench import report


def summary(*runs: float) -> dict:
    return {"median": sorted(runs)[len(runs) // 2], "min": min(runs), "max": max(runs),
            "runs": list(runs)}


def summary_empty() -> dict:
    return {"median": None, "min": None, "max": None, "runs": []}


RESULTS = {
    "environment": {"emulation": "TCG", "date": "2026-12-02T00:00:00+00:00"},
    "args": {"repeats": 3},
    "sizes": {"100": {
        "raw": {"gmo": summary(0.3, 0.35, 0.4), "create": summary(0.8, 0.8, 0.9)},
        "ours": {"gmo": summary(0.1, 0.1, 0.1), "create": summary(1.6, 1.6, 1.6),
                 "create_failures": [], "create_did_not_finish": 0,
                 "lvm_processes": {"gmo": {"during": {"daemon": 0, "all": 0},
                                           "until_idle": {"daemon": 0, "all": 0}}}},
        "lvmdbusd": {"gmo": summary(0.2, 0.2, 0.2), "create": summary_empty(),
                     "create_failures": [], "create_did_not_finish": 3},
        "udisks2": {"not_runnable": "not runnable natively"},
    }},
}


def row(label_start: str) -> list[str]:
    return next(r for r in report.rows(RESULTS["sizes"]["100"], 100)
                if r[0].startswith(label_start))


def test_a_row_holds_cells_and_ratios_within_the_run():
    gmo = row("GetManagedObjects")
    assert gmo[1:5] == ["0.350 [0.300-0.400]", "0.100 [0.100-0.100]",
                        "0.200 [0.200-0.200]", "n/a"]
    assert gmo[5:] == ["0.50", "n/a", "0.29"]


def test_a_service_whose_calls_all_timed_out_did_not_finish():
    create = row("create")
    assert create[3] == "did not finish"
    assert create[7] == "2.00"                  # ours / raw


def test_markdown_names_what_could_not_run():
    text = report.markdown(RESULTS)
    assert "## N = 100 LVs" in text
    assert "udisks2: not runnable natively" in text


def test_merged_tables_keep_environments_apart():
    native = {**RESULTS, "environment": {"emulation": "native"}}
    text = report.merged_markdown([RESULTS, native])
    header = next(line for line in text.splitlines() if line.startswith("| figure"))
    assert "ours (TCG)" in header and "ours (native)" in header
    assert "ours/lvmdbusd (TCG)" in header and "ours/lvmdbusd (native)" in header

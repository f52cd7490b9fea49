# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bench's report: a markdown table per N and a chart, from bench.json.

    python bench/report.py RESULTS.json [--out DIR]      # bench.md, bench.png in DIR
    python bench/report.py --collect RESULTS.json         # copy to bench/results/<date>-<env>/
    python bench/report.py --merge A.json B.json --out DIR

A merged report puts each environment's columns side by side; ratios are only
ever taken within one environment (TCG slows Python ~17x, C ~7-11x).
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
SERVICES = ("ours", "lvmdbusd", "udisks2")
DID_NOT_FINISH = "did not finish"

# (label, key, kind): kind "time" = a summary or a number of seconds, "count" = an
# `lvm` process count path, "mib" = a memory figure, "cpu" = CPU seconds
FIGURES = (
    ("start → bus name [s]", "name_on_bus", "time"),
    ("start → all N LVs visible [s]", "ready", "time"),
    ("GetManagedObjects [s]", "gmo", "time"),
    ("list the VG's LVs [s]", "list", "time"),
    ("one property read (LV size) [ms]", "prop_read", "ms"),
    ("create 4 MiB LV [s]", "create", "time"),
    ("extend +4 MiB [s]", "extend", "time"),
    ("remove LV [s]", "remove", "time"),
    ("raw, with our --config and --devices: create / extend / remove [s]",
     ("create_as_ours", "extend_as_ours", "remove_as_ours"), "times"),
    ("outside lvcreate → InterfacesAdded, from its start [s]", "outside_from_start", "time"),
    ("outside lvcreate → InterfacesAdded, from its exit [s]", "outside_from_exit", "time"),
    ("failures: create / extend / remove", "failures", "failures"),
    ("idle CPU [CPU-s over the window]", "idle_cpu", "cpu"),
    ("VmRSS when ready [MiB]", ("memory_ready", "VmRSS"), "mib"),
    ("VmRSS at end [MiB]", ("memory_end", "VmRSS"), "mib"),
    ("VmHWM at end [MiB]", ("memory_end", "VmHWM"), "mib"),
    ("lvm processes: start → ready", ("lvm_processes_start", "daemon"), "int"),
    ("lvm processes: one GMO (by reply / until idle)", "gmo", "count"),
    ("lvm processes: one list", "list", "count"),
    ("lvm processes: one property read", "prop_read", "count"),
    ("lvm processes: one create", "create", "count"),
    ("lvm processes: one extend", "extend", "count"),
    ("lvm processes: one remove", "remove", "count"),
)
RATIO_KEYS = ("name_on_bus", "ready", "gmo", "list", "prop_read", "create", "extend",
              "remove", "outside_from_exit")
MUTATIONS = ("create", "extend", "remove")


def get(data, *keys):
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def median(section: dict | None, key: str) -> float | None:
    value = get(section, key)
    if isinstance(value, dict):
        return value.get("median")
    return value if isinstance(value, (int, float)) else None


def timing(value, scale: float = 1.0) -> str | None:
    """`median [min-max]` of a summary, a single figure as itself; None if empty."""
    if isinstance(value, (int, float)):
        return f"{value * scale:.3f}"
    if not isinstance(value, dict) or value.get("median") is None:
        return None
    digits = 3 if value["median"] * scale < 10 else 1
    return (f"{value['median'] * scale:.{digits}f} "
            f"[{value['min'] * scale:.{digits}f}-{value['max'] * scale:.{digits}f}]")


def count_cell(section: dict, key: str) -> str | None:
    counts = get(section, "lvm_processes", key)
    if not counts:
        return None
    during = get(counts, "during", "daemon")
    idle = get(counts, "until_idle", "daemon")
    if idle is None:                           # raw: the command itself, anyone's
        idle = get(counts, "until_idle", "all")
        return None if idle is None else str(idle)
    return f"{during} / {idle}"


def cell(section: dict | None, key, kind: str, n: int) -> str:
    """One service's cell: "n/a" where it does not apply, "did not finish" where
    every call ran past the client timeout."""
    if section is None or section.get("not_runnable"):
        return "n/a"
    if kind in ("time", "ms"):
        text = timing(section.get(key), 1000 if kind == "ms" else 1)
        unfinished = section.get(f"{key}_did_not_finish") or 0
        if text is None:
            if unfinished:
                return DID_NOT_FINISH
            return "error" if section.get("error") and key in ("ready", "name_on_bus") else "n/a"
        return text + (f" ({unfinished} did not finish)" if unfinished else "")
    if kind == "failures":
        if f"create_failures" not in section:
            return "n/a"
        return " / ".join(str(len(section.get(f"{op}_failures") or []) +
                              (section.get(f"{op}_did_not_finish") or 0)) for op in MUTATIONS)
    if kind == "cpu":
        cpu = section.get("idle_cpu")
        return "n/a" if not cpu else f"{cpu['own']:.2f} over {cpu['window_s']:g} s"
    if kind == "mib":
        value = get(section, *key)
        return "n/a" if value is None else f"{value:.1f}"
    if kind == "int":
        value = get(section, *key)
        return "n/a" if value is None else str(value)
    if kind == "count":
        return count_cell(section, key) or "n/a"
    return "n/a"


def ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or not b else f"{a / b:.2f}"


def rows(size: dict, n: int) -> list[list[str]]:
    """Rows: label, raw, ours, lvmdbusd, udisks2, ours/lvmdbusd, ours/udisks2, ours/raw."""
    raw = size.get("raw") or {}
    ours = size.get("ours") or {}
    out = []
    for label, key, kind in FIGURES:
        if kind == "times":           # raw only, and ours against it
            measured = all(median(raw, k) is not None for k in key)
            out.append([label, " / ".join(f"{median(raw, k):.3f}" for k in key)
                        if measured else "n/a", *["n/a"] * len(SERVICES), "", "",
                        " / ".join(ratio(median(ours, m), median(raw, k))
                                   for m, k in zip(MUTATIONS, key)) if measured else ""])
            continue
        raw_cell = "n/a"
        if kind in ("time", "ms") and key in raw:
            raw_cell = timing(raw[key], 1000 if kind == "ms" else 1) or "n/a"
        elif kind == "count" and key in (raw.get("lvm_processes") or {}):
            raw_cell = count_cell(raw, key) or "n/a"
        cells = [cell(size.get(name), key, kind, n) for name in SERVICES]
        if kind in ("time", "ms") and key in RATIO_KEYS:
            ratios = [ratio(median(ours, key), median(size.get(other), key))
                      for other in ("lvmdbusd", "udisks2")]
            ratios.append(ratio(median(ours, key), median(raw, key))
                          if key in MUTATIONS + ("gmo", "list", "prop_read") else "n/a")
        else:
            ratios = ["", "", ""]
        out.append([label.replace("N LVs", f"{n} LVs"), raw_cell, *cells, *ratios])
    return out


HEADER = ["figure", "raw lvm", "ours", "lvmdbusd", "udisks2", "ours/lvmdbusd",
          "ours/udisks2", "ours/raw"]


def table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def describe(results: dict) -> str:
    env = results.get("environment", {})
    packages = env.get("packages", {})
    args = results.get("args", {})
    versions = ", ".join(f"{name} {version}" for name, version in packages.items() if version)
    return (f"- date: {env.get('date')}; emulation: **{env.get('emulation')}** "
            f"({env.get('acceleration')}); kernel {env.get('kernel')}; "
            f"{env.get('cpus')} CPUs ({env.get('cpu_model')}), {env.get('memory_mib')} MiB\n"
            f"- packages: {versions}\n"
            f"- R = {args.get('repeats')} (medians [min-max]); property reads: "
            f"{args.get('property_reads')}; idle window {args.get('idle_seconds')} s; "
            f"lvm processes counted by {results.get('lvm_process_counting', '?')}")


NOTES = """Notes: "list" is VolumeGroup.ListLogicalVolumes for ours, a Get of Vg.Lvs for
lvmdbusd, and a GetManagedObjects for udisks2 (it has no per-VG list). Raw floors:
GMO = `lvm fullreport --reportformat json`, list = `lvs -- benchvg`, property =
`lvs -o lv_size benchvg/lv00000`, create / extend / remove = `lvcreate -L4m`,
`lvextend -L+4m`, `lvremove -y`. lvm processes: the daemon's children that exited by
the reply / by the time the machine was idle again (BSD process accounting).
"did not finish": past the client's timeout. "n/a": not applicable or not measured."""


def markdown(results: dict) -> str:
    parts = [f"# LVM bench ({get(results, 'environment', 'emulation')})", "",
             describe(results), ""]
    if results.get("error"):
        parts += [f"**The run stopped early: {results['error']}**", ""]
    for n, size in sorted(results.get("sizes", {}).items(), key=lambda item: int(item[0])):
        parts += [f"## N = {int(n):,} LVs", "", table(HEADER, rows(size, int(n))), ""]
        if get(size, "build", "other_lvs"):
            parts.append(f"- {size['build']['other_lvs']} LVs of other VGs were on the machine: "
                         "every service and the raw full reports read those too")
        for name in SERVICES:
            section = size.get(name) or {}
            if section.get("not_runnable"):
                parts.append(f"- {name}: {section['not_runnable']}")
            if section.get("error"):
                parts.append(f"- {name}: **failed**: {section['error']}")
            for op in MUTATIONS:
                for failure in (section.get(f"{op}_failures") or [])[:2]:
                    parts.append(f"- {name} {op} failure: {failure}")
        parts.append("")
    parts.append(NOTES)
    return "\n".join(parts) + "\n"


def merged_markdown(runs: list[dict]) -> str:
    """One table per N with each environment's columns; ratios within each only."""
    parts = ["# LVM bench, environments side by side", ""]
    for results in runs:
        parts += [describe(results), ""]
    sizes = sorted({int(n) for results in runs for n in results.get("sizes", {})})
    for n in sizes:
        header, columns = ["figure"], []
        for results in runs:
            env = get(results, "environment", "emulation")
            size = results.get("sizes", {}).get(str(n))
            header += [f"{name} ({env})" for name in HEADER[1:]]
            columns.append(rows(size, n) if size else None)
        body = []
        for index, (label, _, _) in enumerate(FIGURES):
            row = [label.replace("N LVs", f"{n} LVs")]
            for column in columns:
                row += column[index][1:] if column else ["n/a"] * (len(HEADER) - 1)
            body.append(row)
        parts += [f"## N = {n:,} LVs", "", table(header, body), ""]
    parts.append(NOTES)
    return "\n".join(parts) + "\n"


CHART = (("GetManagedObjects", "gmo", "gmo"), ("create 4 MiB LV", "create", "create"),
         ("remove LV", "remove", "remove"), ("start → ready", "ready", None))


def chart(runs: list[dict], path: Path) -> None:
    """Latency against N, log-log: a panel per figure, a line per service (a marker
    per environment), raw LVM as a dashed floor."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(2, 2, figsize=(11, 8))
    colors = {"ours": "tab:blue", "lvmdbusd": "tab:orange", "udisks2": "tab:green",
              "raw": "black"}
    markers = ("o", "s", "^", "D")
    for axis, (title, key, raw_key) in zip(axes.flat, CHART):
        for index, results in enumerate(runs):
            env = get(results, "environment", "emulation")
            sizes = sorted(results.get("sizes", {}).items(), key=lambda item: int(item[0]))
            for name in (*SERVICES, "raw"):
                if name == "raw" and raw_key is None:
                    continue
                points = [(int(n), median(size.get(name), raw_key if name == "raw" else key))
                          for n, size in sizes]
                points = [(n, value) for n, value in points if value]
                if points:
                    axis.plot(*zip(*points), marker=markers[index % len(markers)],
                              linestyle="--" if name == "raw" else "-",
                              color=colors[name],
                              label=f"{'raw lvm' if name == 'raw' else name} ({env})")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("LVs in the VG (N)")
        axis.set_ylabel("seconds (median)")
        axis.grid(True, which="both", alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def write(results: dict, out: Path) -> None:
    """bench.md and bench.png of one run in `out` (bench.json is the bench's)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.md").write_text(markdown(results))
    chart([results], out / "bench.png")


def results_dir(results: dict) -> Path:
    """bench/results/<date>-<env>, e.g. 2026-12-02-tcg."""
    env = get(results, "environment")
    date = (env or {}).get("date", "unknown")[:10]
    emulation = ((env or {}).get("emulation") or "unknown").lower()
    return TOP / "bench" / "results" / f"{date}-{emulation}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--collect", action="store_true",
                        help="copy the JSON to bench/results/<date>-<env>/ and report there")
    parser.add_argument("--merge", action="store_true")
    args = parser.parse_args(argv)
    runs = [json.loads(path.read_text()) for path in args.json]
    if args.merge:
        out = args.out or TOP / "bench" / "results" / "merged"
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.md").write_text(merged_markdown(runs))
        chart(runs, out / "bench.png")
        print(out / "bench.md")
        return 0
    for path, results in zip(args.json, runs):
        out = args.out or (results_dir(results) if args.collect else path.parent)
        out.mkdir(parents=True, exist_ok=True)
        if args.collect and path.resolve() != (out / "bench.json").resolve():
            shutil.copyfile(path, out / "bench.json")
        write(results, out)
        print(out / "bench.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: LGPL-2.1-or-later
"""LVM at scale: our service next to raw `lvm`, lvmdbusd and udisks2 (LVM2 module).

`python -m bench`'s command line: the options, the checks before anything is
touched, and the report at the end (see the package's docstring for what it does).
"""

import argparse
import asyncio
import contextlib
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from . import common, report
from .common import get, log
from .environment import in_lab_guest
from .isolation import PrivateBus
from .run import Saver, bench
from .services import OurService

TOP = Path(__file__).resolve().parents[1]


def sizes(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of LV counts, each >= 1")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--lvs", type=sizes, default=[100, 1000, 10000], metavar="N,N,...",
                        help="LV counts, one VG each (default 100,1000,10000)")
    parser.add_argument("--repeats", type=int, default=5, metavar="R",
                        help="runs of each timed step; the median is reported (default 5)")
    parser.add_argument("--property-reads", type=int, default=50, metavar="K",
                        help="property reads timed (default 50)")
    parser.add_argument("--idle-seconds", type=float, default=60, metavar="S",
                        help="the idle window for each service's CPU use (default 60)")
    parser.add_argument("--services", type=lambda text: text.split(","),
                        default=["ours", "lvmdbusd", "udisks2"],
                        help="which services to measure (default ours,lvmdbusd,udisks2)")
    parser.add_argument("--phase-timeout", type=float, default=3600, metavar="S",
                        help="the bound on one service's phase at one N (default 3600)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy over each of our changes into DIR, and our daemon "
                             "with --debug (its commands timed in its log); not a "
                             "figure run: the sampling slows the daemon")
    parser.add_argument("--native", action="store_true",
                        help="on this host, not in the lab guest: a private bus, reads only")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where bench.json goes (default $LAB_RESULTS in the guest, "
                             "bench/results/<date>-native natively)")
    parser.add_argument("--outside-lab", action="store_true",
                        help="run although this does not look like the lab guest")
    args = parser.parse_args(argv)
    OurService.debug = args.profile is not None
    if args.repeats < 1 or args.property_reads < 1 or args.idle_seconds < 0:
        parser.error("--repeats and --property-reads must be at least 1")
    return args


def output_dir(args) -> Path:
    if args.out:
        return args.out
    if args.native:
        return TOP / "bench" / "results" / f"{time.strftime('%Y-%m-%d')}-native"
    return Path(os.environ.get("LAB_RESULTS", "/tmp/lab-results"))


def refusal(args) -> str | None:
    """Why the bench must not run here (it stops daemons and makes a VG), or None."""
    if os.geteuid() != 0:
        return "lvm_bench: run as root"
    if not args.native and not in_lab_guest() and not args.outside_lab:
        return ("lvm_bench: this does not look like the lab guest (no LAB_RESULTS, no "
                "virtme boot); it stops solidice-storaged and makes a VG. Use `make bench`, "
                "`--native` on a host, or pass --outside-lab.")
    if not (Path(sys.executable).parent / "solidice-storaged").exists():
        return ("lvm_bench: run it with the project's virtualenv python (the daemon is "
                "started from the same bin directory)")
    return None


def report_on(results: dict, args, out: Path) -> None:
    """The markdown table on stdout, natively the files too; a failure here only
    says so: the JSON is there, and bench/report.py redoes it."""
    try:
        print(report.markdown(results))
        if args.native:
            report.write(results, out)
    except Exception as error:
        print(f"the report failed: {type(error).__name__}: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The bench's exit status: 0 measured, 1 a failure or lvmdbusd in the way
    (what was measured is saved anyway), 2 refused to run here."""
    args = parse_args(argv)
    common.NATIVE = args.native
    refused = refusal(args)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    results: dict = {"schema": 2, "args": {
        "lvs": args.lvs, "repeats": args.repeats, "property_reads": args.property_reads,
        "idle_seconds": args.idle_seconds, "native": args.native}, "sizes": {}}
    save = Saver(results, output_dir(args))
    status = 0
    try:
        with PrivateBus() if args.native else contextlib.nullcontext():
            asyncio.run(bench(args, results, save))
    except Exception as error:          # report what was measured, then fail
        traceback.print_exc()
        results["error"] = f"{type(error).__name__}: {error}"
        status = 1
    if get(results, "lvmdbusd_checks", "seen_during"):
        status = 1
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save()
    log(f"results: {save.out / 'bench.json'}")
    report_on(results, args, save.out)
    return status

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The floor: the LVM commands as an administrator types them, and as our daemon
runs them, timed and counted in `lvm` processes."""

import asyncio

from lab.host import run
from solidice_storage.engine.host.lvm.commands import LvmCommands as Lvm
from solidice_storage.engine.host.runner import Runner

from . import acct
from .common import RAW_REPORTS, VG, summary, timed, wait_idle


async def daemon_report_argv() -> tuple[str, ...]:
    """The exact `lvm fullreport` our daemon runs for a full read, taken from its own
    engine code (one real run through its Runner), so the bench cannot drift from it."""
    runner = Runner()
    await Lvm(runner).report()
    return runner.history[-1]


def lvm_count(accounting, start: int, end: int, parents: set[int] | None = None) -> int | None:
    """`lvm` processes that exited between two marks (of `parents` only, if given)."""
    if accounting is None:
        return None
    return acct.count_lvm(accounting.between(start, end), parents)


async def raw_counted(accounting, argv: tuple[str, ...]) -> dict:
    """The `lvm` processes one raw command starts: 1, the floor."""
    mark = accounting.mark() if accounting else 0
    timed(*argv)
    await asyncio.sleep(0.2)
    return {"all": lvm_count(accounting, mark, accounting.mark() if accounting else 0)}


async def raw_figures(args, stats: dict, accounting) -> dict:
    """The commands as an administrator runs them, and our daemon's own report command
    (in the environment our Runner gives it). Creates activate the LV (the default)."""
    repeats = args.repeats
    reads = {**RAW_REPORTS,
             "list": ("lvs", "--reportformat", "json", "--", VG),
             "prop_read": ("lvs", "--reportformat", "json", "-o", "lv_size", "--units", "b",
                           "--", f"{VG}/lv00000")}
    figures: dict = {key: summary([timed(*argv) for _ in range(repeats)])
                     for key, argv in reads.items()}
    figures["gmo"] = figures["fullreport"]          # the floor of a full read
    argv = await daemon_report_argv()
    runner_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    figures["daemon_report"] = summary([timed(*argv, env=runner_env)
                                        for _ in range(repeats)])
    figures["daemon_report_argv"] = list(argv)
    figures["lvm_processes"] = {"gmo": {"until_idle": await raw_counted(accounting,
                                                                       RAW_REPORTS["fullreport"])},
                                "prop_read": {"until_idle": await raw_counted(accounting,
                                                                             reads["prop_read"])}}
    if args.native:
        return figures
    figures.update(await raw_changes(repeats, stats))
    return figures


def change_commands() -> dict:
    """Key → the command of change number i: creates, extends and removes as an
    administrator types them, and the same as our daemon runs them (its --config
    and --devices)."""
    from solidice_storage.engine.host.lvm.commands import CONFIG
    (device,) = run("vgs", "--noheadings", "-o", "pv_name", "--", VG).stdout.split()
    ours = ("--config", CONFIG, "--devices", device)
    return {
        "create": lambda i: ("lvcreate", "-y", "-L4m", "-n", f"raw{i}", "--", VG),
        "extend": lambda i: ("lvextend", "-L+4m", "--", f"{VG}/raw{i}"),
        "remove": lambda i: ("lvremove", "-y", "--", f"{VG}/raw{i}"),
        "create_as_ours": lambda i: ("lvm", "lvcreate", *ours, "-y", "-L4m", "-n",
                                     f"rawf{i}", "--", VG),
        "extend_as_ours": lambda i: ("lvm", "lvextend", *ours, "-L+4m", "--",
                                     f"{VG}/rawf{i}"),
        "remove_as_ours": lambda i: ("lvm", "lvremove", *ours, "-y", "--", f"{VG}/rawf{i}")}


async def raw_changes(repeats: int, stats: dict) -> dict:
    """Each change `repeats` times, each after an idle wait."""
    figures: dict = {}
    for key, argv_of in change_commands().items():
        runs = []
        for i in range(repeats):
            stats["idle_timeouts"] += not await wait_idle()
            runs.append(timed(*argv_of(i)))
        figures[key] = summary(runs)
    figures["lvcreate"], figures["lvremove"] = figures["create"], figures["remove"]
    figures["lvextend"] = figures["extend"]
    return figures

"""solidice-storagectl: the command line over org.solidice.Storage, on the client.

Subcommands follow the seed's levels (lun, iscsi, vg, pv, lv, nfs, job), plus
`status`, `monitor` and `completion`. Human output is aligned tables with binary
sizes; `--json` prints the models for scripts. Errors are one sentence on stderr
(`--debug` shows the traceback). Exit codes: 0 done, 1 the service refused or
failed (its message is printed), 2 bad usage, 3 the service is not reachable.
"""

import argparse
import asyncio
import contextlib
import getpass
import json
import re
import sys
import traceback
from typing import Any, Callable

from . import validation
from .cli_format import Progress, fields, human_size, parse_size, table
from .client import (NotAuthorizedCanObtainError, NotAuthorizedError,
                     ServiceUnavailableError, StorageClient, StorageClientError,
                     events)
from .client.objects import StorageObject

EXIT_DONE, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
PROG = "solidice-storagectl"

__all__ = ["main", "human_size", "table", "parse_size"]


class Output:
    """What a command shows: `data` for --json, `text` for people."""

    def __init__(self, data: Any, text: str) -> None:
        self.data, self.text = data, text


def dump(handle: StorageObject) -> dict[str, Any]:
    return {"object_path": handle.object_path, **handle.state.model_dump(mode="json")}


class Tree:
    """The object tree read once (GetManagedObjects), for names across objects."""

    def __init__(self, handles: list[StorageObject]) -> None:
        self.handles = handles
        self.vg_names = {h.uuid: h.name for h in handles if h.KIND == "VolumeGroup"}

    @classmethod
    async def read(cls, storage: StorageClient) -> "Tree":
        return cls(await storage.objects())

    def of(self, kind: str) -> list[StorageObject]:
        return [h for h in self.handles if h.KIND == kind]

    def lv_name(self, lv: StorageObject) -> str:
        return f"{self.vg_names.get(lv.volume_group, '?')}/{lv.name}"


def listing(handles: list[StorageObject], header: list[str],
            row: Callable[[Any], list]) -> Output:
    return Output([dump(h) for h in handles], table([row(h) for h in handles], header))


def info(handle: StorageObject, **extra: Any) -> Output:
    values = {**handle.state.model_dump(), **extra}
    return Output({**dump(handle), **extra}, fields(values))


def done(handle: StorageObject | None, text: str) -> Output:
    return Output(dump(handle) if handle is not None else {}, text)


def call_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"no_user_interaction": True} if args.non_interactive else {}


async def with_progress(storage: StorageClient, operation: str, call) -> Any:
    """Run `call` (a coroutine) showing the progress of the job it starts."""
    bar = Progress(operation)
    watching, finished = asyncio.Event(), asyncio.Event()

    async def follow() -> None:
        async for event in storage.watch(watching):
            if (isinstance(event, (events.ObjectAdded, events.ObjectChanged))
                    and event.kind == "Job" and event.object.operation == operation):
                bar.update(event.object.progress)
            elif isinstance(event, events.JobCompleted):
                finished.set()

    follower = asyncio.create_task(follow())
    await watching.wait()
    try:
        result = await call
        # The job's signals came before the reply; let the follower show them.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(finished.wait(), 0.5)
        if bar.shown:
            bar.update(1.0)
        return result
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)   # the service may be gone
        bar.done()


async def follow_job(job, operation: str) -> None:
    bar = Progress(operation)
    try:
        async for fraction in job.follow():
            bar.update(fraction)
    finally:
        bar.done()


# ---- status and LUNs ----

async def status(storage, args) -> Output:
    host = await storage.host()
    data = host.model_dump(mode="json")
    counts = {k: len(getattr(host, k)) for k in ("luns", "volume_groups", "mounts",
                                                 "iscsi_sessions")}
    return Output(data, fields({"version": host.version, "multipath": host.multipath,
                                "iscsi_initiator_name": host.iscsi_initiator_name,
                                **counts}))


async def lun_list(storage, args) -> Output:
    return listing(await storage.luns(),
                   ["WWID", "DEVICE", "SIZE", "TRANSPORT", "PATHS", "STATUS"],
                   lambda lun: [lun.wwid, lun.device, human_size(lun.size), lun.transport,
                                len(lun.paths) if lun.multipath else "-", lun.status])


async def lun_info(storage, args) -> Output:
    return info(await storage.lun(args.lun))


# ---- iSCSI ----

def chap_password(args) -> str | None:
    """The CHAP secret: `--password -` (or a user name without a password) reads it
    from standard input, prompting on a terminal, so that it stays off the command
    line, which every user of the host can read in /proc."""
    if args.password not in (None, "-") or (args.password is None and not args.username):
        return args.password
    if sys.stdin.isatty():
        return getpass.getpass(f"CHAP password for {args.username}: ")
    return sys.stdin.readline().rstrip("\n")


async def iscsi_discover(storage, args) -> Output:
    found = await storage.discover_iscsi_targets(
        args.portal, username=args.username, password=chap_password(args),
        timeout=args.timeout, **call_options(args))
    return Output([t.model_dump() for t in found],
                  table([[t.target, t.portal] for t in found], ["TARGET", "PORTAL"]))


async def iscsi_login(storage, args) -> Output:
    session = await with_progress(storage, "iscsi-login", storage.login_iscsi(
        args.portal, args.target, username=args.username, password=chap_password(args),
        node_startup=args.node_startup, timeout=args.timeout, **call_options(args)))
    return done(session, f"logged in to {session.target} through {session.portal} "
                         f"({len(session.luns)} LUNs)")


async def iscsi_logout(storage, args) -> Output:
    await storage.logout_iscsi(args.portal, args.target, **call_options(args))
    return done(None, f"logged out of {args.target} through {args.portal}")


async def iscsi_sessions(storage, args) -> Output:
    return listing(await storage.iscsi_sessions(), ["TARGET", "PORTAL", "LUNS"],
                   lambda s: [s.target, s.portal, len(s.luns)])


# ---- volume groups and physical volumes ----

async def vg_list(storage, args) -> Output:
    return listing(await storage.volume_groups(),
                   ["NAME", "SIZE", "FREE", "PVS", "MANAGED"],
                   lambda vg: [vg.name, human_size(vg.size), human_size(vg.free_size),
                               len(vg.physical_volumes), "yes" if vg.managed else "no"])


async def vg_info(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    lvs = await vg.list_logical_volumes()
    return info(vg, logical_volumes=tuple(lv.name for lv in lvs))


async def vg_create(storage, args) -> Output:
    vg = await storage.create_volume_group(args.name, args.devices, wipe=args.wipe or None,
                                           extent_size=args.extent_size,
                                           **call_options(args))
    return done(vg, f"created volume group {vg.name} ({human_size(vg.size)} on "
                    f"{len(vg.physical_volumes)} devices)")


async def vg_remove(storage, args) -> Output:
    await storage.remove_volume_group(args.vg, force=args.force or None,
                                      **call_options(args))
    return done(None, f"removed volume group {args.vg}")


async def vg_extend(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    await vg.extend(args.devices, wipe=args.wipe or None, **call_options(args))
    await vg.refresh()
    return done(vg, f"extended {vg.name} to {human_size(vg.size)}")


async def pv_list(storage, args) -> Output:
    tree = await Tree.read(storage)
    pvs = tree.of("PhysicalVolume")
    if args.vg:
        vg = await storage.volume_group(args.vg)
        pvs = [pv for pv in pvs if pv.volume_group == vg.uuid]
    return listing(pvs, ["DEVICE", "VG", "SIZE", "FREE", "UUID"],
                   lambda pv: [pv.device, tree.vg_names.get(pv.volume_group, "-"),
                               human_size(pv.size), human_size(pv.free_size), pv.uuid])


async def pv_info(storage, args) -> Output:
    return info(await storage.physical_volume(args.pv))


async def pv_remove(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    job = await vg.remove_physical_volume(args.pv, move_data=args.move_data or None,
                                          **call_options(args))
    if job is not None:
        await follow_job(job, "pv-move")
    return done(None, f"removed {args.pv} from {vg.name}")


# ---- logical volumes ----

async def lv_list(storage, args) -> Output:
    tree = await Tree.read(storage)
    lvs = tree.of("LogicalVolume")
    if args.vg:
        vg = await storage.volume_group(args.vg)
        lvs = [lv for lv in lvs if lv.volume_group == vg.uuid]
    return listing(lvs, ["VG", "NAME", "SIZE", "ACTIVE", "ATTR"],
                   lambda lv: [tree.vg_names.get(lv.volume_group, "?"), lv.name,
                               human_size(lv.size), "yes" if lv.active else "no",
                               lv.attributes])


async def lv_info(storage, args) -> Output:
    return info(await storage.logical_volume(args.lv))


async def lv_create(storage, args) -> Output:
    vg = await storage.volume_group(args.vg)
    lv = await vg.create_logical_volume(args.name, args.size,
                                        activate=False if args.inactive else None,
                                        **call_options(args))
    return done(lv, f"created {vg.name}/{lv.name} ({human_size(lv.size)}) at {lv.path}")


async def lv_extend(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    grow, to = args.size
    if to is not None:                  # a new total: add the difference, once
        if to <= lv.size:
            raise ValueError(f"{args.lv} is already {human_size(lv.size)}; "
                             f"write +SIZE to add to it")
        grow = to - lv.size
    await lv.extend(grow, expected_size=lv.size, **call_options(args))
    return done(lv, f"extended {args.lv} to {human_size(lv.size)}")


async def lv_remove(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    await lv.remove(force=args.force or None, **call_options(args))
    return done(None, f"removed {args.lv}")


async def lv_snapshot(storage, args) -> Output:
    lv = await storage.logical_volume(args.lv)
    snap = await with_progress(storage, "lv-snapshot", lv.snapshot(
        args.name, args.size, **call_options(args)))
    return done(snap, f"created snapshot {snap.name} of {args.lv} "
                      f"({human_size(snap.size)}) at {snap.path}")


# ---- NFS ----

NFS_OPTIONS = {key: signature for key, (signature, _) in
               validation.OPTIONS["MountNfs"].items()}


async def nfs_list(storage, args) -> Output:
    return listing(await storage.mounts(), ["LOCAL PATH", "SERVER", "REMOTE PATH",
                                            "PERSISTENT", "OPTIONS"],
                   lambda m: [m.local_path, m.server, m.remote_path,
                              "yes" if m.persistent else "no", m.options])


async def nfs_mount(storage, args) -> Output:
    server, _, remote = args.source.rpartition(":")
    if not server or not remote:
        raise ValueError(f"{args.source!r} is not SERVER:PATH")
    given = {key.replace("-", "_"): getattr(args, "nfs_" + key.replace("-", "_"))
             for key in NFS_OPTIONS}
    given = {k: (None if v is False else v) for k, v in given.items()}
    mount = await with_progress(storage, "nfs-mount", storage.mount_nfs(
        server, remote, args.local_path,
        **given, **call_options(args)))
    return done(mount, f"mounted {mount.server}:{mount.remote_path} on {mount.local_path} "
                       f"({mount.options})")


async def nfs_unmount(storage, args) -> Output:
    await storage.unmount(args.local_path, args.force, **call_options(args))
    return done(None, f"unmounted {args.local_path}")


# ---- jobs and changes ----

async def job_list(storage, args) -> Output:
    return listing(await storage.jobs(), ["ID", "OPERATION", "PROGRESS", "UID",
                                          "CANCELABLE"],
                   lambda j: [j.id, j.operation, f"{j.progress:.0%}", j.started_by_uid,
                              "yes" if j.cancelable else "no"])


async def job_cancel(storage, args) -> Output:
    job = await storage.job(args.job)
    await job.cancel(**call_options(args))
    return done(None, f"asked job {job.id} ({job.operation}) to stop")


def describe(event: events.Event) -> tuple[dict, str]:
    if isinstance(event, events.ObjectAdded):
        return ({"event": "added", "kind": event.kind, **dump(event.object)},
                f"added    {event.kind} {event.object.key}")
    if isinstance(event, events.ObjectRemoved):
        return ({"event": "removed", "kind": event.kind, "path": event.path,
                 "key": event.key}, f"removed  {event.kind} {event.key}")
    if isinstance(event, events.ObjectChanged):
        model = event.object.state
        changes = " ".join(f"{name}={getattr(model, name)}" for name in sorted(event.changed))
        return ({"event": "changed", "kind": event.kind, "changed": sorted(event.changed),
                 **dump(event.object)}, f"changed  {event.kind} {model.key} {changes}")
    if isinstance(event, events.JobCompleted):
        outcome = "succeeded" if event.success else f"failed: {event.message}"
        return ({"event": "completed", "kind": "Job", "path": event.path,
                 "job": event.job_id, "success": event.success, "message": event.message},
                f"job {event.job_id} {outcome}")
    return ({"event": "host-changed", "changed": sorted(event.changed)},
            f"changed  Host {' '.join(sorted(event.changed))}")


async def monitor(storage, args) -> None:
    print("watching org.solidice.Storage; Ctrl-C to stop", file=sys.stderr, flush=True)
    async for event in storage.watch():
        data, text = describe(event)
        print(json.dumps(data) if args.json else text, flush=True)


# ---- the command tree ----

def size_argument(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def grow_argument(text: str) -> tuple[int, int | None]:
    """`+SIZE` adds (the seed's extendLV); `SIZE` is the new total."""
    if text.startswith("+"):
        return size_argument(text[1:]), None
    return 0, size_argument(text)


def add(verbs, name: str, run, help: str, example: str, *arguments) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                              epilog=f"Example: {PROG} {example}",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=run)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    return parser


def noun(commands, name: str, help: str, example: str):
    parser = commands.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                                 epilog=f"Example: {PROG} {example}")
    return parser.add_subparsers(dest="verb", required=True, metavar="VERB")


def arg(*flags: str, **options: Any) -> tuple:
    return flags, options


CHAP = [arg("--username", help="CHAP user name"),
        arg("--password", help="CHAP password; leave it out (or give '-') to type it or "
                               "pipe it in: a command line is readable by every user")]
TIMEOUT = arg("--timeout", type=int, metavar="SECONDS", help="give up after this long")
FORCE = arg("--force", action="store_true",
            help="also when the service did not create the volume group")
WIPE = arg("--wipe", action="store_true", help="allow devices holding a signature")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG, description="Manage a host's storage (LUNs, iSCSI, LVM, NFS) through "
        "the org.solidice.Storage service.",
        epilog=f"Example: {PROG} lv create vmstore disk0 10G\n\nExit codes: 0 done, "
               "1 the service refused or failed, 2 bad usage, 3 the service is not "
               "reachable.", formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--json", action="store_true", help="print JSON for scripts")
    top.add_argument("--session", action="store_true",
                     help="use the session bus (solidice-storaged --sim --session)")
    top.add_argument("--address", help="use the bus at this D-Bus address")
    top.add_argument("--timeout", dest="call_timeout", type=float, metavar="SECONDS",
                     help="wait this long for a change (default 300)")
    top.add_argument("--non-interactive", action="store_true",
                     help="never ask for a password: fail if polkit would ask")
    top.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add(commands, "status", status, "the host at a glance", "status")
    add(commands, "monitor", monitor, "print changes as they happen (Ctrl-C stops)",
        "--json monitor")
    add(commands, "completion", None, "print a shell completion script",
        "completion bash > /etc/bash_completion.d/solidice-storagectl",
        arg("shell", choices=["bash"]))

    lun = noun(commands, "lun", "LUNs (multipath maps, never their paths)", "lun list")
    add(lun, "list", lun_list, "list the LUNs", "lun list")
    add(lun, "info", lun_info, "show one LUN", "lun info naa.6001405d0e1f2a3b4c5d6e7f80910001",
        arg("lun", help="WWID (any spelling), device or object path"))

    iscsi = noun(commands, "iscsi", "iSCSI targets and sessions", "iscsi discover 192.0.2.10")
    add(iscsi, "discover", iscsi_discover, "ask a portal for its targets",
        "iscsi discover 192.0.2.10", arg("portal", help="host[:port]"), *CHAP, TIMEOUT)
    add(iscsi, "login", iscsi_login, "log in to a target",
        "iscsi login 192.0.2.10 iqn.2003-01.org.example:data --node-startup automatic",
        arg("portal"), arg("target"), *CHAP, TIMEOUT,
        arg("--node-startup", choices=["manual", "automatic"],
            help="automatic: log in again at boot"))
    add(iscsi, "logout", iscsi_logout, "log out of a target through a portal",
        "iscsi logout 192.0.2.10 iqn.2003-01.org.example:data", arg("portal"), arg("target"))
    add(iscsi, "sessions", iscsi_sessions, "list the iSCSI sessions", "iscsi sessions")

    vg = noun(commands, "vg", "volume groups", "vg list")
    add(vg, "list", vg_list, "list the volume groups", "vg list")
    add(vg, "info", vg_info, "show one volume group", "vg info vmstore",
        arg("vg", help="name, UUID or object path"))
    add(vg, "create", vg_create, "create a volume group on devices (pvcreate as needed)",
        "vg create vg0 36001405d0e1f2a3b4c5d6e7f80910003 /dev/mapper/mpathb",
        arg("name"), arg("devices", nargs="+", metavar="DEVICE", help="WWID or /dev path"),
        WIPE, arg("--extent-size", type=size_argument, metavar="SIZE", help="e.g. 4M"))
    add(vg, "remove", vg_remove, "remove a volume group, its LVs and its PV labels",
        "vg remove vg0", arg("vg"), FORCE)
    add(vg, "extend", vg_extend, "add devices to a volume group",
        "vg extend vg0 36001405d0e1f2a3b4c5d6e7f80910004", arg("vg"),
        arg("devices", nargs="+", metavar="DEVICE"), WIPE)

    pv = noun(commands, "pv", "physical volumes", "pv list vmstore")
    add(pv, "list", pv_list, "list physical volumes", "pv list vmstore",
        arg("vg", nargs="?", help="only this volume group's"))
    add(pv, "info", pv_info, "show one physical volume",
        "pv info /dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001",
        arg("pv", help="UUID, device, LUN WWID or object path"))
    add(pv, "remove", pv_remove, "take a physical volume out of its volume group",
        "pv remove vg0 /dev/mapper/36001405d0e1f2a3b4c5d6e7f80910004 --move-data",
        arg("vg"), arg("pv"),
        arg("--move-data", action="store_true", help="move its data to the other PVs first"))

    lv = noun(commands, "lv", "logical volumes", "lv list vmstore")
    add(lv, "list", lv_list, "list logical volumes", "lv list vmstore",
        arg("vg", nargs="?", help="only this volume group's"))
    add(lv, "info", lv_info, "show one logical volume", "lv info vmstore/templates",
        arg("lv", help="VG/LV, UUID, /dev path or object path"))
    add(lv, "create", lv_create, "create a logical volume", "lv create vg0 disk0 10G",
        arg("vg"), arg("name"),
        arg("size", type=size_argument, help="bytes, or 10G, 512MiB, 1.5TiB"),
        arg("--inactive", action="store_true", help="do not activate it"))
    add(lv, "extend", lv_extend, "grow a logical volume", "lv extend vg0/disk0 +5G",
        arg("lv"), arg("size", type=grow_argument, metavar="[+]SIZE",
                       help="+SIZE adds SIZE; SIZE is the new total"))
    add(lv, "remove", lv_remove, "remove a logical volume", "lv remove vg0/disk0",
        arg("lv"), arg("--force", action="store_true",
                       help="also in a volume group the service did not create"))
    add(lv, "snapshot", lv_snapshot, "snapshot a logical volume",
        "lv snapshot vg0/disk0 disk0-snap 1G", arg("lv"), arg("name"),
        arg("size", type=size_argument, help="copy-on-write space"))

    nfs = noun(commands, "nfs", "NFS mounts", "nfs list")
    add(nfs, "list", nfs_list, "list the NFS mounts", "nfs list")
    mount = add(nfs, "mount", nfs_mount, "mount an NFS export (nosuid,nodev; soft unless "
                "--hard)", "nfs mount nfs.example.com:/export/vms /srv/nfs/vms --vers 4.2 "
                "--create-mountpoint", arg("source", metavar="SERVER:PATH"),
                arg("local_path", metavar="LOCAL_PATH"))
    for key, signature in NFS_OPTIONS.items():
        dest = "nfs_" + key.replace("-", "_")
        if signature == "b":
            mount.add_argument(f"--{key}", dest=dest, action="store_true")
        else:
            mount.add_argument(f"--{key}", dest=dest, type=str if signature == "s" else int)
    add(nfs, "unmount", nfs_unmount, "unmount an NFS mount", "nfs unmount /srv/nfs/vms",
        arg("local_path", metavar="LOCAL_PATH"),
        arg("--force", action="store_true", help="detach it even in use or when its "
                                                 "server is dead"))

    job = noun(commands, "job", "running jobs", "job list")
    add(job, "list", job_list, "list the running jobs", "job list")
    add(job, "cancel", job_cancel, "cancel a job", "job cancel 3", arg("job", help="its number"))
    return top


def completion_script(top: argparse.ArgumentParser) -> str:
    """A bash completion script for the whole command tree, made from the parser."""
    words: dict[str, list[str]] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        options = [o for a in parser._actions for o in a.option_strings]
        subcommands = [a for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction)]
        names = [n for a in subcommands for n in a.choices]
        choices = [c for a in parser._actions if not a.option_strings and a.choices
                   and not isinstance(a, argparse._SubParsersAction) for c in a.choices]
        words[path] = names + choices + options
        for action in subcommands:
            for name, child in action.choices.items():
                walk(child, f"{path} {name}".strip())

    walk(top, "")
    cases = "\n".join(f'        "{path}") words="{" ".join(w)}" ;;' for path, w in words.items())
    known = "|".join(words)
    return f"""# bash completion for {PROG}; made by `{PROG} completion bash`
_solidice_storagectl() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} path="" word words i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        case "|{known}|" in
            *"|${{path:+$path }}$word|"*) path="${{path:+$path }}$word" ;;
        esac
    done
    case "$path" in
{cases}
        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -F _solidice_storagectl {PROG}
"""


# The service's messages name its option keys ("pass force=true"); say the flag.
_FLAGS = sorted({key for table in validation.OPTIONS.values() for key in table}, key=len,
                reverse=True)
_OPTION_ADVICE = re.compile(rf"\bpass ({'|'.join(map(re.escape, _FLAGS))})(?:=true)?\b")


def advice(error: StorageClientError) -> str:
    """The error as one sentence that says what to do, in this command's words."""
    message = _OPTION_ADVICE.sub(r"pass --\1", error.message)
    if isinstance(error, NotAuthorizedCanObtainError):
        return (f"{message}; run it again where you can authenticate (a desktop "
                "session or pkttyagent), or as root")
    if isinstance(error, NotAuthorizedError):
        return f"{message}; run it as root, or ask an administrator to allow it"
    return message


async def run(args: argparse.Namespace) -> int:
    timeouts = {"change_timeout": args.call_timeout} if args.call_timeout else {}
    async with StorageClient.connect(session=args.session, address=args.address,
                                     **timeouts) as storage:
        output = await args.run(storage, args)
    if output is not None:
        print(json.dumps(output.data, indent=2) if args.json else output.text)
    return EXIT_DONE


def fail(args: argparse.Namespace, message: str, code: int) -> int:
    if args.debug:
        traceback.print_exc()
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> None:
    top = parser()
    args = top.parse_args(argv)
    if args.command == "completion":
        print(completion_script(top), end="")
        sys.exit(EXIT_DONE)
    try:
        sys.exit(asyncio.run(run(args)))
    except KeyboardInterrupt:
        sys.exit(EXIT_DONE if args.command == "monitor" else 130)
    except ServiceUnavailableError as error:
        sys.exit(fail(args, advice(error), EXIT_UNREACHABLE))
    except StorageClientError as error:
        sys.exit(fail(args, advice(error), EXIT_FAILED))
    except ValueError as error:            # what the command line itself refused
        sys.exit(fail(args, str(error), EXIT_USAGE))


if __name__ == "__main__":
    main()

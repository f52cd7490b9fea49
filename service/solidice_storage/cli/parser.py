"""The command tree declared as data, as stratis-cli's `_parser/` does: each level is
a table of verbs with their help, example and arguments, and `build_parser` turns
the whole table into argparse once. Help texts and options are the CLI's contract
with its users: change them here only on purpose."""

import argparse
from dataclasses import dataclass, field
from typing import Any, Callable

from . import (host, iscsi, job, logical_volume, lun, nfs, physical_volume,
               volume_group)
from .format import parse_size

PROG = "solidice-storagectl"
DESCRIPTION = ("Manage a host's storage (LUNs, iSCSI, LVM, NFS) through the "
               "org.solidice.Storage service.")
EPILOG = (f"Example: {PROG} lv create vmstore disk0 10G\n\nExit codes: 0 done, "
          "1 the service refused or failed, 2 bad usage, 3 the service is not "
          "reachable.")


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


def arg(*flags: str, **options: Any) -> tuple:
    return flags, options


@dataclass(frozen=True)
class Command:
    """A verb: what runs it (None: main handles it), its help, an example."""

    run: Callable | None
    help: str
    example: str
    arguments: tuple = ()


@dataclass(frozen=True)
class Level:
    """A noun (`vg`, `lv`, ...): its verbs by name."""

    help: str
    example: str
    verbs: dict[str, Command] = field(default_factory=dict)


CHAP = (arg("--username", help="CHAP user name"),
        arg("--password", help="CHAP password; leave it out (or give '-') to type it or "
                               "pipe it in: a command line is readable by every user"))
TIMEOUT = arg("--timeout", type=int, metavar="SECONDS", help="give up after this long")
FORCE = arg("--force", action="store_true",
            help="also when the service did not create the volume group")
WIPE = arg("--wipe", action="store_true", help="allow devices holding a signature")
ONLY_VG = arg("vg", nargs="?", help="only this volume group's")
LOCAL_PATH = arg("local_path", metavar="LOCAL_PATH")


def nfs_option(key: str, signature: str) -> tuple:
    """The flag of `nfs mount` for MountNfs option `key`."""
    dest = "nfs_" + key.replace("-", "_")
    if signature == "b":
        return arg(f"--{key}", dest=dest, action="store_true")
    return arg(f"--{key}", dest=dest, type=str if signature == "s" else int)


GLOBAL_OPTIONS = (
    arg("--json", action="store_true", help="print JSON for scripts"),
    arg("--session", action="store_true",
        help="use the session bus (solidice-storaged --sim --session)"),
    arg("--address", help="use the bus at this D-Bus address"),
    arg("--timeout", dest="call_timeout", type=float, metavar="SECONDS",
        help="wait this long for a change (default 300)"),
    arg("--non-interactive", action="store_true",
        help="never ask for a password: fail if polkit would ask"),
    arg("--debug", action="store_true", help="show tracebacks"),
)

COMMANDS: dict[str, Command | Level] = {
    "status": Command(host.status, "the host at a glance", "status"),
    "monitor": Command(host.monitor, "print changes as they happen (Ctrl-C stops)",
                       "--json monitor"),
    "completion": Command(None, "print a shell completion script",
                          "completion bash > /etc/bash_completion.d/solidice-storagectl",
                          (arg("shell", choices=["bash"]),)),
    "lun": Level("LUNs (multipath maps, never their paths)", "lun list", {
        "list": Command(lun.lun_list, "list the LUNs", "lun list"),
        "info": Command(lun.lun_info, "show one LUN",
                        "lun info naa.6001405d0e1f2a3b4c5d6e7f80910001",
                        (arg("lun", help="WWID (any spelling), device or object path"),)),
    }),
    "iscsi": Level("iSCSI targets and sessions", "iscsi discover 192.0.2.10", {
        "discover": Command(iscsi.iscsi_discover, "ask a portal for its targets",
                            "iscsi discover 192.0.2.10",
                            (arg("portal", help="host[:port]"), *CHAP, TIMEOUT)),
        "login": Command(
            iscsi.iscsi_login, "log in to a target",
            "iscsi login 192.0.2.10 iqn.2003-01.org.example:data --node-startup automatic",
            (arg("portal"), arg("target"), *CHAP, TIMEOUT,
             arg("--node-startup", choices=["manual", "automatic"],
                 help="automatic: log in again at boot"))),
        "logout": Command(iscsi.iscsi_logout, "log out of a target through a portal",
                          "iscsi logout 192.0.2.10 iqn.2003-01.org.example:data",
                          (arg("portal"), arg("target"))),
        "sessions": Command(iscsi.iscsi_sessions, "list the iSCSI sessions",
                            "iscsi sessions"),
    }),
    "vg": Level("volume groups", "vg list", {
        "list": Command(volume_group.vg_list, "list the volume groups", "vg list"),
        "info": Command(volume_group.vg_info, "show one volume group", "vg info vmstore",
                        (arg("vg", help="name, UUID or object path"),)),
        "create": Command(
            volume_group.vg_create, "create a volume group on devices (pvcreate as needed)",
            "vg create vg0 36001405d0e1f2a3b4c5d6e7f80910003 /dev/mapper/mpathb",
            (arg("name"), arg("devices", nargs="+", metavar="DEVICE",
                              help="WWID or /dev path"),
             WIPE, arg("--extent-size", type=size_argument, metavar="SIZE",
                       help="e.g. 4M"))),
        "remove": Command(volume_group.vg_remove,
                          "remove a volume group, its LVs and its PV labels",
                          "vg remove vg0", (arg("vg"), FORCE)),
        "extend": Command(volume_group.vg_extend, "add devices to a volume group",
                          "vg extend vg0 36001405d0e1f2a3b4c5d6e7f80910004",
                          (arg("vg"), arg("devices", nargs="+", metavar="DEVICE"), WIPE)),
    }),
    "pv": Level("physical volumes", "pv list vmstore", {
        "list": Command(physical_volume.pv_list, "list physical volumes",
                        "pv list vmstore", (ONLY_VG,)),
        "info": Command(physical_volume.pv_info, "show one physical volume",
                        "pv info /dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001",
                        (arg("pv", help="UUID, device, LUN WWID or object path"),)),
        "remove": Command(
            physical_volume.pv_remove, "take a physical volume out of its volume group",
            "pv remove vg0 /dev/mapper/36001405d0e1f2a3b4c5d6e7f80910004 --move-data",
            (arg("vg"), arg("pv"), arg("--move-data", action="store_true",
                                       help="move its data to the other PVs first"))),
    }),
    "lv": Level("logical volumes", "lv list vmstore", {
        "list": Command(logical_volume.lv_list, "list logical volumes", "lv list vmstore",
                        (ONLY_VG,)),
        "info": Command(logical_volume.lv_info, "show one logical volume",
                        "lv info vmstore/templates",
                        (arg("lv", help="VG/LV, UUID, /dev path or object path"),)),
        "create": Command(logical_volume.lv_create, "create a logical volume",
                          "lv create vg0 disk0 10G",
                          (arg("vg"), arg("name"),
                           arg("size", type=size_argument,
                               help="bytes, or 10G, 512MiB, 1.5TiB"),
                           arg("--inactive", action="store_true",
                               help="do not activate it"))),
        "extend": Command(logical_volume.lv_extend, "grow a logical volume",
                          "lv extend vg0/disk0 +5G",
                          (arg("lv"), arg("size", type=grow_argument, metavar="[+]SIZE",
                                          help="+SIZE adds SIZE; SIZE is the new total"))),
        "remove": Command(logical_volume.lv_remove, "remove a logical volume",
                          "lv remove vg0/disk0",
                          (arg("lv"), arg("--force", action="store_true",
                                          help="also in a volume group the service did "
                                               "not create"))),
        "snapshot": Command(logical_volume.lv_snapshot, "snapshot a logical volume",
                            "lv snapshot vg0/disk0 disk0-snap 1G",
                            (arg("lv"), arg("name"),
                             arg("size", type=size_argument, help="copy-on-write space"))),
    }),
    "nfs": Level("NFS mounts", "nfs list", {
        "list": Command(nfs.nfs_list, "list the NFS mounts", "nfs list"),
        "mount": Command(
            nfs.nfs_mount, "mount an NFS export (nosuid,nodev; soft unless --hard)",
            "nfs mount nfs.example.com:/export/vms /srv/nfs/vms --vers 4.2 "
            "--create-mountpoint",
            (arg("source", metavar="SERVER:PATH"), LOCAL_PATH,
             *(nfs_option(key, signature) for key, signature in nfs.NFS_OPTIONS.items()))),
        "unmount": Command(nfs.nfs_unmount, "unmount an NFS mount",
                           "nfs unmount /srv/nfs/vms",
                           (LOCAL_PATH, arg("--force", action="store_true",
                                            help="detach it even in use or when its "
                                                 "server is dead"))),
    }),
    "job": Level("running jobs", "job list", {
        "list": Command(job.job_list, "list the running jobs", "job list"),
        "cancel": Command(job.job_cancel, "cancel a job", "job cancel 3",
                          (arg("job", help="its number"),)),
    }),
}


def sentence(help: str) -> str:
    return help[0].upper() + help[1:] + "."


def add_command(verbs, name: str, command: Command) -> None:
    parser = verbs.add_parser(name, help=command.help, description=sentence(command.help),
                              epilog=f"Example: {PROG} {command.example}",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=command.run)
    for flags, options in command.arguments:
        parser.add_argument(*flags, **options)


def build_parser(commands: dict[str, Command | Level] = COMMANDS
                 ) -> argparse.ArgumentParser:
    """The whole command line, from the table `commands`."""
    top = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    for flags, options in GLOBAL_OPTIONS:
        top.add_argument(*flags, **options)
    nouns = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, entry in commands.items():
        if isinstance(entry, Command):
            add_command(nouns, name, entry)
            continue
        level = nouns.add_parser(name, help=entry.help, description=sentence(entry.help),
                                 epilog=f"Example: {PROG} {entry.example}")
        verbs = level.add_subparsers(dest="verb", required=True, metavar="VERB")
        for verb, command in entry.verbs.items():
            add_command(verbs, verb, command)
    return top

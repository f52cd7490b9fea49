# SPDX-License-Identifier: LGPL-2.1-or-later
"""The command tree declared as data, as stratis-cli's `_parser/` does: each level is
a table of verbs with their help, example and arguments, and `build_parser` turns
the whole table into argparse once. Help texts and options are the CLI's contract
with its users: change them here only on purpose."""

import argparse
from dataclasses import dataclass, field
from typing import Callable

from .. import __version__
from . import (changes, host, iscsi, job, logical_volume, lun, nfs, physical_volume,
               tags, volume_group)
from .arguments import (Parser, arg, count, grow_argument, job_number, seconds,
                        size_argument, whole_seconds)

PROG = "solidice-storagectl"
DESCRIPTION = ("Manage a host's storage (LUNs, iSCSI, LVM, NFS) through the "
               "org.solidice.Storage service.")
EPILOG = (f"Example: {PROG} lv create vmstore disk0 10G\n\nThe options above may "
          "also follow the command (lv list --json). Exit codes: 0 done, 1 the "
          "service refused or failed, 2 bad usage, 3 the service is not reachable.")


@dataclass(frozen=True)
class Command:
    """A verb: what runs it (None: main handles it), its help, an example, and the
    contract's methods it reaches ("Interface.Member", docs/api.md)."""

    run: Callable | None
    help: str
    example: str
    arguments: tuple = ()
    methods: tuple[str, ...] = ()
    details: str = ""


@dataclass(frozen=True)
class Level:
    """A noun (`vg`, `lv`, ...): its verbs by name."""

    help: str
    example: str
    verbs: dict[str, Command] = field(default_factory=dict)


CHAP = (arg("--username", help="CHAP user name"),
        arg("--password", help="CHAP password; leave it out (or give '-') to type it or "
                               "pipe it in: a command line is readable by every user"))
TIMEOUT = arg("--timeout", type=whole_seconds, metavar="SECONDS",
              help="seconds the service may take, 1 to 3600 (its default: 30 to "
                   "discover, 120 to log in)")
FORCE = arg("--force", action="store_true",
            help="also when the service did not create the volume group")
WIPE = arg("--wipe", action="store_true", help="allow devices holding a signature")
ONLY_VG = arg("vg", nargs="?", help="only this volume group's")
LOCAL_PATH = arg("local_path", metavar="LOCAL_PATH",
                 help="the directory to mount on: absolute, below /mnt, /media, /srv or "
                      "an allowed-roots entry of storage.conf")
LV = arg("lv", help="VG/LV, UUID, /dev path or object path")
YES = arg("--yes", "-y", action="store_true",
          help="remove its logical volumes without asking")
NODE_STARTUP = arg("--node-startup", choices=["manual", "automatic"],
                   help="automatic: log in again at boot")


def nfs_option(key: str, signature: str) -> tuple:
    """The flag of `nfs mount` for MountNfs option `key`, with its help and unit."""
    dest, help = "nfs_" + key.replace("-", "_"), nfs.NFS_HELP[key]
    if signature == "b":
        return arg(f"--{key}", dest=dest, action="store_true", help=help)
    kind = str if signature == "s" else whole_seconds if key == "timeout" else count
    return arg(f"--{key}", dest=dest, type=kind, help=help,
               metavar=nfs.NFS_UNITS.get(key, key.upper()))


GLOBAL_OPTIONS = (
    arg("--json", action="store_true", help="print JSON for scripts"),
    arg("--session", action="store_true",
        help="use the session bus (solidice-storaged --sim --session)"),
    arg("--address", help="use the bus at this D-Bus address"),
    arg("--timeout", dest="call_timeout", type=seconds, metavar="SECONDS",
        help="wait this long for a change, above 0 (default 300)"),
    arg("--non-interactive", action="store_true",
        help="never ask: fail where polkit would ask for a password, refuse "
             "where a question would be asked (vg remove, without --yes)"),
    arg("--debug", action="store_true", help="show tracebacks"),
)

MONITOR = (
    arg("--exit-on-loss", action="store_true",
        help="exit with code 3 when the service stops, rather than saying so and "
             "waiting for it to come back"),
)

COMMANDS: dict[str, Command | Level] = {
    "status": Command(host.status, "the host at a glance", "status"),
    "monitor": Command(host.monitor, "print changes as they happen (Ctrl-C stops)",
                       "--json monitor", MONITOR, details=changes.MONITOR_HELP),
    "block-info": Command(host.block_info, "what a device is: its UUID, size, node, "
                          "type and what uses it", "block-info /dev/vda",
                          (arg("name", help="WWID (any spelling), UUID, VG/LV, "
                                            "/dev path or object path"),),
                          ("Host.GetBlockInfo",)),
    "completion": Command(None, "print a shell completion script",
                          "completion bash > /etc/bash_completion.d/solidice-storagectl",
                          (arg("shell", choices=["bash", "zsh"]),)),
    "host": Level("the host as a whole", "host rescan", {
        "rescan": Command(host.rescan, "look for LUNs newly mapped on the iSCSI "
                          "sessions and FC hosts, and for LUNs that grew", "host rescan",
                          methods=("Host.Rescan",)),
    }),
    "lun": Level("LUNs (multipath maps, never their paths)", "lun list", {
        "list": Command(lun.lun_list, "list the LUNs", "lun list",
                        methods=("Host.EnumerateLuns",)),
        "info": Command(lun.lun_info, "show one LUN",
                        "lun info naa.6001405d0e1f2a3b4c5d6e7f80910001",
                        (arg("lun", help="WWID (any spelling), device or object path"),)),
    }),
    "iscsi": Level("iSCSI targets and sessions", "iscsi discover 192.0.2.10", {
        "discover": Command(iscsi.iscsi_discover, "ask a portal for its targets",
                            "iscsi discover 192.0.2.10",
                            (arg("portal", help="host[:port]"), *CHAP, TIMEOUT),
                            ("Host.DiscoverIscsiTargets",)),
        "login": Command(
            iscsi.iscsi_login, "log in to a target",
            "iscsi login 192.0.2.10 iqn.2003-01.org.example:data --node-startup automatic",
            (arg("portal"), arg("target"), *CHAP, TIMEOUT, NODE_STARTUP),
            ("Host.LoginIscsi",)),
        "luns": Command(
            iscsi.iscsi_luns, "list a target's LUNs, logging in first if needed",
            "iscsi luns 192.0.2.10 iqn.2003-01.org.example:data",
            (arg("portal"), arg("target"), *CHAP, TIMEOUT, NODE_STARTUP,
             arg("--no-login", action="store_true",
                 help="only if a session through the portal exists; never log in")),
            ("Host.EnumerateIscsiLuns",)),
        "logout": Command(iscsi.iscsi_logout, "log out of a target through a portal",
                          "iscsi logout 192.0.2.10 iqn.2003-01.org.example:data",
                          (arg("portal"), arg("target")),
                          ("Host.LogoutIscsi", "IscsiSession.Logout")),
        "sessions": Command(iscsi.iscsi_sessions, "list the iSCSI sessions",
                            "iscsi sessions"),
    }),
    "vg": Level("volume groups", "vg list", {
        "list": Command(volume_group.vg_list, "list the volume groups", "vg list",
                        methods=("Host.EnumerateVolumeGroups",)),
        "info": Command(volume_group.vg_info, "show one volume group", "vg info vmstore",
                        (arg("vg", help="name, UUID or object path"),)),
        "create": Command(
            volume_group.vg_create, "create a volume group on devices (pvcreate as needed)",
            "vg create vg0 36001405d0e1f2a3b4c5d6e7f80910003 /dev/mapper/mpathb",
            (arg("name"), arg("devices", nargs="+", metavar="DEVICE",
                              help="WWID or /dev path"),
             WIPE, arg("--extent-size", type=size_argument, metavar="SIZE",
                       help="a power of two from 4K to 16G (default 4M)")),
            ("StoragePool.CreateVolumeGroup",)),
        "remove": Command(volume_group.vg_remove,
                          "remove a volume group, its LVs and its PV labels",
                          "vg remove vg0 --yes",
                          (arg("vg"), FORCE, YES), ("StoragePool.RemoveVolumeGroup",
                                                    "VolumeGroup.Remove"),
                          details=volume_group.REMOVE_HELP),
        "extend": Command(volume_group.vg_extend, "add devices to a volume group",
                          "vg extend vg0 36001405d0e1f2a3b4c5d6e7f80910004",
                          (arg("vg"), arg("devices", nargs="+", metavar="DEVICE"), WIPE),
                          ("VolumeGroup.Extend",)),
        "rename": Command(volume_group.vg_rename, "rename a volume group (its logical "
                          "volumes' paths follow, active or not)", "vg rename vg0 vmdata",
                          (arg("vg"), arg("name", help="the new name")),
                          ("VolumeGroup.Rename",)),
    }),
    "pv": Level("physical volumes", "pv list vmstore", {
        "list": Command(physical_volume.pv_list, "list physical volumes",
                        "pv list vmstore", (ONLY_VG,), ("VolumeGroup.ListPhysicalVolumes",)),
        "info": Command(physical_volume.pv_info, "show one physical volume",
                        "pv info /dev/mapper/36001405d0e1f2a3b4c5d6e7f80910001",
                        (arg("pv", help="UUID, device, LUN WWID or object path"),)),
        "remove": Command(
            physical_volume.pv_remove, "take a physical volume out of its volume group",
            "pv remove vg0 /dev/mapper/36001405d0e1f2a3b4c5d6e7f80910004 --move-data",
            (arg("vg"), arg("pv"), arg("--move-data", action="store_true",
                                       help="move its data to the other PVs first")),
            ("VolumeGroup.RemovePhysicalVolume",)),
    }),
    "lv": Level("logical volumes", "lv list vmstore", {
        "list": Command(logical_volume.lv_list, "list logical volumes", "lv list vmstore",
                        (ONLY_VG,), ("VolumeGroup.ListLogicalVolumes",)),
        "info": Command(logical_volume.lv_info, "show one logical volume",
                        "lv info vmstore/templates", (LV,)),
        "create": Command(logical_volume.lv_create, "create a logical volume",
                          "lv create vg0 disk0 10G",
                          (arg("vg"), arg("name"),
                           arg("size", type=size_argument,
                               help="bytes, or 10G, 512MiB, 1.5TiB"),
                           arg("--inactive", action="store_true",
                               help="do not activate it")),
                          ("VolumeGroup.CreateLogicalVolume",)),
        "extend": Command(logical_volume.lv_extend, "grow a logical volume",
                          "lv extend vg0/disk0 +5G",
                          (LV, arg("size", type=grow_argument, metavar="[+]SIZE",
                                   help="+SIZE adds SIZE; SIZE is the new total")),
                          ("LogicalVolume.Extend",)),
        "resize": Command(logical_volume.lv_resize, "make a logical volume a given size",
                          "lv resize vg0/disk0 20G",
                          (LV, arg("size", type=size_argument, help="the new size"),
                           arg("--shrink", action="store_true",
                               help="allow a smaller size: destroys what lies past the "
                                    "new end (shrink a filesystem on it first)")),
                          ("LogicalVolume.Resize",)),
        "rename": Command(logical_volume.lv_rename, "rename a logical volume",
                          "lv rename vg0/disk0 vm-100-disk-0",
                          (LV, arg("name", help="the new name, within its volume group")),
                          ("LogicalVolume.Rename",)),
        "activate": Command(logical_volume.lv_activate, "activate a logical volume (its "
                            "device node appears)", "lv activate vg0/disk0", (LV,),
                            ("LogicalVolume.Activate",)),
        "deactivate": Command(logical_volume.lv_deactivate, "deactivate a logical volume "
                              "(its device node goes; refused while open)",
                              "lv deactivate vg0/disk0", (LV,),
                              ("LogicalVolume.Deactivate",)),
        "remove": Command(logical_volume.lv_remove, "remove a logical volume",
                          "lv remove vg0/disk0",
                          (LV, arg("--force", action="store_true",
                                   help="also in a volume group the service did not "
                                        "create")), ("LogicalVolume.Remove",)),
        "snapshot": Command(logical_volume.lv_snapshot, "snapshot a logical volume",
                            "lv snapshot vg0/disk0 disk0-snap 1G",
                            (LV, arg("name"),
                             arg("size", type=size_argument, help="copy-on-write space")),
                            ("LogicalVolume.Snapshot",)),
    }),
    "tag": Level("LVM tags of volume groups, logical volumes, physical volumes",
                 "tag add lv vg0/disk0 backup=daily", {
        verb: Command(run, f"{verb} tags", f"tag {verb} vg vg0 site=paris",
                      (arg("kind", choices=sorted(tags.KINDS),
                           help="vg, lv or pv"),
                       arg("name", help="its name (VG/LV for an LV), UUID, device or "
                                        "object path"),
                       arg("tags", nargs="+", metavar="TAG",
                           help="letters, digits and . _ + - / = ! : & #")),
                      tuple(m for m in tags.METHODS if m.endswith(member)))
        for verb, run, member in (("add", tags.tag_add, "AddTags"),
                                  ("remove", tags.tag_remove, "RemoveTags"))}),
    "nfs": Level("NFS mounts", "nfs list", {
        "list": Command(nfs.nfs_list, "list the NFS mounts", "nfs list"),
        "mount": Command(
            nfs.nfs_mount, "mount an NFS export (nosuid,nodev; soft unless --hard)",
            "nfs mount nfs.example.com:/export/vms /srv/nfs/vms --vers 4.2 "
            "--create-mountpoint",
            (arg("source", metavar="SERVER:PATH",
                 help="the server's host name or address, and its export's path"),
             LOCAL_PATH,
             *(nfs_option(key, signature) for key, signature in nfs.NFS_OPTIONS.items())),
            ("StoragePool.MountNfs",)),
        "unmount": Command(nfs.nfs_unmount, "unmount an NFS mount",
                           "nfs unmount /srv/nfs/vms",
                           (arg("local_path", metavar="LOCAL_PATH",
                                help="the directory it is mounted on"),
                            arg("--force", action="store_true",
                                            help="detach it even in use or when its "
                                                 "server is dead")),
                           ("StoragePool.Unmount", "Mount.Unmount")),
    }),
    "job": Level("running jobs", "job list", {
        "list": Command(job.job_list, "list the running jobs", "job list"),
        "cancel": Command(job.job_cancel, "cancel a job", "job cancel 3",
                          (arg("job", type=job_number, help="its number (job list "
                                                            "shows them)"),),
                          ("Job.Cancel",)),
    }),
}


def sentence(help: str) -> str:
    """`help` as a sentence; a word that is not all lowercase (iSCSI, LUNs, NFS)
    keeps its spelling."""
    first = help.split(" ", 1)[0]
    return (help if first != first.lower() else help[0].upper() + help[1:]) + "."


def add_globals(parser: argparse.ArgumentParser) -> None:
    """The global options, accepted after the command too; a flag the command has
    itself (iscsi's --timeout) keeps the command's meaning."""
    group = parser.add_argument_group("global options (also before the command)")
    for flags, options in GLOBAL_OPTIONS:
        if not any(flag in parser._option_string_actions for flag in flags):
            group.add_argument(*flags, **{**options, "default": argparse.SUPPRESS})


def add_command(verbs, name: str, command: Command) -> None:
    description = sentence(command.help) + (f"\n\n{command.details}" if command.details
                                            else "")
    parser = verbs.add_parser(name, help=command.help, description=description,
                              epilog=f"Example: {PROG} {command.example}",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=command.run)
    for flags, options in command.arguments:
        parser.add_argument(*flags, **options)
    add_globals(parser)


def build_parser(commands: dict[str, Command | Level] = COMMANDS
                 ) -> argparse.ArgumentParser:
    """The whole command line, from the table `commands`."""
    top = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for flags, options in GLOBAL_OPTIONS:
        top.add_argument(*flags, **options)
    nouns = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, entry in commands.items():
        if isinstance(entry, Command):
            add_command(nouns, name, entry)
            continue
        level = nouns.add_parser(name, help=entry.help, description=sentence(entry.help),
                                 epilog=f"Example: {PROG} {entry.example}")
        add_globals(level)
        verbs = level.add_subparsers(dest="verb", required=True, metavar="VERB")
        for verb, command in entry.verbs.items():
            add_command(verbs, verb, command)
    return top

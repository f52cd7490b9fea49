"""solidice-storagectl: the command line over org.solidice.Storage.

A first cut: `status`, `lun list`, `vg list`, `lv list [VG]`. It reads the object
tree once (GetManagedObjects) and filters locally. The full set of subcommands, on
the Python bindings, comes with the bindings. Exit codes: 0 done, 1 the service
refused or failed (its message is printed), 2 bad usage, 3 the service is not
reachable.
"""

import argparse
import asyncio
import json
import sys
from typing import Any

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

NAME = "org.solidice.Storage"
ROOT = "/org/solidice/Storage"
IFACE = "org.solidice.Storage."
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_size(size: int) -> str:
    value, unit = float(size), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {UNITS[unit]}"


def _plain(value: Any) -> Any:
    if isinstance(value, Variant):
        return _plain(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def managed_objects(args: argparse.Namespace) -> dict[str, dict[str, dict]]:
    if args.address:
        bus = MessageBus(bus_address=args.address)
    else:
        bus = MessageBus(bus_type=BusType.SESSION if args.session else BusType.SYSTEM)
    await bus.connect()
    try:
        reply = await bus.call(Message(destination=NAME, path=ROOT,
                                       interface="org.freedesktop.DBus.ObjectManager",
                                       member="GetManagedObjects"))
    finally:
        bus.disconnect()
    if reply.message_type is MessageType.ERROR:
        raise DBusError(reply.error_name, reply.body[0] if reply.body else "")
    return _plain(reply.body[0])


def of_kind(objects: dict, kind: str) -> dict[str, dict]:
    return {path: ifaces[IFACE + kind] for path, ifaces in sorted(objects.items())
            if IFACE + kind in ifaces}


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [header, *rows])


def show_status(objects: dict) -> tuple[list, str]:
    host = objects[ROOT + "/Host"][IFACE + "Host"]
    data = {k: host[k] for k in ("Version", "Multipath", "IscsiInitiatorName")}
    data.update({k: len(host[k]) for k in ("Luns", "VolumeGroups", "Mounts",
                                           "IscsiSessions")})
    return data, "\n".join(f"{k}: {v}" for k, v in data.items())


def show_luns(objects: dict) -> tuple[list, str]:
    luns = list(of_kind(objects, "Lun").values())
    rows = [[lun["Uuid"], lun["Device"], human_size(lun["Size"]), lun["Transport"],
             str(len(lun["Paths"])) if lun["Multipath"] else "-", lun["Status"]]
            for lun in luns]
    return luns, table(rows, ["WWID", "DEVICE", "SIZE", "TRANSPORT", "PATHS", "STATUS"])


def show_vgs(objects: dict) -> tuple[list, str]:
    vgs = list(of_kind(objects, "VolumeGroup").values())
    rows = [[vg["Name"], human_size(vg["Size"]), human_size(vg["FreeSize"]),
             str(len(vg["PhysicalVolumes"])), "yes" if vg["Managed"] else "no"]
            for vg in vgs]
    return vgs, table(rows, ["NAME", "SIZE", "FREE", "PVS", "MANAGED"])


def show_lvs(objects: dict, vg_name: str | None) -> tuple[list, str]:
    vgs = {path: vg["Name"] for path, vg in of_kind(objects, "VolumeGroup").items()}
    if vg_name is not None and vg_name not in vgs.values():
        raise LookupError(f"there is no volume group named {vg_name}")
    lvs = [lv for lv in of_kind(objects, "LogicalVolume").values()
           if vg_name is None or vgs.get(lv["VolumeGroup"]) == vg_name]
    rows = [[vgs.get(lv["VolumeGroup"], "?"), lv["Name"], human_size(lv["Size"]),
             "yes" if lv["Active"] else "no", lv["Attributes"]] for lv in lvs]
    return lvs, table(rows, ["VG", "NAME", "SIZE", "ACTIVE", "ATTR"])


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="solidice-storagectl", description="Manage a host's storage through "
        "org.solidice.Storage.", epilog="Example: solidice-storagectl lun list")
    top.add_argument("--json", action="store_true", help="print JSON for scripts")
    top.add_argument("--session", action="store_true",
                     help="talk to a service on the session bus (solidice-storaged "
                          "--sim --session)")
    top.add_argument("--address", help="talk to the bus at this D-Bus address")
    top.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("status", help="the host at a glance",
                        epilog="Example: solidice-storagectl status")
    for noun, what in (("lun", "LUNs (multipath maps, not their paths)"),
                       ("vg", "volume groups"), ("lv", "logical volumes")):
        group = commands.add_parser(noun, help=what).add_subparsers(
            dest="verb", required=True, metavar="VERB")
        listing = group.add_parser("list", help=f"list {what}",
                                   epilog=f"Example: solidice-storagectl {noun} list")
        if noun == "lv":
            listing.add_argument("vg", nargs="?", help="only this volume group's")
    return top


def run(args: argparse.Namespace) -> int:
    objects = asyncio.run(managed_objects(args))
    if args.command == "status":
        data, text = show_status(objects)
    elif args.command == "lun":
        data, text = show_luns(objects)
    elif args.command == "vg":
        data, text = show_vgs(objects)
    else:
        data, text = show_lvs(objects, args.vg)
    print(json.dumps(data, indent=2) if args.json else text)
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        sys.exit(run(args))
    except DBusError as error:
        if args.debug:
            raise
        if error.type in ("org.freedesktop.DBus.Error.ServiceUnknown",
                          "org.freedesktop.DBus.Error.NameHasNoOwner"):
            print("solidice-storagectl: the storage service is not running; start "
                  "solidice-storaged (or pass --session for a --sim --session one)",
                  file=sys.stderr)
            sys.exit(3)
        print(f"solidice-storagectl: {error.text}", file=sys.stderr)
        sys.exit(1)
    except LookupError as error:
        print(f"solidice-storagectl: {error}", file=sys.stderr)
        sys.exit(1)
    except (OSError, ValueError) as error:
        if args.debug:
            raise
        print(f"solidice-storagectl: cannot reach the bus ({error}); is D-Bus running?",
              file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""solidice-storaged: scan, export, then take the bus name; serve until told to stop.

The name is requested only after the first scan is exported, so `Type=dbus`
readiness (and D-Bus activation) means "populated", as in udisks2.
"""

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from dbus_fast import BusType, Message, MessageType, NameFlag, RequestNameReply

from . import __version__, config, objpath
from .dbus.auth import Authority
from .dbus.base import Context
from .dbus.bus import StorageBus
from .dbus import errors
from .dbus.exporter import Exporter

BUS_NAME = "org.solidice.Storage"
# How long calls already at work get to finish at shutdown: well inside systemd's
# TimeoutStopSec (90 s by default), after which everything is killed.
SHUTDOWN_GRACE = 30
log = logging.getLogger("solidice_storage")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="solidice-storaged", description="The org.solidice.Storage D-Bus service.",
        epilog="Example: solidice-storaged --sim --session   (try it without root)")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--sim", action="store_true",
                        help="serve a simulated host instead of this one")
    parser.add_argument("--session", action="store_true",
                        help="use the session bus (only with --sim: polkit cannot "
                             "authorize session-bus callers)")
    parser.add_argument("--replace", action="store_true",
                        help="take the bus name over from a running instance")
    parser.add_argument("--config", type=Path, default=config.DEFAULT_PATH, metavar="FILE",
                        help="the configuration file (default %(default)s; a missing "
                             "file means the built-in defaults)")
    parser.add_argument("--polkit-timeout", type=float, default=None, metavar="SECONDS",
                        help="deny when polkit has not answered by then (default: the "
                             "configuration's [polkit] timeout, 120)")
    parser.add_argument("--sim-lvs", type=int, default=0, metavar="N",
                        help="with --sim: add a VG 'bulk' with N logical volumes")
    parser.add_argument("--sim-fault", action="append", default=[], metavar="OPERATION",
                        help="with --sim: make an engine operation fail as a bug would "
                             "(for testing error handling)")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="where unfinished changes are recorded "
                             "(default /var/lib/solidice-storage)")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    if args.session and not args.sim:
        parser.error("--session needs --sim: polkit cannot authorize callers on the "
                     "session bus, so the real host is only served on the system bus")
    if (args.sim_lvs or args.sim_fault) and not args.sim:
        parser.error("--sim-lvs and --sim-fault need --sim")
    return args


def make_engine(args: argparse.Namespace, settings: config.Config):
    if args.sim:
        from .engine.sim.engine import SimEngine
        return SimEngine(bulk_lvs=args.sim_lvs, faults=frozenset(args.sim_fault))
    from .engine.host.engine import HostEngine
    return HostEngine(state_dir=args.state_dir, config=settings)


async def serve(args: argparse.Namespace, settings: config.Config) -> int:
    """Serve until SIGTERM/SIGINT, the name's loss or the bus's; the exit status."""
    engine = make_engine(args, settings)
    await engine.start()
    bus_type = BusType.SESSION if args.session else BusType.SYSTEM
    bus = await StorageBus(bus_type=bus_type).connect()
    timeout = settings.polkit_timeout if args.polkit_timeout is None else args.polkit_timeout
    authority = Authority(bus, timeout, per_caller=settings.polkit_pending_per_caller,
                          total=settings.polkit_pending_total)
    Exporter(bus, Context(engine, authority, settings)).export_all()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    on_name_lost = lambda msg: _on_name_lost(msg, stop)      # noqa: E731
    bus.add_message_handler(on_name_lost)
    if not await _own_name(bus, args.replace):
        return 1
    log.info("serving %s at %s: %s", BUS_NAME, objpath.ROOT, engine.description)
    engine.serving()
    return await _until_stopped(bus, engine, authority, stop, on_name_lost)


async def _own_name(bus: StorageBus, replace: bool) -> bool:
    """Whether this process now owns BUS_NAME (with --replace, taken over)."""
    flags = NameFlag.ALLOW_REPLACEMENT | NameFlag.DO_NOT_QUEUE
    if replace:
        flags |= NameFlag.REPLACE_EXISTING
    reply = await bus.request_name(BUS_NAME, flags)
    if reply is not RequestNameReply.PRIMARY_OWNER:
        log.error("%s is owned by another process; pass --replace to take it over",
                  BUS_NAME)
        bus.disconnect()
        return False
    return True


async def _until_stopped(bus: StorageBus, engine, authority: Authority,
                         stop: asyncio.Event, on_name_lost) -> int:
    """Wait for a stop or the bus's loss, shut down; 0 for a stop, 1 for a lost bus."""
    disconnected = asyncio.ensure_future(bus.wait_for_disconnect())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([disconnected, stopped], return_when=asyncio.FIRST_COMPLETED)
    lost_bus = disconnected.done()
    stopped.cancel()
    bus.remove_message_handler(on_name_lost)       # releasing it is no takeover
    reason = disconnected.exception() if lost_bus else None
    await shut_down(bus, engine, authority, disconnected)
    if lost_bus:
        # Not reconnecting: a new bus (dbus.service restarted) means a restart by the
        # unit's Restart=on-failure, which scans afresh and takes the name again.
        log.error("lost the connection to the bus (%s); exiting for a restart",
                  str(reason) or type(reason).__name__)
        return 1
    log.info("stopped")
    return 0


async def shut_down(bus: StorageBus, engine, authority: Authority,
                    disconnected: asyncio.Future) -> None:
    """Stop taking calls; answer the calls still waiting for polkit with
    Error.Cancelled (dbus/errors.py: nothing was done for them), let the calls at
    work finish (within SHUTDOWN_GRACE; then they are cancelled too, and the tools
    they run killed); stop the engine; only then close the connection
    (`disconnected`: done when it is closed)."""
    lost_bus = disconnected.done()
    if not lost_bus:
        await bus.release_name(BUS_NAME)    # new callers: activation, not us
    asking = list(authority.asking)
    for task in asking:
        task.cancel()
    working = [task for task in errors.in_flight if task not in asking]
    if working:
        log.info("finishing %d call(s) before stopping", len(working))
    if working or asking:
        await asyncio.wait([*working, *asking], timeout=SHUTDOWN_GRACE)
    await engine.close()
    keep = {asyncio.current_task(), disconnected}
    pending = [task for task in asyncio.all_tasks() if task not in keep]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if not lost_bus:
        # a round trip: the bus has every reply sent before it, in order
        await bus.call(Message(destination="org.freedesktop.DBus",
                               path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="GetId"))
        bus.disconnect()
        await disconnected


def _on_name_lost(msg: Message, stop: asyncio.Event) -> None:
    if (msg.message_type is MessageType.SIGNAL and msg.member == "NameLost"
            and msg.sender == "org.freedesktop.DBus" and msg.body == [BUS_NAME]):
        log.info("another instance took %s over", BUS_NAME)
        stop.set()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if args.debug:             # ours only: the D-Bus library's debug is a flood
        logging.getLogger("solidice_storage").setLevel(logging.DEBUG)
    try:
        settings = config.load(args.config)
    except config.ConfigError as e:
        log.error("%s", e)
        sys.exit(2)
    if settings.source:
        log.info("configuration read from %s", settings.source)
    sys.exit(asyncio.run(serve(args, settings)))


if __name__ == "__main__":
    main()

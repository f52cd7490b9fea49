# SPDX-License-Identifier: LGPL-2.1-or-later
"""`iscsi`: targets a portal offers, logging in and out, the sessions."""

import getpass
import sys

from .format import human_size, plural, table
from .output import Output, call_options, done, listing, with_progress


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
    found = sorted(await storage.discover_iscsi_targets(
        args.portal, username=args.username, password=chap_password(args),
        timeout=args.timeout, **call_options(args)), key=lambda t: (t.target, t.portal))
    return Output([t.model_dump() for t in found],
                  table([[t.target, t.portal] for t in found], ["TARGET", "PORTAL"]))


async def iscsi_login(storage, args) -> Output:
    session = await with_progress(storage, "iscsi-login", storage.login_iscsi(
        args.portal, args.target, username=args.username, password=chap_password(args),
        node_startup=args.node_startup, timeout=args.timeout, **call_options(args)))
    return done(session, f"logged in to {session.target} through {session.portal} "
                         f"({plural(len(session.luns), 'LUN')})")


async def iscsi_luns(storage, args) -> Output:
    # A login it makes first runs as an iscsi-login job: show its progress.
    luns = await with_progress(storage, "iscsi-login", storage.enumerate_iscsi_luns(
        args.portal, args.target, username=args.username, password=chap_password(args),
        node_startup=args.node_startup, login=False if args.no_login else None,
        timeout=args.timeout, **call_options(args)))
    return listing(luns, ["WWID", "DEVICE", "SIZE", "STATUS"],
                   lambda lun: [lun.wwid, lun.device, human_size(lun.size), lun.status])


async def iscsi_logout(storage, args) -> Output:
    await storage.logout_iscsi(args.portal, args.target, **call_options(args))
    return done(None, f"logged out of {args.target} through {args.portal}")


async def iscsi_sessions(storage, args) -> Output:
    return listing(await storage.iscsi_sessions(), ["TARGET", "PORTAL", "LUNS"],
                   lambda s: [s.target, s.portal, len(s.luns)])

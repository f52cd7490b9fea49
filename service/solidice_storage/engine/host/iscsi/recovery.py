# SPDX-License-Identifier: LGPL-2.1-or-later
"""Logins a daemon that died left half-done (their intent records, intents.py):
finished where the kernel has the session, undone where it has not."""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .... import validation
from ...intents import Intent
from .. import udev
from ..threads import off_loop
from . import iscsiadm
from .sessions import SYSFS, SysSession, read_sessions

if TYPE_CHECKING:
    from .initiator import Initiator

log = logging.getLogger(__name__)
LOGIN_KIND = "iscsi-login"       # a LoginIscsi call's intent record
ISCSI_KINDS = frozenset({LOGIN_KIND})


async def recover_logins(initiator: "Initiator", pending: list[Intent],
                         sysfs: Path = SYSFS) -> None:
    """Each of `pending` finished or undone (intents.settle), the sessions read
    again before each; left in place without iscsiadm."""
    if not pending:
        return
    if not initiator.runner.has("iscsiadm"):
        log.error("%d iSCSI intent records left in place: no iscsiadm", len(pending))
        return
    for intent in pending:
        sessions = await off_loop(read_sessions, sysfs)
        if await initiator.intents.settle(intent, recover_login(initiator, intent,
                                                                sessions)):
            await udev.settle(initiator.runner)    # a logout or a record gone: udev's turn


async def recover_login(initiator: "Initiator", intent: Intent,
                        sessions: list[SysSession]) -> str:
    """A login cut short by a crash, from its record and the kernel's `sessions`:
    logged in, it is finished (the record keeps its settings, with its bounds
    put back); not logged in, it is undone (an attempt iscsid may still be
    making is stopped, and a record it created is deleted)."""
    data = {**intent.data, "target": validation.iscsi_target(intent.data["target"]),
            "portal": validation.portal(intent.data["portal"])}
    logged_in = any((s.target, s.portal, s.state) == (data["target"], data["portal"],
                                                      "LOGGED_IN") for s in sessions)
    async with initiator.db:
        if not logged_in and intent.step != "started":
            # iscsid goes on with a login whose iscsiadm died: stop it
            await iscsiadm.logout_node(initiator.runner, data["target"], data["portal"])
        done = await initiator.settle_records(data, logged_in)
    return f"{'logged in (finished)' if logged_in else 'not logged in (undone)'}; {done}"


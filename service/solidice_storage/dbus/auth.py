# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit: may this caller do that? Asked with the caller's bus name as subject.

uid 0 is allowed without asking. A polkit that is missing, fails or does not answer
within the timeout denies (never allows). Every allowed change is logged with uid.

Checks waiting on polkit are capped per caller (bus name), per uid and in total,
well under dbus-daemon's max_replies_per_connection (128): past that the bus would
refuse our further CheckAuthorization calls with LimitsExceeded, for everyone. A
caller whose own authentication agent never answers could otherwise keep more than
that waiting and deny every other user. A check past a cap waits up to
SLOT_GRACE for a slot (polkit answers in milliseconds when it answers at all, so a
client of one uid with several calls at once is not refused), then is answered with
Busy; polkit is never asked for it.

polkitd gone (its name has no owner, and the bus cannot start it): the bus answers
at once with an error, and every caller but root gets NotAuthorized saying the
authority is unavailable, without waiting for the timeout. The bus connection lost
while asking denies the same way (the daemon is then exiting: daemon.py).
"""

import asyncio
import collections
import contextlib
import itertools
import logging
from typing import AsyncIterator

from dbus_fast import Message, MessageType, Variant

from .. import actions
from ..errors import Busy, NotAuthorized, NotAuthorizedCanObtain
from .bus import StorageBus, caller

log = logging.getLogger(__name__)

POLKIT = "org.freedesktop.PolicyKit1"
AUTHORITY_PATH = "/org/freedesktop/PolicyKit1/Authority"
AUTHORITY = "org.freedesktop.PolicyKit1.Authority"
ALLOW_USER_INTERACTION = 1
#: seconds a check past the caps waits for one of them to be answered
SLOT_GRACE = 0.5


class Authority:
    def __init__(self, bus: StorageBus, timeout: float, per_caller: int = 4,
                 total: int = 64) -> None:
        """`per_caller`: checks one bus name, and one uid, may have waiting on
        polkit; `total`: checks waiting for everyone together."""
        self._bus = bus
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._per_caller = per_caller
        self._total = total
        self._by_sender: collections.Counter[str] = collections.Counter()
        self._by_uid: collections.Counter[int] = collections.Counter()
        self._answered = asyncio.Event()    # set (and replaced) when a slot frees
        #: the calls waiting for polkit's answer (nothing done for them yet)
        self.asking: set[asyncio.Task] = set()

    async def uid(self, sender: str | None = None) -> int:
        reply = await self._call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member="GetConnectionUnixUser",
            signature="s", body=[sender or caller()]))
        if reply is None or reply.message_type is MessageType.ERROR:
            raise NotAuthorized("cannot tell who the caller is")
        return reply.body[0]

    async def _call(self, message: Message) -> Message | None:
        """The reply, or None when the connection failed before one came (fail
        closed: whoever asked denies)."""
        try:
            return await self._bus.call(message)
        except asyncio.CancelledError:
            raise
        except Exception as error:      # the bus went away under the call
            log.warning("no answer to %s.%s: %s", message.interface, message.member,
                        str(error) or type(error).__name__)
            return None

    async def check(self, action: str, details: dict[str, str], interactive: bool) -> int:
        """Returns the caller's uid if `action` is allowed; raises otherwise."""
        assert action in actions.ALL, action
        sender = caller()
        uid = await self.uid(sender)
        if uid != 0:
            task = asyncio.current_task()
            async with self._waiting(sender, uid, action):
                self.asking.add(task)
                try:
                    await self._ask_polkit(sender, action, details, interactive)
                except (NotAuthorized, NotAuthorizedCanObtain) as denied:   # audited too
                    log.info("uid %d denied %s %s: %s", uid, action, " ".join(
                        f"{k}={v}" for k, v in sorted(details.items())), denied)
                    raise
                finally:
                    self.asking.discard(task)
        log.info("uid %d allowed %s %s", uid, action,
                 " ".join(f"{k}={v}" for k, v in sorted(details.items())))
        return uid

    @contextlib.asynccontextmanager
    async def _waiting(self, sender: str, uid: int, action: str) -> AsyncIterator[None]:
        """One check of `sender` (of `uid`) waiting on polkit for the block. Busy
        if that caller, that uid or everyone still has as many as allowed after
        SLOT_GRACE."""
        deadline = asyncio.get_running_loop().time() + SLOT_GRACE
        while (full := self._full(sender, uid)) is not None:
            answered = self._answered
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(answered.wait(),
                                       deadline - asyncio.get_running_loop().time())
            if not answered.is_set():
                log.log(logging.WARNING if full == "polkit" else logging.DEBUG,
                        "too many authorization checks waiting for %s; %s of uid %d "
                        "refused", full, action, uid)
                raise Busy(f"too many authorization requests waiting for {full}; call "
                           "again once polkit has answered them")
        self._by_sender[sender] += 1
        self._by_uid[uid] += 1
        try:
            yield
        finally:
            for counter, key in ((self._by_sender, sender), (self._by_uid, uid)):
                counter[key] -= 1
                if not counter[key]:
                    del counter[key]
            self._answered.set()            # wakes every check waiting for a slot
            self._answered = asyncio.Event()

    def _full(self, sender: str, uid: int) -> str | None:
        """Whose cap a new check of `sender` (of `uid`) would pass, if any."""
        if self._by_sender[sender] >= self._per_caller or self._by_uid[uid] >= self._per_caller:
            return "this caller"
        if sum(self._by_uid.values()) >= self._total:
            return "polkit"
        return None

    async def _ask_polkit(self, sender: str, action: str, details: dict[str, str],
                          interactive: bool) -> None:
        cancel_id = f"solidice-storage-{next(self._ids)}"
        call = Message(
            destination=POLKIT, path=AUTHORITY_PATH, interface=AUTHORITY,
            member="CheckAuthorization", signature="(sa{sv})sa{ss}us",
            body=[["system-bus-name", {"name": Variant("s", sender)}], action,
                  {k: str(v) for k, v in details.items()},
                  ALLOW_USER_INTERACTION if interactive else 0, cancel_id])
        try:
            reply = await asyncio.wait_for(self._call(call), self._timeout)
        except asyncio.TimeoutError:
            self._bus.send(Message(destination=POLKIT, path=AUTHORITY_PATH,
                                   interface=AUTHORITY, member="CancelCheckAuthorization",
                                   signature="s", body=[cancel_id]))
            log.warning("polkit did not answer about %s within %g s", action, self._timeout)
            raise NotAuthorized(f"authorization for {action} timed out") from None
        if reply is None or reply.message_type is MessageType.ERROR:
            if reply is not None:
                log.warning("polkit failed on %s: %s %s", action, reply.error_name,
                            reply.body)
            raise NotAuthorized(f"cannot check authorization for {action}: the "
                                "authority (polkit) is unavailable; only root may "
                                "make changes until it is back")
        authorized, challenge, _ = reply.body[0]
        if authorized:
            return
        if challenge:
            raise NotAuthorizedCanObtain(f"{action} needs authentication; call again "
                                         "allowing user interaction")
        raise NotAuthorized(f"not allowed: {action}")

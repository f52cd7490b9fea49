"""polkit: may this caller do that? Asked with the caller's bus name as subject.

uid 0 is allowed without asking. A polkit that is missing, fails or does not answer
within the timeout denies (never allows). Every allowed change is logged with uid.

polkitd gone (its name has no owner, and the bus cannot start it): the bus answers
at once with an error, and every caller but root gets NotAuthorized saying the
authority is unavailable, without waiting for the timeout. The bus connection lost
while asking denies the same way (the daemon is then exiting: daemon.py).
"""

import asyncio
import itertools
import logging

from dbus_fast import Message, MessageType, Variant

from .. import actions
from ..errors import NotAuthorized, NotAuthorizedCanObtain
from .bus import StorageBus, caller

log = logging.getLogger(__name__)

POLKIT = "org.freedesktop.PolicyKit1"
AUTHORITY_PATH = "/org/freedesktop/PolicyKit1/Authority"
AUTHORITY = "org.freedesktop.PolicyKit1.Authority"
ALLOW_USER_INTERACTION = 1


class Authority:
    def __init__(self, bus: StorageBus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout
        self._ids = itertools.count(1)
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

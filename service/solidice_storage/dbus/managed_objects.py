# SPDX-License-Identifier: LGPL-2.1-or-later
"""GetManagedObjects from bytes marshalled once.

dbus-fast builds a GetManagedObjects reply by calling every property getter of every
object and marshalling the whole tree again, and it checks the reply for completeness
after each object, which makes the call quadratic: 1.3 s for 10,000 LVs on a fast
machine. Here each object's dict entry is marshalled once, when it is first asked
for after a change, and the reply body is the entries joined; a reply to a tree that
has not changed costs one header.

Every path answers (dbus-fast's own handler, which answered any path, is never
reached): the D-Bus specification's ObjectManager returns the objects *below* the
path it is called on, and dbus-fast's introspection shows the interface on every
object we export. So the root and its ancestors (`/`, `/org`, ...) get the whole
tree, from the joined entries; a path inside the tree (`.../LogicalVolume`) the
entries below it; any other path (an object, or nothing of ours) an empty dict. A
call with arguments is refused with the standard InvalidArgs, as for any method
called with the wrong signature.

At most `per_sender` replies to one caller are in the connection's outgoing queue
at once (5 MB each at 10,000 LVs): the next `queued` wait their turn, answered as
the earlier ones are written out (a client reading several lists at once is served),
and any more are answered with Busy.

The layout (D-Bus specification, "Marshaling"): the body `a{oa{sa{sv}}}` is the
array's byte length (uint32), padding to 8, then the entries, each one starting on
an 8-byte boundary. An entry marshalled alone as a one-entry body starts at offset
8, so its bytes are the same wherever another 8-byte boundary puts it.
"""

import collections
from typing import Any, Callable

from dbus_fast import Message, MessageFlag, MessageType
from dbus_fast._private.marshaller import Marshaller

from .errors import PREFIX

SIGNATURE = "a{oa{sa{sv}}}"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
_EMPTY_BODY = 8            # [{}]: the length 0 and the padding to the first entry


def entry(path: str, interfaces: dict) -> bytes:
    """One object's `{o: a{sa{sv}}}` entry, marshalled as it lies in the array."""
    return bytes(Marshaller(SIGNATURE, [{path: interfaces}]).marshall())[8:]


def body(entries: list[bytes]) -> bytes:
    """The reply body: the entries joined, each padded to 8 bytes but the last."""
    parts = []
    for item in entries:
        parts.append(item)
        parts.append(b"\0" * (-len(item) % 8))
    if parts:
        parts.pop()
    joined = b"".join(parts)
    return len(joined).to_bytes(4, "little") + b"\0" * 4 + joined


class PreparedReply(Message):
    """A method return whose body is already marshalled."""

    def __init__(self, call: Message, signature: str, wire_body: bytes) -> None:
        super().__init__(message_type=MessageType.METHOD_RETURN, reply_serial=call.serial,
                         destination=call.sender, signature=signature, body=[{}])
        self.wire_body = wire_body

    def _marshall(self, negotiate_unix_fd: bool) -> bytearray:
        wire = super()._marshall(negotiate_unix_fd)
        assert len(wire) % 8 == 0, "the header is padded to 8 bytes"
        head = wire[:-_EMPTY_BODY]
        head[4:8] = len(self.wire_body).to_bytes(4, "little")
        head += self.wire_body
        return head


class ManagedObjects:
    """The entries of the exported objects under `root`, kept until they change.
    `interfaces_of(path)` gives a path's interfaces with their properties."""

    def __init__(self, root: str, interfaces_of: Callable[[str], dict],
                 per_sender: int = 2, queued: int = 8) -> None:
        self._root = root
        self._interfaces_of = interfaces_of
        self._entries: dict[str, bytes | None] = {}
        self._body: bytes | None = None
        self._per_sender = per_sender
        self._queued = queued
        self._sending: collections.Counter[str] = collections.Counter()
        self._waiting: dict[str, collections.deque[Message]] = {}
        self._send: Callable[[Message], Any] = lambda message: None

    def added(self, path: str) -> None:
        self._entries[path] = None
        self._body = None

    changed = added

    def removed(self, path: str) -> None:
        if self._entries.pop(path, False) is not False:
            self._body = None

    def reply_body(self, path: str | None = None) -> bytes:
        """The reply to GetManagedObjects on `path` (default: the root)."""
        path = self._root if path is None else path
        if self._root.startswith(path.rstrip("/") + "/") or path == self._root:
            if self._body is None:
                self._body = body(self._marshalled(self._entries))
            return self._body
        if not path.startswith(self._root + "/"):
            return body([])
        below = path + "/"
        return body(self._marshalled([p for p in self._entries if p.startswith(below)]))

    def _marshalled(self, paths: Any) -> list[bytes]:
        out = []
        for path in paths:
            item = self._entries[path]
            if item is None:
                item = self._entries[path] = entry(path, self._interfaces_of(path))
            out.append(item)
        return out

    def handle(self, send: Callable[[Message], Any], message: Message
               ) -> bool | Message:
        """A bus message handler: answers GetManagedObjects, on any path."""
        if (message.message_type is not MessageType.METHOD_CALL
                or message.member != "GetManagedObjects"
                or message.interface not in (OBJECT_MANAGER, None)):
            return False
        if message.flags & MessageFlag.NO_REPLY_EXPECTED:
            return True
        if message.signature != "":
            return Message.new_error(message, INVALID_ARGS, "GetManagedObjects takes no "
                                     f"arguments, not ({message.signature})")
        self._send = send
        sender = message.sender
        if self._sending[sender] < self._per_sender:
            self._reply(sender, message)
            return True
        waiting = self._waiting.setdefault(sender, collections.deque())
        if len(waiting) < self._queued:
            waiting.append(message)
            return True
        return Message.new_error(message, PREFIX + "Busy", (
            f"{self._per_sender + self._queued} calls of GetManagedObjects are waiting "
            "for this caller to read their replies; read them first"))

    def _reply(self, sender: str, message: Message) -> None:
        """Send the reply, counted against `sender` until it is written out."""
        self._sending[sender] += 1
        sent = self._send(PreparedReply(message, SIGNATURE, self.reply_body(message.path)))
        if sent is None or sent.done():      # the socket took it all at once
            self._sent(sender, sent)
        else:
            sent.add_done_callback(lambda future: self._sent(sender, future))

    def _sent(self, sender: str, future: Any) -> None:
        if future is not None and not future.cancelled():
            future.exception()      # a connection lost: nobody left to tell
        self._sending[sender] -= 1
        if not self._sending[sender]:
            del self._sending[sender]
        waiting = self._waiting.get(sender)
        if waiting:
            message = waiting.popleft()
            if not waiting:
                del self._waiting[sender]
            self._reply(sender, message)

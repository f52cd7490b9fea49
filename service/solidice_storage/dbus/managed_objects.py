"""GetManagedObjects from bytes marshalled once.

dbus-fast builds a GetManagedObjects reply by calling every property getter of every
object and marshalling the whole tree again, and it checks the reply for completeness
after each object, which makes the call quadratic: 1.3 s for 10,000 LVs on a fast
machine. Here each object's dict entry is marshalled once, when it is first asked
for after a change, and the reply body is the entries joined; a reply to a tree that
has not changed costs one header.

The layout (D-Bus specification, "Marshaling"): the body `a{oa{sa{sv}}}` is the
array's byte length (uint32), padding to 8, then the entries, each one starting on
an 8-byte boundary. An entry marshalled alone as a one-entry body starts at offset
8, so its bytes are the same wherever another 8-byte boundary puts it.
"""

from typing import Callable

from dbus_fast import Message, MessageFlag, MessageType
from dbus_fast._private.marshaller import Marshaller

SIGNATURE = "a{oa{sa{sv}}}"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
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

    def __init__(self, root: str, interfaces_of: Callable[[str], dict]) -> None:
        self._root = root
        self._interfaces_of = interfaces_of
        self._entries: dict[str, bytes | None] = {}
        self._body: bytes | None = None

    def added(self, path: str) -> None:
        self._entries[path] = None
        self._body = None

    changed = added

    def removed(self, path: str) -> None:
        if self._entries.pop(path, False) is not False:
            self._body = None

    def reply_body(self) -> bytes:
        if self._body is None:
            for path, item in self._entries.items():
                if item is None:
                    self._entries[path] = entry(path, self._interfaces_of(path))
            self._body = body(list(self._entries.values()))   # type: ignore[arg-type]
        return self._body

    def handle(self, send: Callable[[Message], None], message: Message) -> bool:
        """A bus message handler: answers GetManagedObjects on the root path."""
        if (message.message_type is not MessageType.METHOD_CALL
                or message.member != "GetManagedObjects" or message.path != self._root
                or message.interface not in (OBJECT_MANAGER, None)
                or message.signature != ""):
            return False
        if not message.flags & MessageFlag.NO_REPLY_EXPECTED:
            send(PreparedReply(message, SIGNATURE, self.reply_body()))
        return True

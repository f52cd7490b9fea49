# SPDX-License-Identifier: LGPL-2.1-or-later
"""dbus-fast, with its gaps for this service closed.

1. The caller of a method: tracked in a ContextVar set by a message handler, which
   runs before dispatch; async methods' tasks copy the context at creation.
2. ObjectManager signals: dbus-fast sends InterfacesAdded/Removed from the child
   path, where GLib's and Cockpit's clients don't listen. Its copies are suppressed;
   `exporter.py` sends one per object from the root.
3. EAGAIN: dbus-fast treats a full socket as a dead connection. The writer's socket
   is wrapped so a full socket reads as "nothing sent yet": the writer then waits
   for the socket to become writable, as it does after a partial send.

4. Size: dbus-fast unmarshals a whole message on the event loop before anyone
   sees it, and the system bus passes messages up to 32 MiB: 1,200,000 options in
   a 29 MiB a{sv} held the loop 0.9 s. The connection's reader reads through `_BoundedReader`,
   which drops the body of a method call over MAX_CALL_BODY before it is
   unmarshalled; `_refuse_bad_sizes` answers such a call, and one with more options
   or longer strings than any method takes, with InvalidArgument (InvalidArgs on
   the standard org.freedesktop.DBus interfaces), first of all message handlers.

5. Introspection: dbus-fast builds an ElementTree of every child node, 0.13 s of
   the loop for `.../LogicalVolume` at 10,000 LVs, for anyone who asks. Here the
   children are found in one pass over the exported paths and written as text, and
   each path's answer is kept until an object is exported or unexported.

And one cost: dbus-fast makes a handler closure for every method of every object it
exports, 50,000 of them for 10,000 LVs, a third of our start-up there. Here every
object of a class shares one handler per method, which finds its object by the
call's path, as dbus-fast's dispatch did a moment before.
"""

import contextvars
import logging
import socket
import struct
import time
from functools import partial
from typing import Any

from dbus_fast import Message, MessageFlag, MessageType
from dbus_fast import introspection as intr
from dbus_fast.aio import MessageBus

from ..objpath import ROOT
from ..validation import MAX_STRING

log = logging.getLogger(__name__)
INVALID_ARGUMENT = "org.solidice.Storage.Error.InvalidArgument"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"     # for the standard interfaces
#: bytes of arguments a method call may have: the largest real one (a VG over a
#: thousand LUNs) is about 60 KiB, and this much is unmarshalled in under 10 ms in
#: the worst case (many small dict entries)
MAX_CALL_BODY = 256 * 1024
#: keys of one a{sv}: no method takes more than a dozen options
MAX_OPTIONS = 64
#: set on a call whose body _BoundedReader dropped; no D-Bus flag uses this bit
_OVERSIZED = 0x80
_METHOD_CALL = 1
_FIXED_HEADER = 16

current_message: contextvars.ContextVar[Message | None] = contextvars.ContextVar(
    "current_message", default=None)


def caller() -> str:
    """The unique bus name of the caller of the method being run."""
    message = current_message.get()
    if message is None or not message.sender:
        raise RuntimeError("caller() used outside a method call")
    return message.sender


class _SendWhenWritable:
    """A socket whose send() returns 0 instead of raising BlockingIOError."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send(self, data: Any) -> int:
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def sendmsg(self, *args: Any) -> int:
        try:
            return self._sock.sendmsg(*args)
        except BlockingIOError:
            return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _BoundedReader:
    """The socket as the connection's message reader sees it: the same stream of
    messages, except that a method call whose body is over MAX_CALL_BODY arrives
    without it (body length 0, marked _OVERSIZED). The body's bytes are dropped as
    they are read, never buffered. Each message's fixed header (D-Bus
    specification, "Message Format") gives the lengths that frame the stream."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._out = bytearray()        # bytes ready for the reader
        self._head = bytearray()       # the next message's fixed header, so far
        self._pass = 0                 # bytes of this message still to pass on
        self._drop = 0                 # bytes of this message's body still to drop
        self._lost = False             # not a stream we can frame: pass it all on

    def recv(self, bufsize: int) -> bytes:
        """What is ready (possibly more than `bufsize`: the reader takes it all);
        raises BlockingIOError as the socket does when nothing is."""
        while not self._out:
            data = self._sock.recv(max(bufsize, 256 * 1024))
            if not data:
                return b""
            self._feed(memoryview(data))
        out = bytes(self._out)
        self._out.clear()
        return out

    def _feed(self, data: memoryview) -> None:
        at, end = 0, len(data)
        while at < end:
            if self._lost or self._pass:
                take = end - at if self._lost else min(self._pass, end - at)
                self._out += data[at:at + take]
                self._pass -= 0 if self._lost else take
            elif self._drop:
                take = min(self._drop, end - at)
                self._drop -= take
            else:
                take = min(_FIXED_HEADER - len(self._head), end - at)
                self._head += data[at:at + take]
                if len(self._head) == _FIXED_HEADER:
                    self._start_message()
            at += take

    def _start_message(self) -> None:
        head, self._head = self._head, bytearray()
        order = {ord("l"): "<", ord("B"): ">"}.get(head[0])
        if order is None:              # dbus-fast will refuse it and disconnect
            self._lost = True
            self._out += head
            return
        body, _, fields = struct.unpack_from(order + "III", head, 4)
        rest = fields + (-fields % 8)  # the header fields, padded to 8
        if head[1] == _METHOD_CALL and body > MAX_CALL_BODY:
            head[2] |= _OVERSIZED
            struct.pack_into(order + "I", head, 4, 0)
            self._pass, self._drop = rest, body
        else:
            head[2] &= ~_OVERSIZED & 0xFF
            self._pass = rest + body
        self._out += head

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class StorageBus(MessageBus):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared_handlers: dict[Any, Any] = {}
        self._introspected: dict[str, str] = {}

    async def _authenticate(self) -> None:
        """Authenticated: the message reader dbus-fast builds next reads through
        a _BoundedReader (file descriptors are not negotiated: plain recv)."""
        await super()._authenticate()
        assert not self._negotiate_unix_fd
        self._sock = _BoundedReader(self._sock)

    async def connect(self) -> "StorageBus":
        await super().connect()
        self._sock = self._sock._sock       # the reader has the bounded one
        self._writer.sock = _SendWhenWritable(self._writer.sock)
        self.add_message_handler(_refuse_bad_sizes)
        self.add_message_handler(_track_caller)
        return self

    def send(self, msg: Message) -> Any:
        """As dbus-fast's, but a message for a connection that is gone (a reply to a
        call pending when the bus went away) is dropped instead of raising from a
        callback: there is no one left to receive it."""
        if self._disconnected:
            dropped = self._loop.create_future()
            dropped.set_result(None)
            return dropped
        return super().send(msg)

    def _make_method_handler(self, interface: Any, method: Any) -> Any:
        key = (interface.name, method)
        handler = self._shared_handlers.get(key)
        if handler is None:
            handler = self._shared_handlers[key] = partial(
                self._call_on_path, interface.name, method)
        return handler

    def _call_on_path(self, interface_name: str, method: Any, message: Message,
                      send_reply: Any) -> None:
        interface = self._path_exports[message.path][interface_name]
        super()._make_method_handler(interface, method)(message, send_reply)

    def export(self, path: str, interface: Any) -> None:
        super().export(path, interface)
        self._introspected.clear()

    def unexport(self, path: str, interface: Any = None) -> None:
        super().unexport(path, interface)
        self._introspected.clear()

    def _default_introspect_handler(self, msg: Message, send_reply: Any) -> None:
        xml = self._introspected.get(msg.path)
        if xml is None:
            if len(self._introspected) >= 1024:      # callers choose the paths
                self._introspected.clear()
            xml = self._introspected[msg.path] = self._introspection(msg.path)
        send_reply(Message.new_method_return(msg, "s", [xml]))

    def _introspect_export_path(self, path: str) -> intr.Node:
        """dbus-fast's node (the ObjectManager shown on the root): what
        _introspection writes faster."""
        node = super()._introspect_export_path(path)
        if path == ROOT and not node.interfaces:   # the ObjectManager lives here
            node.interfaces = intr.Node.default(path).interfaces
        return node

    def _introspection(self, path: str) -> str:
        """What dbus-fast answers for `path` (the ObjectManager shown on the root),
        its child nodes sorted."""
        interfaces = self._path_exports.get(path)
        node = intr.Node.default(path) if interfaces is not None or path == ROOT \
            else intr.Node(path)
        for interface in (interfaces or {}).values():
            node.interfaces.append(interface.introspect())
        xml = node.tostring()
        children = "".join(f'  <node name="{name}" />\n'
                           for name in sorted(self._children(path)))
        if not children:
            return xml
        if xml.endswith(" />"):                      # <node name="/x" />
            return f"{xml[:-3]}>\n{children}</node>"
        assert xml.endswith("</node>"), xml
        return f"{xml[:-len('</node>')]}{children}</node>"

    def _children(self, path: str) -> set[str]:
        """The next element of every exported path below `path` (object path
        elements need no XML escaping: [A-Za-z0-9_] only)."""
        prefix = path if path == "/" else path + "/"
        start = len(prefix)
        return {export[start:].split("/", 1)[0] for export in self._path_exports
                if export.startswith(prefix)}

    def _emit_interface_added(self, path: str, interface: Any) -> None:
        pass   # exporter.py sends it from the root path

    def _emit_interface_removed(self, path: str, removed_interfaces: list[str]) -> None:
        pass


_refused = {"count": 0, "logged": 0.0}


def _refuse_bad_sizes(message: Message) -> Message | bool | None:
    """InvalidArgument for a method call larger than any method takes: its body
    was dropped unread, or it has an a{sv} of more than MAX_OPTIONS keys or a
    string longer than validation.MAX_STRING, directly or in a list."""
    if message.message_type is not MessageType.METHOD_CALL:
        return None
    if int(message.flags) & _OVERSIZED:
        problem = (f"the call is too large: its arguments are more than "
                   f"{MAX_CALL_BODY // 1024} KiB, far more than any call takes")
    else:
        problem = _too_many(message.body)
        if problem is None:
            return None
    _refused["count"] += 1
    now = time.monotonic()
    if now - _refused["logged"] > 60:     # a caller may send thousands
        log.warning("refused %d call(s) too large to handle, the last from %s (%s.%s)",
                    _refused["count"], message.sender, message.interface, message.member)
        _refused["count"], _refused["logged"] = 0, now
    if not _expects_reply(message):
        return True
    standard = (message.interface or "").startswith("org.freedesktop.DBus.")
    return Message.new_error(message, INVALID_ARGS if standard else INVALID_ARGUMENT,
                             problem)


def _too_many(body: list) -> str | None:
    for value in body:
        if isinstance(value, dict) and len(value) > MAX_OPTIONS:
            return (f"{len(value)} options given; no method takes more than "
                    f"{MAX_OPTIONS}")
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, str) and len(item) > MAX_STRING:
                return (f"a string argument of {len(item)} characters; none may be "
                        f"longer than {MAX_STRING}")
    return None


def _expects_reply(message: Message) -> bool:
    return not message.flags & MessageFlag.NO_REPLY_EXPECTED


def _track_caller(message: Message) -> None:
    if message.message_type is MessageType.METHOD_CALL:
        current_message.set(message)

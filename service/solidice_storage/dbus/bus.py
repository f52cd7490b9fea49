"""dbus-fast, with the three gaps DESIGN.md names closed.

1. The caller of a method: tracked in a ContextVar set by a message handler, which
   runs before dispatch; async methods' tasks copy the context at creation.
2. ObjectManager signals: dbus-fast sends InterfacesAdded/Removed from the child
   path, where GLib's and Cockpit's clients don't listen. Its copies are suppressed;
   `exporter.py` sends one per object from the root.
3. EAGAIN: dbus-fast treats a full socket as a dead connection. The writer's socket
   is wrapped so a full socket reads as "nothing sent yet": the writer then waits
   for the socket to become writable, as it does after a partial send.

And one cost: dbus-fast makes a handler closure for every method of every object it
exports, 50,000 of them for 10,000 LVs, a third of our start-up there. Here every
object of a class shares one handler per method, which finds its object by the
call's path, as dbus-fast's dispatch did a moment before.
"""

import contextvars
import socket
from functools import partial
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast import introspection as intr
from dbus_fast.aio import MessageBus

from ..objpath import ROOT

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


class StorageBus(MessageBus):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared_handlers: dict[Any, Any] = {}

    async def connect(self) -> "StorageBus":
        await super().connect()
        self._writer.sock = _SendWhenWritable(self._writer.sock)
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

    def _introspect_export_path(self, path: str) -> intr.Node:
        node = super()._introspect_export_path(path)
        if path == ROOT and not node.interfaces:   # the ObjectManager lives here
            node.interfaces = intr.Node.default(path).interfaces
        return node

    def _emit_interface_added(self, path: str, interface: Any) -> None:
        pass   # exporter.py sends it from the root path

    def _emit_interface_removed(self, path: str, removed_interfaces: list[str]) -> None:
        pass


def _track_caller(message: Message) -> None:
    if message.message_type is MessageType.METHOD_CALL:
        current_message.set(message)

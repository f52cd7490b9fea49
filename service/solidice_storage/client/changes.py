# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the service's signals, and a new snapshot of its tree, mean as the events
`watch()` yields (`events.py`); the tree (path → interfaces → properties) they are
applied to is the client's (`mirror.py`). The events' objects are pinned: they hold
the object as the event left it."""

from typing import TYPE_CHECKING

from dbus_fast import Message

from .. import objpath
from . import convert, events
from .objects import handle

if TYPE_CHECKING:
    from .transport import Transport


def events_of(transport: "Transport", tree: dict, message: Message
              ) -> list[events.Event]:
    """The events one signal means, applied to `tree` (path → interfaces →
    properties) so that the next ones compare with the current state."""
    member, body = message.member, message.body
    if member == "InterfacesAdded" and message.path == objpath.ROOT:
        path, ifaces = body
        tree[path] = dict(ifaces)
        added = handle(transport, path, ifaces, live=False)
        return [events.ObjectAdded(path, added)] if added else []
    if member == "InterfacesRemoved" and message.path == objpath.ROOT:
        return _removed(transport, body[0], tree.pop(body[0], {}))
    if member == "Completed":
        success, text = body
        return [events.JobCompleted(message.path, int(convert.key_of(message.path)),
                                    success, text)]
    if member != "PropertiesChanged":
        return []
    return _changed(transport, tree, message)


def apply(tree: dict, message: Message) -> None:
    """`message`'s change made to `tree`, as `events_of` does, without its events
    (no one watches: no models to build)."""
    member, body = message.member, message.body
    if member == "InterfacesAdded" and message.path == objpath.ROOT:
        tree[body[0]] = dict(body[1])
    elif member == "InterfacesRemoved" and message.path == objpath.ROOT:
        tree.pop(body[0], None)
    elif member == "PropertiesChanged":
        interface, changed, _ = body
        ifaces = tree.get(message.path)
        if ifaces is not None and interface in ifaces:
            ifaces[interface] = {**ifaces[interface], **changed}


def differences(transport: "Transport", old: dict, new: dict) -> list[events.Event]:
    """The events that make tree `old` into tree `new` (path → interfaces →
    properties): the objects gone, then those that came, then those that changed."""
    found: list[events.Event] = []
    for path in sorted(old.keys() - new.keys()):
        found += _removed(transport, path, old[path])
    for path in sorted(new.keys() - old.keys()):
        added = handle(transport, path, new[path], live=False)
        found += [events.ObjectAdded(path, added)] if added else []
    for path in sorted(old.keys() & new.keys()):
        if path == objpath.HOST:
            found += _host_changed(old[path], new[path])
            continue
        before = handle(transport, path, old[path], live=False)
        after = handle(transport, path, new[path], live=False)
        if before is not None and after is not None:
            found += _compared(path, before, after)
    return found


def _removed(transport: "Transport", path: str, ifaces: dict) -> list[events.Event]:
    last = handle(transport, path, ifaces, live=False)
    parsed = objpath.parse(path)
    return [events.ObjectRemoved(path, parsed[0], parsed[1], last)] if parsed else []


def _host_changed(old: dict, new: dict) -> list[events.Event]:
    before = old.get(convert.INTERFACE + "Host", {})
    after = new.get(convert.INTERFACE + "Host", {})
    changed = {name: value for name, value in after.items()
               if name not in before or before[name].value != value.value}
    return [_host_event(changed)] if changed else []


def _host_event(changed: dict) -> events.HostChanged:
    return events.HostChanged({convert.snake(k): convert._field_value("Host", k, v)
                               for k, v in changed.items()})


def _compared(path: str, before, after) -> list[events.Event]:
    fields = frozenset(name for name in type(after.state).model_fields
                       if getattr(after.state, name) != getattr(before.state, name))
    return [events.ObjectChanged(path, after, before.state, fields)] if fields else []


def _changed(transport: "Transport", tree: dict, message: Message) -> list[events.Event]:
    interface, changed, _ = message.body
    if message.path == objpath.HOST:
        if message.path in tree and interface in tree[message.path]:
            tree[message.path][interface] = {**tree[message.path][interface], **changed}
        return [_host_event(changed)]
    ifaces = tree.get(message.path)
    if ifaces is None or interface not in ifaces:
        return []
    before = handle(transport, message.path, ifaces, live=False)
    ifaces[interface] = {**ifaces[interface], **changed}
    after = handle(transport, message.path, ifaces, live=False)
    return _compared(message.path, before, after)


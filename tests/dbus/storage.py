# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small root client for the tier-2 tests: calls, properties, the object tree."""

from typing import Any

from dbus_fast import DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

NAME = "org.solidice.Storage"
ROOT = "/org/solidice/Storage"
HOST = ROOT + "/Host"
IFACE = "org.solidice.Storage."
ERROR = "org.solidice.Storage.Error."


def plain(value: Any) -> Any:
    """Variants and tuples to plain Python values, for comparisons."""
    if isinstance(value, Variant):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Storage:
    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    async def call(self, path: str, interface: str, member: str, signature: str = "",
                   *body: Any) -> Any:
        """Call a method; its single return value (or list of them); DBusError raised."""
        if not interface.startswith("org."):
            interface = IFACE + interface
        reply = await self.bus.call(Message(destination=NAME, path=path,
                                            interface=interface, member=member,
                                            signature=signature, body=list(body)))
        if reply.message_type is MessageType.ERROR:
            raise DBusError(reply.error_name, reply.body[0] if reply.body else "")
        return plain(reply.body[0] if len(reply.body) == 1 else reply.body)

    async def host(self, member: str, signature: str = "", *body: Any) -> Any:
        return await self.call(HOST, "Host", member, signature, *body)

    async def pool(self, member: str, signature: str = "", *body: Any) -> Any:
        return await self.call(HOST, "StoragePool", member, signature, *body)

    async def objects(self) -> dict[str, dict[str, dict[str, Any]]]:
        return await self.call(ROOT, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects")

    async def props(self, path: str, interface: str) -> dict[str, Any]:
        return await self.call(path, "org.freedesktop.DBus.Properties", "GetAll", "s",
                               IFACE + interface)

    async def find(self, kind: str, **match: Any) -> str:
        """The one object of `kind` whose properties match."""
        found = [path for path, ifaces in (await self.objects()).items()
                 if IFACE + kind in ifaces
                 and all(ifaces[IFACE + kind].get(k) == v for k, v in match.items())]
        assert len(found) == 1, f"{kind} {match}: {found}"
        return found[0]

    async def vg(self, name: str) -> str:
        return await self.find("VolumeGroup", Name=name)

    async def lv(self, name: str) -> str:
        return await self.find("LogicalVolume", Name=name)


def opts(**values: Any) -> dict[str, Variant]:
    """a{sv} from keyword arguments: bool→b, str→s, int→t unless given a Variant.
    Python names use _ where the option keys use -."""
    def variant(value: Any) -> Variant:
        if isinstance(value, Variant):
            return value
        if isinstance(value, bool):
            return Variant("b", value)
        if isinstance(value, int):
            return Variant("t", value)
        return Variant("s", value)
    return {key.replace("_", "-") if key != "auth_no_user_interaction"
            else "auth.no_user_interaction": variant(v) for key, v in values.items()}

# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.Host at /org/solidice/Storage/Host: the seed's Host level."""

from dbus_fast import Variant
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import __version__, actions, validation
from ..models import IscsiSession, LogicalVolume, Lun, Mount, PhysicalVolume, VolumeGroup
from .base import Context, ObjectInterface, arg_names, check_options, key_of, path, paths
from .errors import storage_method


class HostInterface(ObjectInterface):
    def __init__(self, ctx: Context) -> None:
        super().__init__("Host", ctx, None)

    @property
    def _store(self):
        return self.ctx.engine.store

    @dbus_property(access=PropertyAccess.READ)
    def Version(self) -> "s":
        return __version__

    @dbus_property(access=PropertyAccess.READ)
    def Multipath(self) -> "b":
        return self.ctx.engine.multipath

    @dbus_property(access=PropertyAccess.READ)
    def IscsiInitiatorName(self) -> "s":
        return self.ctx.engine.iscsi_initiator_name

    @dbus_property(access=PropertyAccess.READ)
    def Luns(self) -> "ao":
        return paths("Lun", self._store.all(Lun))

    @dbus_property(access=PropertyAccess.READ)
    def VolumeGroups(self) -> "ao":
        return paths("VolumeGroup", self._store.all(VolumeGroup))

    @dbus_property(access=PropertyAccess.READ)
    def Mounts(self) -> "ao":
        return paths("Mount", self._store.all(Mount))

    @dbus_property(access=PropertyAccess.READ)
    def IscsiSessions(self) -> "ao":
        return paths("IscsiSession", self._store.all(IscsiSession))

    @arg_names("luns")
    @storage_method()
    async def EnumerateLuns(self, options: "a{sv}") -> "ao":
        check_options("EnumerateLuns", options)
        return paths("Lun", self.ctx.engine.reads.enumerate_luns())

    @arg_names("volume_groups")
    @storage_method()
    async def EnumerateVolumeGroups(self, options: "a{sv}") -> "ao":
        check_options("EnumerateVolumeGroups", options)
        return paths("VolumeGroup", self.ctx.engine.reads.enumerate_volume_groups())

    @arg_names("info")
    @storage_method()
    async def GetBlockInfo(self, name_or_uuid: "s", options: "a{sv}") -> "a{sv}":
        check_options("GetBlockInfo", options)
        ref = key_of(self.ctx, validation.reference(name_or_uuid, "name or UUID"),
                     "device", Lun, PhysicalVolume, LogicalVolume)
        info = await self.ctx.engine.get_block_info(ref)
        return {key.replace("_", "-"): Variant("t" if isinstance(value, int) else "s", value)
                for key, value in info.model_dump().items()}

    @arg_names("targets")
    @storage_method()
    async def DiscoverIscsiTargets(self, portal: "s", options: "a{sv}") -> "a(ss)":
        opts = check_options("DiscoverIscsiTargets", options)
        portal = validation.portal(portal)
        uid = await self.ctx.auth.check(actions.ISCSI, {"portal": portal}, opts.interactive)
        found = await self.ctx.engine.discover_iscsi_targets(portal, opts, uid=uid)
        return [list(pair) for pair in found]

    @arg_names("object_path")
    @storage_method()
    async def LoginIscsi(self, portal: "s", target: "s", options: "a{sv}") -> "o":
        opts = check_options("LoginIscsi", options)
        portal, target = validation.portal(portal), validation.iscsi_target(target)
        uid = await self.ctx.auth.check(actions.ISCSI, {"portal": portal, "target": target},
                                        opts.interactive)
        key = await self.ctx.engine.login_iscsi(portal, target, opts, uid)
        return path("IscsiSession", key)

    @storage_method()
    async def LogoutIscsi(self, portal: "s", target: "s", options: "a{sv}") -> None:
        opts = check_options("LogoutIscsi", options)
        portal, target = validation.portal(portal), validation.iscsi_target(target)
        uid = await self.ctx.auth.check(actions.ISCSI, {"portal": portal, "target": target},
                                        opts.interactive)
        await self.ctx.engine.logout_iscsi(portal, target, opts, uid=uid)

    @arg_names("luns")
    @storage_method()
    async def EnumerateIscsiLuns(self, portal: "s", target: "s", options: "a{sv}") -> "ao":
        opts = check_options("EnumerateIscsiLuns", options)
        portal, target = validation.portal(portal), validation.iscsi_target(target)
        # without authorization (uid None) the engine only reads its sessions
        uid = None
        logged_in = self._store.get(IscsiSession, IscsiSession(target=target,
                                                                portal=portal).key)
        if opts.login and logged_in is None:
            uid = await self.ctx.auth.check(actions.ISCSI, {"portal": portal,
                                                            "target": target},
                                            opts.interactive)
        wwids = await self.ctx.engine.enumerate_iscsi_luns(portal, target, opts, uid)
        return paths("Lun", wwids)

    @storage_method()
    async def Rescan(self, options: "a{sv}") -> None:
        opts = check_options("Rescan", options)
        await self.ctx.auth.check(actions.ISCSI, {}, opts.interactive)
        await self.ctx.engine.rescan(opts)

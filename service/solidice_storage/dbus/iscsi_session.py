# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.IscsiSession at /org/solidice/Storage/IscsiSession/<target@portal>."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .. import actions
from .base import Context, ObjectInterface, check_options, paths
from .errors import storage_method


class IscsiSessionInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("IscsiSession", ctx, model)

    @dbus_property(access=PropertyAccess.READ)
    def Target(self) -> "s":
        return self.model.target

    @dbus_property(access=PropertyAccess.READ)
    def Portal(self) -> "s":
        return self.model.portal

    @dbus_property(access=PropertyAccess.READ)
    def Luns(self) -> "ao":
        return paths("Lun", self.model.luns)

    @storage_method()
    async def Logout(self, options: "a{sv}") -> None:
        opts = check_options("Logout", options)
        details = {"portal": self.model.portal, "target": self.model.target}
        await self.ctx.auth.check(actions.ISCSI, details, opts.interactive)
        await self.ctx.engine.logout_iscsi(self.model.portal, self.model.target, opts)

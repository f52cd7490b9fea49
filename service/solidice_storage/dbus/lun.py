# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.Lun at /org/solidice/Storage/Lun/<wwid>."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .base import Context, ObjectInterface, path


class LunInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("Lun", ctx, model)

    @dbus_property(access=PropertyAccess.READ)
    def Uuid(self) -> "s":
        return self.model.wwid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "s":
        return self.model.device

    @dbus_property(access=PropertyAccess.READ)
    def Size(self) -> "t":
        return self.model.size

    @dbus_property(access=PropertyAccess.READ)
    def Vendor(self) -> "s":
        return self.model.vendor

    @dbus_property(access=PropertyAccess.READ)
    def Model(self) -> "s":
        return self.model.model

    @dbus_property(access=PropertyAccess.READ)
    def Serial(self) -> "s":
        return self.model.serial

    @dbus_property(access=PropertyAccess.READ)
    def Transport(self) -> "s":
        return self.model.transport

    @dbus_property(access=PropertyAccess.READ)
    def Multipath(self) -> "b":
        return self.model.multipath

    @dbus_property(access=PropertyAccess.READ)
    def Paths(self) -> "a(ss)":
        return [list(p) for p in self.model.paths]

    @dbus_property(access=PropertyAccess.READ)
    def PhysicalVolume(self) -> "o":
        return path("PhysicalVolume", self.model.physical_volume)

    @dbus_property(access=PropertyAccess.READ)
    def Status(self) -> "s":
        return self.model.status

# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.PhysicalVolume at /org/solidice/Storage/PhysicalVolume/<uuid>:
the seed's infoPV is its properties."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property

from .base import Context, ObjectInterface, path


class PhysicalVolumeInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("PhysicalVolume", ctx, model)

    @dbus_property(access=PropertyAccess.READ)
    def Uuid(self) -> "s":
        return self.model.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "s":
        return self.model.device

    @dbus_property(access=PropertyAccess.READ)
    def Size(self) -> "t":
        return self.model.size

    @dbus_property(access=PropertyAccess.READ)
    def FreeSize(self) -> "t":
        return self.model.free_size

    @dbus_property(access=PropertyAccess.READ)
    def VolumeGroup(self) -> "o":
        return path("VolumeGroup", self.model.volume_group)

    @dbus_property(access=PropertyAccess.READ)
    def Lun(self) -> "o":
        return path("Lun", self.model.lun)

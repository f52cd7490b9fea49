# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the host has, as the engine reports it and the D-Bus layer exports it.

Models refer to each other by key (UUID, WWID, local path), never by object path:
the engine knows nothing of D-Bus. Each model's `key` is its stable identifier, the
last element of its object path. Instances are immutable: a change is a new instance.
"""

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

LunStatus = Literal["free", "pv", "partitioned", "filesystem", "other"]
Transport = Literal["iscsi", "fc", "sas", "ata", "nvme", "virtio", "scsi", "unknown"]
PathState = Literal["active", "failed", "unknown"]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    KIND: ClassVar[str] = ""

    @property
    def key(self) -> str:
        raise NotImplementedError


class Lun(Model):
    """A disk the host sees; a multipathed LUN is its map, never its paths."""

    KIND: ClassVar[str] = "Lun"
    wwid: str                       # or the udev ID_PATH of a disk without one
    device: str                     # the node to use: the map's node when multipathed
    size: int
    vendor: str = ""
    model: str = ""
    serial: str = ""
    transport: Transport = "unknown"
    multipath: bool = False
    paths: tuple[tuple[str, PathState], ...] = ()
    physical_volume: str | None = None  # PV UUID
    status: LunStatus = "free"

    @property
    def key(self) -> str:
        return self.wwid


class VolumeGroup(Model):
    KIND: ClassVar[str] = "VolumeGroup"
    uuid: str
    name: str
    size: int
    free_size: int
    extent_size: int
    physical_volumes: tuple[str, ...] = ()  # PV UUIDs
    tags: tuple[str, ...] = ()
    managed: bool = False
    partial: bool = False

    @property
    def key(self) -> str:
        return self.uuid


class PhysicalVolume(Model):
    KIND: ClassVar[str] = "PhysicalVolume"
    uuid: str
    device: str
    size: int
    free_size: int
    volume_group: str | None = None  # VG UUID
    lun: str | None = None           # LUN WWID
    tags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.uuid


class LogicalVolume(Model):
    KIND: ClassVar[str] = "LogicalVolume"
    uuid: str
    name: str
    volume_group: str                # VG UUID
    size: int
    path: str
    active: bool
    origin: str | None = None        # origin LV UUID, for a snapshot
    attributes: str = ""             # lvs' lv_attr, e.g. "-wi-a-----"
    tags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.uuid

    @property
    def is_open(self) -> bool:
        return len(self.attributes) > 5 and self.attributes[5] == "o"


class Mount(Model):
    KIND: ClassVar[str] = "Mount"
    local_path: str
    server: str
    remote_path: str
    options: str                     # the mount options in effect, comma-separated
    persistent: bool = False

    @property
    def key(self) -> str:
        return self.local_path


class IscsiSession(Model):
    KIND: ClassVar[str] = "IscsiSession"
    target: str
    portal: str                      # host:port
    luns: tuple[str, ...] = ()       # LUN WWIDs

    @property
    def key(self) -> str:
        return f"{self.target}@{self.portal}"


class Job(Model):
    KIND: ClassVar[str] = "Job"
    id: int
    operation: str
    progress: float = 0.0
    objects: tuple[tuple[str, str], ...] = ()  # (kind, key) of what it works on
    started_by_uid: int = 0
    cancelable: bool = True

    @property
    def key(self) -> str:
        return str(self.id)


class BlockInfo(BaseModel):
    """GetBlockInfo's answer; exported as a{sv} with these keys (`-` for `_`)."""

    model_config = ConfigDict(frozen=True)
    uuid: str          # WWID of a LUN, LVM UUID of a PV or LV
    size: int
    path: str          # the device node
    type: str          # disk, multipath, partition, lvm, other
    used_by: str       # "", or what holds it: "pv:<vg>", "filesystem", ...
    name: str = ""


KINDS = {cls.KIND: cls for cls in (Lun, VolumeGroup, PhysicalVolume, LogicalVolume,
                                   Mount, IscsiSession, Job)}

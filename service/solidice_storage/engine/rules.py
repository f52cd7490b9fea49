# SPDX-License-Identifier: LGPL-2.1-or-later
"""Rules both engines follow that are not argument syntax."""

from .. import validation
from ..config import NfsDefaults
from ..models import LogicalVolume
from ..options import MountNfsOptions, ResizeLogicalVolumeOptions
from ..errors import Busy, Failed, InvalidArgument, NotSupported

ISCSI_TIMEOUT = 120          # seconds a login may take, by default
DISCOVERY_TIMEOUT = 30       # seconds a whole iSCSI discovery may take, by default


def nfs_mount_options(opts: MountNfsOptions, defaults: NfsDefaults = NfsDefaults()) -> str:
    """The `-o` string for mount.nfs: nosuid,nodev always; typed options only; what
    the caller left out from `defaults` (the real engine's come from storage.conf:
    fail in about a minute when a server dies, not twenty)."""
    hard = opts.hard if opts.hard is not None else defaults.hard
    parts = ["nosuid", "nodev", "ro" if opts.ro else "rw", "hard" if hard else "soft"]
    for key in ("vers", "proto", "port", "sec", "rsize", "wsize"):
        if (value := getattr(opts, key)) is not None:
            parts.append(f"{key}={value}")
    for key in ("timeo", "retrans", "retry"):
        value = getattr(opts, key)
        parts.append(f"{key}={value if value is not None else getattr(defaults, key)}")
    if opts.nolock:
        parts.append("nolock")
    return ",".join(parts)


def wwid_candidates(ref: str) -> list[str]:
    """The WWIDs a reference may mean: as given, and the `naa.`/`0x`/`eui.`
    spellings turned into the form scsi_id and multipathd print."""
    lower = ref.lower()
    for prefix, designator in (("naa.", "3"), ("0x", "3"), ("eui.", "2")):
        if lower.startswith(prefix):
            return [ref, lower, designator + lower[len(prefix):]]
    return [ref]


def extents(size: int, extent_size: int) -> int:
    """Whole extents for `size` bytes, rounded up: what `-l` takes. LVM refuses
    `-L <n>b` unless n is a multiple of 512 ("Invalid argument for --size")."""
    if extent_size <= 0:
        raise Failed("the volume group's extent size is unknown")
    return -(-size // extent_size)


# lv_attr's first character (lvs(8)): the kinds of LV Resize handles: plain (linear,
# striped), an origin of snapshots, a copy-on-write snapshot (its space for changes)
RESIZABLE = frozenset("-os")
_KINDS = {"V": "thin", "t": "thin pool", "r": "RAID", "R": "RAID", "m": "mirror",
          "M": "mirror", "C": "cache", "d": "VDO", "D": "VDO pool", "v": "virtual"}


def resize_extents(lv: LogicalVolume, size: int, extent_size: int,
                   opts: ResizeLogicalVolumeOptions) -> int | None:
    """The extents LV `lv` is to have after a Resize to `size` bytes (rounded up),
    or None when it has that size already. Refused, with nothing done: another
    size than `expected-size` or beyond 8 EiB (InvalidArgument), a smaller size
    without `shrink` (InvalidArgument), a kind of LV not handled yet or the
    shrinking of an origin, which LVM refuses (NotSupported), growing an active
    origin, which LVM does only while it is inactive (Busy). Whether the LV is
    open is the engine's question (a shrink is `Busy` then)."""
    if opts.expected_size is not None and lv.size != opts.expected_size:
        raise InvalidArgument(f"{lv.name} is {lv.size} bytes, not the expected "
                              f"{opts.expected_size}; it was not resized")
    count = extents(size, extent_size)
    new = count * extent_size
    if new == lv.size:
        return None
    kind = lv.attributes[:1] or "-"
    if kind not in RESIZABLE:
        raise NotSupported(f"{lv.name} is a {_KINDS.get(kind, 'special')} logical "
                           "volume; Resize does not handle its kind yet")
    if new > validation.MAX_SIZE:
        raise InvalidArgument("the new size is beyond LVM's limit of 8 EiB")
    if new < lv.size and not opts.shrink:
        raise InvalidArgument(f"{lv.name} is {lv.size} bytes: {new} would shrink it, "
                              "destroying what lies past the new end; pass shrink=true")
    if new < lv.size and kind == "o":
        raise NotSupported(f"{lv.name} has snapshots: LVM cannot shrink an origin")
    if kind == "o" and lv.active:
        raise Busy(f"{lv.name} has snapshots: LVM resizes an origin only while it is "
                   "inactive")
    return count

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Rules both engines follow that are not argument syntax."""

from ..config import NfsDefaults
from ..options import MountNfsOptions
from ..errors import Failed

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

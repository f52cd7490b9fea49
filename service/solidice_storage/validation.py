# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every argument a caller can send is checked here, once, for both engines.

Syntax only: whether a named thing exists is the engine's question. Each check
returns the value in its canonical form or raises `InvalidArgument` with a message
that names the argument and the rule it broke.
"""

import ipaddress
import posixpath
import re
import unicodedata
from typing import Any, Iterable

from .config import DEFAULT_MOUNT_ROOTS
from .errors import InvalidArgument

MAX_SIZE = 2**63 - 1          # LVM's own ceiling (8 EiB); D-Bus `t` goes to 2^64-1
MAX_STRING = 4096

# LVM's rules (lib/misc/lvm-string.c): [a-zA-Z0-9+_.-], not starting with '-',
# not '.' or '..', at most 127 characters; LV names also avoid LVM's internal
# prefixes and suffixes.
_LVM_NAME = re.compile(r"[A-Za-z0-9+_.][A-Za-z0-9+_.-]*")
_LV_RESERVED_PREFIXES = ("snapshot", "pvmove")
_LV_RESERVED_PARTS = ("_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_imeta",
                      "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta",
                      "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig")


# C0 and C1 controls, DEL, and U+2028/U+2029: every character str.splitlines()
# breaks a line at (\x85 and U+2028 too), so no value can add a line to a file
# we write (iscsiadm's records) or to a log line
_BREAKS = ("Cc", "Zl", "Zp")


def _text(value: str, what: str, max_len: int = MAX_STRING) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    if not value:
        raise InvalidArgument(f"{what} is empty")
    if len(value) > max_len:
        raise InvalidArgument(f"{what} is longer than {max_len} characters")
    if any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or
           (ord(c) > 0x7f and unicodedata.category(c) in _BREAKS) for c in value):
        raise InvalidArgument(f"{what} contains a control character or line break")
    return value


# LVM's UUIDs (lib/uuid/uuid.c): 32 letters and digits, printed 6-4-4-4-4-4-6. The
# resolver (engine/resolve.py) reads a reference of this shape, with or without the
# dashes, as a UUID and never as a name: so no VG or LV may be named so.
_LVM_UUID = re.compile(r"[A-Za-z0-9]{6}(?:-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}|[A-Za-z0-9]{32}")


def is_lvm_uuid(value: str) -> bool:
    """Whether `value` has the shape of an LVM UUID (dashed or not)."""
    return bool(_LVM_UUID.fullmatch(value))


def lvm_uuid(value: str) -> str:
    """An LVM UUID in the dashed form LVM prints (`value` has the shape)."""
    raw, parts = value.replace("-", ""), []
    for width in (6, 4, 4, 4, 4, 4, 6):
        parts.append(raw[:width])
        raw = raw[width:]
    return "-".join(parts)


def _lvm_name(name: str, what: str) -> str:
    _text(name, what, max_len=127)
    if name.startswith("-"):
        raise InvalidArgument(f"{what} {name!r} starts with '-'")
    if name in (".", "..") or not _LVM_NAME.fullmatch(name):
        raise InvalidArgument(
            f"{what} {name!r} is not valid: use letters, digits and + _ . - only")
    if is_lvm_uuid(name):
        raise InvalidArgument(f"{what} {name!r} has the shape of an LVM UUID, so it "
                              "would name another object's UUID; choose another name")
    return name


def vg_name(name: str) -> str:
    return _lvm_name(name, "volume group name")


def lv_name(name: str) -> str:
    _lvm_name(name, "logical volume name")
    if name.startswith(_LV_RESERVED_PREFIXES):
        raise InvalidArgument(
            f"logical volume name {name!r} starts with a prefix LVM reserves "
            f"({', '.join(_LV_RESERVED_PREFIXES)})")
    for part in _LV_RESERVED_PARTS:
        if part in name:
            raise InvalidArgument(
                f"logical volume name {name!r} contains {part!r}, which LVM reserves")
    return name


# LVM's tag rule (lib/misc/lvm-string.c, validate_tag): ASCII letters and digits
# and . _ + - / = ! : & #. lvm(8) of 2.03.16 no longer states a length; earlier
# ones said at most 1024 characters, which we keep. Never a leading '-' (getopt
# would read an option), nor '@' (LVM strips a leading one: a tag selector).
_LVM_TAG = re.compile(r"[A-Za-z0-9._+/=!:&#-]+")
MAX_TAG = 1024
MAX_TAGS = 64             # tags one call may name


def tag(value: str) -> str:
    _text(value, "tag", max_len=MAX_TAG)
    if value.startswith("-"):
        raise InvalidArgument(f"tag {value!r} starts with '-'")
    if not _LVM_TAG.fullmatch(value):
        raise InvalidArgument(f"tag {value!r} is not valid: use letters, digits and "
                              ". _ + - / = ! : & # only")
    return value


def tags(values: list[str], reserved: str) -> list[str]:
    """At least one tag, at most MAX_TAGS, none twice, and never `reserved` (the
    service's own tag on the VGs it created: no caller sets or clears it)."""
    if not isinstance(values, list) or not values:
        raise InvalidArgument("tags is empty: name at least one tag")
    if len(values) > MAX_TAGS:
        raise InvalidArgument(f"tags names more than {MAX_TAGS} tags")
    checked = [tag(value) for value in values]
    if len(set(checked)) != len(checked):
        raise InvalidArgument("tags names the same tag twice")
    if reserved in checked:
        raise InvalidArgument(f"tag {reserved!r} is the service's own: it marks the "
                              "volume groups the service created, and no caller "
                              "adds or removes it")
    return checked


def size(value: int, what: str = "size") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a number of bytes")
    if value <= 0:
        raise InvalidArgument(f"{what} must be more than 0 bytes")
    if value > MAX_SIZE:
        raise InvalidArgument(f"{what} {value} is beyond LVM's limit of 8 EiB")
    return value


# D-Bus's integer types and the values each holds
INTEGER_RANGES = {"y": (0, 2**8 - 1), "n": (-2**15, 2**15 - 1), "q": (0, 2**16 - 1),
                  "i": (-2**31, 2**31 - 1), "u": (0, 2**32 - 1),
                  "x": (-2**63, 2**63 - 1), "t": (0, 2**64 - 1)}


def option_value(value: Any, given: str, wanted: str, key: str) -> Any:
    """`value`, sent with D-Bus type `given` for option `key` of type `wanted`, as a
    value of `wanted`. The one exception to "the documented type or nothing": an
    integer of any D-Bus integer type stands for an integer option when its value
    fits the option's type, since gdbus, GJS and most dynamic bindings send a bare
    number as `i`. `InvalidArgument` for any other type, or a value that does not fit."""
    if given == wanted:
        return value
    if given not in INTEGER_RANGES or wanted not in INTEGER_RANGES:
        raise InvalidArgument(f"option {key!r} must have type '{wanted}', not '{given}'")
    low, high = INTEGER_RANGES[wanted]
    if not low <= value <= high:
        raise InvalidArgument(f"option {key!r}: {value} does not fit type '{wanted}' "
                              f"({low} to {high})")
    return value


def extent_size(value: int) -> int:
    size(value, "extent-size")
    if value & (value - 1) or not 4096 <= value <= 2**34:
        raise InvalidArgument(
            "extent-size must be a power of two between 4 KiB and 16 GiB")
    return value


def reference(value: str, what: str) -> str:
    """A VG, PV, LV or device named by UUID, name, object path or /dev path. A
    path that is not an object path must be a device path (`device_path`)."""
    _text(value, what)
    if value.startswith("-"):
        raise InvalidArgument(f"{what} {value!r} starts with '-'")
    if value.startswith("/") and not value.startswith("/org/"):
        device_path(value, what)
    return value


def device_path(value: str, what: str) -> str:
    """A normalized path under /dev: no '.', '..' or empty component. The engines
    resolve it from udev's data alone and never look it up on the filesystem, but
    nothing that could lead out of /dev (into a dead NFS or a FUSE mount) passes."""
    parts = value.split("/")
    if parts[:2] != ["", "dev"] or len(parts) < 3 or \
            any(part in ("", ".", "..") for part in parts[2:]):
        raise InvalidArgument(f"{what} {value!r} is not a device: give a normalized "
                              "path under /dev (no '.', '..' or '//'), a name or a UUID")
    return value


def devices(values: list[str]) -> list[str]:
    if not values:
        raise InvalidArgument("devices is empty: name at least one device")
    checked = [reference(v, "device") for v in values]
    if len(set(checked)) != len(checked):
        raise InvalidArgument("devices names the same device twice")
    return checked


# Trees never mounted in, whatever the administrator allows: home directories
# (a user's files, and root's own: ~/.ssh, ~/.bashrc), the system's trees (cron's
# spool, /etc), and our own state apart from the mount root we keep there.
# config.py refuses roots in the first two; this holds even below an added root.
_NEVER_BELOW = ("/root", "/home", "/var/home", "/run/user", "/etc", "/usr", "/boot",
                "/proc", "/sys", "/dev", "/run", "/var/run", "/var/spool", "/var/log",
                "/var/lib/solidice-storage")
OWN_MOUNT_ROOT = "/var/lib/solidice-storage/mnt"


def _below(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip("/") + "/")


def local_path(value: str, roots: Iterable[str] = DEFAULT_MOUNT_ROOTS) -> str:
    """A mount point strictly below one of `roots` (config.Config.mount_roots: the
    defaults and the administrator's [mounts] allowed-roots), never in a home or
    system directory. Whether the directories on the way are root's only is the
    engine's question (it looks at them in a child process)."""
    _text(value, "local path")
    if not value.startswith("/"):
        raise InvalidArgument(f"local path {value!r} is not absolute")
    normal = posixpath.normpath(value)
    if normal.startswith("//"):
        normal = "/" + normal.lstrip("/")
    if normal != value:
        raise InvalidArgument(f"local path {value!r} is not normalized; "
                              f"did you mean {normal!r}?")
    roots = tuple(roots)
    allowed = (f"mounts are allowed only below {', '.join(roots)} (an administrator "
               "adds others in [mounts] allowed-roots of storage.conf)")
    if any(value == never or _below(value, never) for never in _NEVER_BELOW) \
            and not _below(value, OWN_MOUNT_ROOT):
        raise InvalidArgument(f"local path {value!r} is in a home or system directory; "
                              f"{allowed}")
    if not any(_below(value, root) for root in roots):
        raise InvalidArgument(f"local path {value!r} is not below an allowed root; "
                              f"{allowed}")
    return value


def unmount_point(value: str, roots: Iterable[str] = DEFAULT_MOUNT_ROOTS) -> str:
    """A mount point either Unmount may end: `StoragePool.Unmount(path)` and
    `Mount.Unmount()` alike, whichever way the caller names the mount. The rule
    is the mount rule (`local_path`, with the same `roots`): no caller unmounts /,
    /home or a system tree (an administrator's own NFS mount there stays), and
    what MountNfs made can be unmounted."""
    return local_path(value, roots)


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SCOPE = re.compile(r"[A-Za-z0-9_.-]{1,15}")   # an interface name, as IFNAMSIZ allows
_PORT = re.compile(r"[0-9]{1,5}")


def host(value: str, what: str = "server") -> str:
    """A hostname, an IPv4 address or an IPv6 address in brackets."""
    _text(value, what, max_len=255)
    if value.startswith("["):
        if not value.endswith("]"):
            raise InvalidArgument(f"{what} {value!r}: an IPv6 address needs a ']'")
        address, _, scope = value[1:-1].partition("%")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise InvalidArgument(f"{what} {value!r} is not an IPv6 address") from None
        if "%" in value and not _SCOPE.fullmatch(scope):
            raise InvalidArgument(f"{what} {value!r} has a bad IPv6 scope (interface)")
        return value
    try:
        ipaddress.IPv4Address(value)
        return value
    except ValueError:
        pass
    if ":" in value:
        raise InvalidArgument(f"{what} {value!r}: put an IPv6 address in brackets")
    labels = value.rstrip(".").split(".")
    if (not all(_HOST_LABEL.fullmatch(label) for label in labels)
            or labels[-1].isdigit()):       # an all-numeric last label is a bad IPv4
        raise InvalidArgument(f"{what} {value!r} is not a hostname or IP address")
    if value[0] == "-":
        raise InvalidArgument(f"{what} {value!r} is not a hostname or IP address")
    return value


def remote_path(value: str) -> str:
    _text(value, "remote path")
    if not value.startswith("/"):
        raise InvalidArgument(f"remote path {value!r} is not absolute")
    normal = posixpath.normpath(value)
    if normal.startswith("//"):          # POSIX keeps a leading "//"; we do not
        normal = "/" + normal.lstrip("/")
    if normal != value:
        raise InvalidArgument(f"remote path {value!r} is not normalized")
    return value


def portal(value: str) -> str:
    """An iSCSI portal `host[:port]`; returns `host:port` (3260 by default)."""
    _text(value, "portal", max_len=262)
    if value.startswith("["):
        if "]" not in value:
            raise InvalidArgument(f"portal {value!r}: an IPv6 address needs a ']'")
        address, _, rest = value.partition("]")
        address += "]"
        port = rest[1:] if rest.startswith(":") else ("" if not rest else None)
    elif value.count(":") == 1:
        address, port = value.split(":")
        port = port or None
    else:
        address, port = value, ""
    if port is None:
        raise InvalidArgument(f"portal {value!r} is not host[:port]")
    host(address, "portal")
    port = port or "3260"
    if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        raise InvalidArgument(f"portal {value!r} has a bad port")
    return f"{address}:{int(port)}"


# RFC 3720 3.2.6.2: letters, digits, '-', '.' and ':' (we also take '_'). Never '/':
# the name becomes a directory in iscsiadm's database.
_IQN = re.compile(r"iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*[a-z0-9](:[A-Za-z0-9._:-]+)?")
_EUI = re.compile(r"eui\.[0-9A-Fa-f]{16}")
_NAA = re.compile(r"naa\.(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})")


def iscsi_target(value: str) -> str:
    _text(value, "target", max_len=223)   # RFC 3720's limit
    if not (_IQN.fullmatch(value) or _EUI.fullmatch(value) or _NAA.fullmatch(value)):
        raise InvalidArgument(f"target {value!r} is not an iSCSI name "
                              "(iqn.YYYY-MM.domain:name, eui.… or naa.…)")
    return value


def chap(value: str, what: str) -> str:
    return _text(value, what, max_len=255)

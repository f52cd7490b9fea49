# SPDX-License-Identifier: LGPL-2.1-or-later
"""Stable object paths: `/org/solidice/Storage/<Kind>/<escaped identifier>`.

The last element is the object's stable identifier (LVM UUID, WWID, local path,
target and portal, job number) with every byte outside [A-Za-z0-9] written as `_`
and two hex digits, so a path survives restarts and can be turned back into its key.
Plain string functions: the engine's resolver uses them too, without D-Bus.
"""

import re

ROOT = "/org/solidice/Storage"
HOST = ROOT + "/Host"
NO_OBJECT = "/"

KINDS = ("Lun", "VolumeGroup", "PhysicalVolume", "LogicalVolume", "Mount",
         "IscsiSession", "Job")

_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ESCAPED = re.compile(r"(?:[A-Za-z0-9]|_[0-9a-f]{2})+")


# every ASCII character outside [A-Za-z0-9] → `_xx`: str.translate does an ASCII key
# (every LVM UUID, WWID and path) in one C call
_ASCII_ESCAPES = {b: f"_{b:02x}" for b in range(128) if b not in _PLAIN}


def escape(key: str) -> str:
    if key.isascii():
        bare = key.replace("-", "")
        if bare.isalnum() or not bare:     # an LVM UUID: 4× faster than translate
            return key.replace("-", "_2d")
        return key.translate(_ASCII_ESCAPES)
    return "".join(chr(b) if b in _PLAIN else f"_{b:02x}" for b in key.encode())


def unescape(element: str) -> str | None:
    """The key an escaped element stands for, or None if it is not one we made."""
    if not _ESCAPED.fullmatch(element):
        return None
    out = bytearray()
    i = 0
    while i < len(element):
        if element[i] == "_":
            out.append(int(element[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(ord(element[i]))
            i += 1
    try:
        return out.decode()
    except UnicodeDecodeError:
        return None


def path(kind: str, key: str | None) -> str:
    """The object path of `kind` with identifier `key`; `/` for no object."""
    if key is None:
        return NO_OBJECT
    return f"{ROOT}/{kind}/{escape(key)}"


def parse(object_path: str) -> tuple[str, str] | None:
    """(kind, key) of one of our object paths, or None."""
    prefix = ROOT + "/"
    if not object_path.startswith(prefix):
        return None
    parts = object_path[len(prefix):].split("/")
    if len(parts) != 2 or parts[0] not in KINDS:
        return None
    key = unescape(parts[1])
    return None if key is None else (parts[0], key)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The administrator's configuration: `/etc/solidice-storage/storage.conf` (TOML).

Read once at start with the standard library's `tomllib`. A missing file means the
built-in defaults; a malformed one (bad TOML, an unknown key, a value of the wrong
type or out of range) stops the daemon at start with a message naming the line, so
a typo never silently falls back to a default. `etc/storage.conf` in the source
tree, installed by `make install` as a commented example, documents every key.
"""

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

DEFAULT_PATH = Path("/etc/solidice-storage/storage.conf")

#: Where MountNfs may mount, before the administrator adds anything: trees meant
#: for mounts, and a directory of our own (never a home directory, never a tree a
#: non-root user can write: validation.py and the engine check both).
DEFAULT_MOUNT_ROOTS = ("/mnt", "/media", "/srv", "/var/lib/solidice-storage/mnt")


class ConfigError(Exception):
    """The configuration file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class NfsDefaults:
    """What a MountNfs without the option gets. Fail in about a minute when a
    server dies, not twenty (vdsm's old timeo=600,retrans=6 took 21 minutes)."""
    timeo: int = 100            # deciseconds per try, as nfs(5)
    retrans: int = 3
    retry: int = 1              # minutes mount.nfs keeps trying
    hard: bool = False
    mount_timeout: int = 90     # seconds a whole MountNfs may take


@dataclass(frozen=True)
class Config:
    #: subtrees MountNfs may mount below, the defaults and the administrator's own
    mount_roots: tuple[str, ...] = DEFAULT_MOUNT_ROOTS
    nfs: NfsDefaults = field(default_factory=NfsDefaults)
    #: LVM commands that may run at once (long data moves excepted: runner.py)
    lvm_concurrency: int = 4
    #: seconds to wait for polkit's answer before denying
    polkit_timeout: float = 120
    #: authorization checks one caller (and one uid) may have waiting on polkit
    polkit_pending_per_caller: int = 4
    #: authorization checks waiting on polkit for everyone together, well under
    #: dbus-daemon's max_replies_per_connection (128 by default)
    polkit_pending_total: int = 64
    #: where the file was read from, for messages (None: built-in defaults)
    source: Path | None = None


def _int(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return value
    return check


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not low <= value <= high:
            raise ValueError(f"a number from {low:g} to {high:g}")
        return float(value)
    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _roots(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of absolute directory paths")
    roots = []
    for root in value:
        parts = root.split("/")
        if (not root.startswith("/") or root == "/" or ".." in parts or "." in parts
                or "//" in root or any(ord(c) < 0x20 or c == "\x7f" for c in root)):
            raise ValueError(f"an absolute, normalised directory path other than /, "
                             f"not {root!r}")
        if root.split("/")[1] in ("root", "home", "proc", "sys", "dev", "run", "etc",
                                  "boot", "usr", "bin", "sbin", "lib", "lib64", "tmp"):
            raise ValueError(f"a directory outside system and home trees, not {root!r}")
        roots.append(root.rstrip("/"))
    return tuple(roots)


# section → key → (Config field, check); "nfs" keys go into NfsDefaults
_SCHEMA: dict[str, dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "mounts": {"allowed-roots": ("mount_roots", _roots)},
    "nfs": {"timeo": ("timeo", _int(1, 6000)), "retrans": ("retrans", _int(0, 100)),
            "retry": ("retry", _int(0, 10000)), "hard": ("hard", _bool),
            "mount-timeout": ("mount_timeout", _int(1, 3600))},
    "lvm": {"concurrency": ("lvm_concurrency", _int(1, 64))},
    "polkit": {"timeout": ("polkit_timeout", _number(1, 3600)),
               "pending-per-caller": ("polkit_pending_per_caller", _int(1, 32)),
               "pending-total": ("polkit_pending_total", _int(1, 100))},
}


def load(path: Path = DEFAULT_PATH) -> Config:
    """The configuration in `path`, or the defaults when there is no such file.
    Raises ConfigError naming the line when the file is malformed."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it: {e}") from None
    return parse(text, path)


def parse(text: str, path: Path = DEFAULT_PATH) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    top: dict[str, Any] = {}
    nfs: dict[str, Any] = {}
    for section, table in data.items():
        keys = _SCHEMA.get(section)
        if keys is None or not isinstance(table, dict):
            raise ConfigError(f"{path}, line {_line_of(text, section)}: unknown section "
                              f"[{section}] (known: {', '.join(sorted(_SCHEMA))})")
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(f"{path}, line {_line_of(text, section, key)}: unknown "
                                  f"key {key!r} in [{section}] (known: "
                                  f"{', '.join(sorted(keys))})")
            name, check = keys[key]
            try:
                checked = check(value)
            except ValueError as e:
                raise ConfigError(f"{path}, line {_line_of(text, section, key)}: "
                                  f"[{section}] {key} must be {e}") from None
            (nfs if section == "nfs" else top)[name] = checked
    if "mount_roots" in top:
        top["mount_roots"] = tuple(dict.fromkeys(DEFAULT_MOUNT_ROOTS + top["mount_roots"]))
    return Config(nfs=NfsDefaults(**nfs), source=path, **top)


def _line_of(text: str, section: str, key: str | None = None) -> int:
    """The line where [section] (or `key` inside it) is written; 1 if not found."""
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if key is None:
        return (start or 0) + 1
    pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
    for i in range(start + 1 if start is not None else 0, len(lines)):
        if start is not None and i > start and lines[i].lstrip().startswith("["):
            break
        if pattern.match(lines[i]):
            return i + 1
    return (start or 0) + 1

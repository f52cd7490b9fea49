# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every method's a{sv} options as a frozen dataclass, checked once at the D-Bus edge.

The dataclasses are the one table of options: a field's metadata holds the key a
caller sends, its D-Bus signature and its check (the value checks themselves are in
`validation`). The engine reads `opts.wipe`, never a key from a dict. A field left at
its default means the caller did not give it: `None` where "not given" and every
value differ (`extent_size`, `timeout`), the documented default otherwise.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from . import validation
from .errors import InvalidArgument

AUTH_KEY = "auth.no_user_interaction"
Check = Callable[[Any, str], Any]


def _any(value: Any, key: str) -> Any:
    return value


def _one_of(*allowed: str) -> Check:
    def check(value: Any, key: str) -> Any:
        if value not in allowed:
            raise InvalidArgument(f"option {key!r} must be one of {', '.join(allowed)}")
        return value
    return check


def _between(low: int, high: int) -> Check:
    def check(value: Any, key: str) -> Any:
        if not low <= value <= high:
            raise InvalidArgument(f"option {key!r} must be between {low} and {high}")
        return value
    return check


def _secret(value: Any, key: str) -> Any:
    return validation.chap(value, f"option {key!r}")


def _extent_size(value: Any, key: str) -> Any:
    return validation.extent_size(value)


def _size(value: Any, key: str) -> Any:
    return validation.size(value, key)


def option(key: str, signature: str, default: Any = None, check: Check = _any,
           secret: bool = False) -> Any:
    """A field of an options dataclass: sent as `key` with D-Bus `signature`."""
    return field(default=default, repr=not secret,
                 metadata={"key": key, "signature": signature, "check": check})


@dataclass(frozen=True)
class Options:
    """What every method takes: whether polkit may ask the caller."""
    no_user_interaction: bool = option(AUTH_KEY, "b", False)

    @property
    def interactive(self) -> bool:
        return not self.no_user_interaction

    def replace(self, **changes: Any) -> "Options":
        """A copy with `changes` (field names) applied."""
        return dataclasses.replace(self, **changes)

    def record(self) -> dict[str, Any]:
        """The options given, by their D-Bus keys, for a record kept on disk: those
        that differ from the default, without the polkit flag."""
        return {f.metadata["key"]: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "no_user_interaction" and getattr(self, f.name) != f.default}


@dataclass(frozen=True)
class CreateVolumeGroupOptions(Options):
    wipe: bool = option("wipe", "b", False)
    extent_size: int | None = option("extent-size", "t", check=_extent_size)


@dataclass(frozen=True)
class ExtendVolumeGroupOptions(Options):
    wipe: bool = option("wipe", "b", False)


@dataclass(frozen=True)
class RemoveOptions(Options):
    """Removing a VG or an LV: `force` allows one this service did not create."""
    force: bool = option("force", "b", False)


@dataclass(frozen=True)
class RemovePhysicalVolumeOptions(Options):
    move_data: bool = option("move-data", "b", False)


@dataclass(frozen=True)
class CreateLogicalVolumeOptions(Options):
    activate: bool = option("activate", "b", True)


@dataclass(frozen=True)
class ExtendLogicalVolumeOptions(Options):
    expected_size: int | None = option("expected-size", "t", check=_size)


@dataclass(frozen=True)
class ResizeLogicalVolumeOptions(Options):
    """`shrink` allows a smaller size (it destroys what lies past the new end)."""
    shrink: bool = option("shrink", "b", False)
    expected_size: int | None = option("expected-size", "t", check=_size)


@dataclass(frozen=True)
class DiscoveryOptions(Options):
    username: str = option("username", "s", "", _secret, secret=True)
    password: str = option("password", "s", "", _secret, secret=True)
    timeout: int | None = option("timeout", "u", check=_between(1, 3600))

    @property
    def chap(self) -> tuple[str, str] | None:
        """(username, password) when the caller gave CHAP credentials."""
        return (self.username, self.password) if self.username or self.password else None


@dataclass(frozen=True)
class LoginOptions(DiscoveryOptions):
    node_startup: str | None = option("node-startup", "s",
                                      check=_one_of("manual", "automatic"))


@dataclass(frozen=True)
class EnumerateIscsiLunsOptions(LoginOptions):
    login: bool = option("login", "b", True)


@dataclass(frozen=True)
class MountNfsOptions(Options):
    vers: str | None = option("vers", "s", check=_one_of("3", "4", "4.0", "4.1", "4.2"))
    timeo: int | None = option("timeo", "u", check=_between(1, 6000))  # deciseconds
    retrans: int | None = option("retrans", "u", check=_between(0, 100))
    retry: int | None = option("retry", "u", check=_between(0, 10000))  # minutes
    hard: bool | None = option("hard", "b")
    ro: bool = option("ro", "b", False)
    proto: str | None = option("proto", "s", check=_one_of("tcp", "rdma"))
    port: int | None = option("port", "q")
    sec: str | None = option("sec", "s", check=_one_of("sys", "krb5", "krb5i", "krb5p"))
    rsize: int | None = option("rsize", "u", check=_between(1024, 1048576))
    wsize: int | None = option("wsize", "u", check=_between(1024, 1048576))
    nolock: bool = option("nolock", "b", False)
    persistent: bool = option("persistent", "b", False)
    create_mountpoint: bool = option("create-mountpoint", "b", False)
    timeout: int | None = option("timeout", "u", check=_between(1, 3600))


# Method (D-Bus member, or Interface.Member where two share a name) → its options.
# A method not named here takes only the polkit flag.
OPTIONS: dict[str, type[Options]] = {
    "CreateVolumeGroup": CreateVolumeGroupOptions,
    "VolumeGroup.Extend": ExtendVolumeGroupOptions,
    "RemoveVolumeGroup": RemoveOptions,
    "VolumeGroup.Remove": RemoveOptions,
    "RemovePhysicalVolume": RemovePhysicalVolumeOptions,
    "CreateLogicalVolume": CreateLogicalVolumeOptions,
    "LogicalVolume.Extend": ExtendLogicalVolumeOptions,
    "LogicalVolume.Resize": ResizeLogicalVolumeOptions,
    "LogicalVolume.Remove": RemoveOptions,
    "DiscoverIscsiTargets": DiscoveryOptions,
    "LoginIscsi": LoginOptions,
    "EnumerateIscsiLuns": EnumerateIscsiLunsOptions,
    "MountNfs": MountNfsOptions,
}

_PYTHON_TYPES = {"b": bool, "s": str, "u": int, "q": int, "t": int}


def fields_of(method: str) -> dict[str, dataclasses.Field]:
    """Key a caller sends → the field it fills, for `method`."""
    cls = OPTIONS.get(method, Options)
    return {f.metadata["key"]: f for f in dataclasses.fields(cls)}


def signatures(method: str) -> dict[str, str]:
    """Key → D-Bus signature, every option `method` takes."""
    return {key: f.metadata["signature"] for key, f in fields_of(method).items()}


def parse(method: str, given: dict[str, tuple[str, Any]]) -> Options:
    """Check `given` ({key: (D-Bus signature, value)}) against `method`'s options: each
    key one of the method's, each value of its documented type (an integer option
    also takes any integer type whose value fits: validation.option_value)."""
    allowed = fields_of(method)
    values = {}
    for key, (signature, value) in given.items():
        if key not in allowed:
            raise InvalidArgument(f"unknown option {key!r} for {method}; "
                                  f"it takes: {', '.join(sorted(allowed))}")
        wanted = allowed[key].metadata
        value = validation.option_value(value, signature, wanted["signature"], key)
        values[allowed[key].name] = wanted["check"](value, key)
    return OPTIONS.get(method, Options)(**values)


def from_record(method: str, values: dict[str, Any]) -> Options:
    """Options read back from the daemon's own records (plain JSON values), checked
    as a caller's would be."""
    known = {k: s for k, s in signatures(method).items() if k != AUTH_KEY}
    given = {}
    for key, value in values.items():
        signature = known.get(key, "?")
        wanted = _PYTHON_TYPES.get(signature)
        low, high = validation.INTEGER_RANGES.get(signature, (value, value))
        if wanted is None or type(value) is not wanted or not low <= value <= high:
            raise InvalidArgument(f"stored option {key!r}={value!r} is not valid for "
                                  f"{method}")
        given[key] = (signature, value)
    return parse(method, given)

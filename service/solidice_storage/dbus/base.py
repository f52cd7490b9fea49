# SPDX-License-Identifier: LGPL-2.1-or-later
"""What every adapter shares: the context it runs in and the object base class."""

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import dbus_fast.aio.message_bus
import dbus_fast.service
from dbus_fast import Variant
from dbus_fast.service import ServiceInterface

from .. import objpath, options
from ..config import Config
from ..engine.protocol import Engine
from ..errors import InvalidArgument, NotFound
from ..models import Model
from .auth import Authority

INTERFACE = "org.solidice.Storage."


@dataclass
class Context:
    engine: Engine
    auth: Authority
    config: Config = field(default_factory=Config)


def check_options(method: str, given: dict[str, Variant]) -> options.Options:
    """Check an a{sv} against `method`'s options (options.py; docs/api.md, "Options")."""
    return options.parse(method, {k: (v.signature, v.value) for k, v in given.items()})


def path(kind: str, key: str | None) -> str:
    return objpath.path(kind, key)


def paths(kind: str, keys: Any) -> list[str]:
    return [objpath.path(kind, key) for key in keys]


# what each kind is called in an error
_CALLED = {"Lun": "LUN", "VolumeGroup": "volume group", "PhysicalVolume": "physical volume",
           "LogicalVolume": "logical volume"}


def key_of(ctx: Context, ref: str, what: str, *kinds: type[Model]) -> str:
    """`ref` as the engine takes references: one of our object paths becomes the
    key (UUID, WWID for a LUN) of the object it names, anything else is left as
    it is. `InvalidArgument` for an object path that is not of one of `kinds` (a
    `what`), `NotFound` when its object is not there."""
    if not ref.startswith("/org/"):
        return ref
    parsed = objpath.parse(ref)
    cls = next((c for c in kinds if parsed is not None and parsed[0] == c.KIND), None)
    if cls is None:
        raise InvalidArgument(f"{ref!r} is not the object path of a {what}")
    if ctx.engine.store.get(cls, parsed[1]) is None:
        raise NotFound(f"no {_CALLED[cls.KIND]} at {ref}")
    return parsed[1]


def arg_names(*names: str) -> Callable[[Any], Any]:
    """Name a method's out-args (or a signal's args) in the introspection the bus
    serves, as interfaces/*.xml names them: dbus-fast's decorators name in-args after
    the parameters but leave these unnamed, which tools show as `arg_1`…"""
    def decorator(member: Any) -> Any:
        spec = member.__dict__.get("__DBUS_METHOD") or member.__dict__["__DBUS_SIGNAL"]
        intro = spec.introspection
        args = intro.out_args if hasattr(intro, "out_args") else intro.args
        assert len(args) == len(names), (intro.name, names)
        for arg, name in zip(args, names):
            arg.name = name
        return member
    return decorator


class _InspectOnce:
    """`inspect` for dbus-fast, with what it asks of each exported object remembered.
    ServiceInterface.__init__ looks up the class's D-Bus members with
    inspect.getmembers, and the bus's export asks inspect.iscoroutinefunction of
    every method, for every object exported: two thirds of the start-up at 10,000
    LVs. A class's members and a function's kind do not change."""

    def __init__(self) -> None:
        self._members: dict[type, list] = {}
        self._coroutine: dict[Any, bool] = {}

    def getmembers(self, cls: type) -> list:
        members = self._members.get(cls)
        if members is None:
            members = self._members[cls] = inspect.getmembers(cls)
        return members

    def iscoroutinefunction(self, fn: Any) -> bool:
        answer = self._coroutine.get(fn)
        if answer is None:
            answer = self._coroutine[fn] = inspect.iscoroutinefunction(fn)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


dbus_fast.service.inspect = dbus_fast.aio.message_bus.inspect = _InspectOnce()


class ObjectInterface(ServiceInterface):
    """An interface of one exported object: holds the engine context and the
    object's current model; properties read from the model."""

    def __init__(self, name: str, ctx: Context, model: Model | None) -> None:
        super().__init__(INTERFACE + name)
        self.ctx = ctx
        self.model: Any = model
        self._values = self._read()

    def _read(self) -> dict[str, tuple[str, Any]]:
        return {p.name: (p.signature, p.fget(self))
                for p in ServiceInterface._get_properties(self)}

    def properties(self) -> dict[str, Variant]:
        return {name: Variant(sig, value) for name, (sig, value) in self._values.items()}

    def update(self, model: Model | None) -> bool:
        """Take a new model; one PropertiesChanged with whatever differs. Whether
        anything did."""
        self.model = model
        values = self._read()
        changed = {name: value for name, (sig, value) in values.items()
                   if self._values.get(name) != (sig, value)}
        self._values = values
        if changed:
            self.emit_properties_changed(changed)
        return bool(changed)

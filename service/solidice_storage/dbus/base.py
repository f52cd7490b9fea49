"""What every adapter shares: the context it runs in and the object base class."""

from dataclasses import dataclass
from typing import Any

from dbus_fast import Variant
from dbus_fast.service import ServiceInterface

from .. import objpath, validation
from ..engine.base import Engine
from ..models import Model
from .auth import Authority

INTERFACE = "org.solidice.Storage."


@dataclass
class Context:
    engine: Engine
    auth: Authority


def check_options(method: str, given: dict[str, Variant]) -> validation.Options:
    """Check an a{sv} against `method`'s option table (DESIGN.md)."""
    return validation.options(method, {k: (v.signature, v.value) for k, v in given.items()})


def path(kind: str, key: str | None) -> str:
    return objpath.path(kind, key)


def paths(kind: str, keys: Any) -> list[str]:
    return [objpath.path(kind, key) for key in keys]


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

    def update(self, model: Model | None) -> None:
        """Take a new model; one PropertiesChanged with whatever differs."""
        self.model = model
        values = self._read()
        changed = {name: value for name, (sig, value) in values.items()
                   if self._values.get(name) != (sig, value)}
        self._values = values
        if changed:
            self.emit_properties_changed(changed)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""D-Bus properties to the models of `models.py`, and Python options to a{sv}.

The wire names objects by path; the models name them by key (UUID, WWID, local
path), so every `o` and `ao` value becomes the key(s) its path stands for, and "no
object" (`/`) becomes None. Properties a newer service adds are dropped, so an
older client keeps working.
"""

import re
from typing import Any

from dbus_fast import Variant

from .. import models, objpath
from .. import options as typed_options
from .errors import InvalidArgumentError

INTERFACE = "org.solidice.Storage."

# Properties whose model field is not simply the snake_case of the property.
_FIELD_NAMES = {("Lun", "Uuid"): "wwid"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def plain(value: Any) -> Any:
    """Variants unwrapped, lists kept (for properties without a model)."""
    if isinstance(value, Variant):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def key_of(path: str) -> str | None:
    """The key an object path stands for; None for `/` (no object)."""
    parsed = objpath.parse(path)
    return None if parsed is None else parsed[1]


def kind_of(path: str) -> str | None:
    parsed = objpath.parse(path)
    return None if parsed is None else parsed[0]


def _field_value(kind: str, name: str, variant: Variant) -> Any:
    value = variant.value
    if variant.signature == "o":
        return key_of(value)
    if variant.signature == "ao":
        if (kind, name) == ("Job", "Objects"):       # the model keeps (kind, key)
            return tuple(objpath.parse(p) for p in value if objpath.parse(p))
        return tuple(key_of(p) for p in value)
    if variant.signature.startswith("a("):
        return tuple(tuple(item) for item in value)
    if variant.signature.startswith("a"):
        return tuple(value)
    return value


def model(kind: str, path: str, properties: dict[str, Variant]) -> models.Model:
    """The model of object `path` of `kind` from its D-Bus properties."""
    cls = models.KINDS[kind]
    values = {}
    for name, variant in properties.items():
        field = _FIELD_NAMES.get((kind, name), snake(name))
        if field in cls.model_fields:
            values[field] = _field_value(kind, name, variant)
    if kind == "Job":                                # its number is only in its path
        values["id"] = int(key_of(path))
    return cls.model_validate(values)


def block_info(info: dict[str, Variant]) -> models.BlockInfo:
    return models.BlockInfo.model_validate(
        {key.replace("-", "_"): value.value for key, value in info.items()})


# Python keyword → option key: `_` for `-`, except the shared udisks2 spelling.
_AUTH_KEYWORD = "no_user_interaction"


def options(method: str, **given: Any) -> dict[str, Variant]:
    """The a{sv} for `method` from keyword arguments, typed as the contract's option
    table says (`options.py`, the table the service checks against).
    Arguments left at None are not sent: the service's default applies."""
    table = typed_options.signatures(method)
    result = {}
    for keyword, value in given.items():
        if value is None:
            continue
        key = typed_options.AUTH_KEY if keyword == _AUTH_KEYWORD else keyword.replace("_", "-")
        signature = table.get(key)
        if signature is None:
            raise TypeError(f"{method} takes no option {keyword!r}")
        result[key] = Variant(signature, _typed(signature, value, keyword))
    return result


# The largest value of each unsigned type of the options' table.
_UNSIGNED_MAX = {"y": 2**8 - 1, "q": 2**16 - 1, "u": 2**32 - 1, "t": 2**64 - 1}


def _typed(signature: str, value: Any, keyword: str) -> Any:
    if signature == "b":
        if not isinstance(value, bool):
            raise InvalidArgumentError(f"option {keyword} must be True or False, "
                                       f"not {value!r}")
        return value
    if signature == "s":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidArgumentError(f"option {keyword} must be a str, not {value!r}")
        return str(value)                  # vers=4.2 as well as vers="4.2"
    largest = _UNSIGNED_MAX.get(signature, 2**31 - 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= largest:
        raise InvalidArgumentError(f"option {keyword} must be a whole number from 0 to "
                                   f"{largest}, not {value!r}")
    return value

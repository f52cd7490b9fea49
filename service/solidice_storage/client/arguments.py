# SPDX-License-Identifier: LGPL-2.1-or-later
"""A method's Python arguments checked before anything is sent: a wrong type or a
negative size is the caller's InvalidArgumentError, naming the argument, never a
D-Bus library's exception (nor a call half made that leaves a future behind).

The service checks every value again (its `validation.py`): here only the types the
wire needs and what no value of them could mean (a size below zero, a flag given as
1) are refused.
"""

from typing import Any

from .errors import InvalidArgumentError

MAX_SIZE = 2**64 - 1
"""The largest size the wire carries (D-Bus `t`)."""


def size(value: Any, name: str) -> int:
    """`value` if it is a whole number of bytes the wire can carry."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{name} must be a whole number of bytes (an int), not {value!r}")
    if not 0 <= value <= MAX_SIZE:
        raise InvalidArgumentError(f"{name} must be between 0 and 2**64-1 bytes, "
                                   f"not {value}")
    return value


def text(value: Any, name: str) -> str:
    """`value` if it is a str."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, not {value!r}")
    return value


def texts(value: Any, name: str) -> list[str]:
    """`value` as a list if it is a list or tuple of str (a str alone is refused:
    its letters are not names)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidArgumentError(f"{name} must be a list of str, not {value!r}")
    for item in value:
        text(item, f"each of {name}")
    return list(value)


def flag(value: Any, name: str) -> bool:
    """`value` if it is True or False (1 and 0 are refused, as on the wire)."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, not {value!r}")
    return value

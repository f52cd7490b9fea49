# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the command line accepts as a value: sizes, counts, seconds, job numbers, and
argparse itself taught that `-5G` is a (refused) size rather than an option."""

import argparse
import math
import re
from typing import Any

from .format import parse_size

# A word shaped like a negative number, with or without a unit: a value, not an
# option, so that `-5G` is refused as a size rather than read as a flag.
_NEGATIVE = re.compile(r"^-[0-9]*\.?[0-9]+[A-Za-z]*$")


class Parser(argparse.ArgumentParser):
    """argparse's parser, reading `-5G` and `-1` as values (which the argument's
    type then refuses with its own sentence) rather than as unknown options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE


def arg(*flags: str, **options: Any) -> tuple:
    return flags, options


def size_argument(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def grow_argument(text: str) -> tuple[int, int | None]:
    """`+SIZE` adds (the seed's extendLV); `SIZE` is the new total."""
    if text.startswith("+"):
        return size_argument(text[1:]), None
    return 0, size_argument(text)


def _number(text: str, kind: type, least: float, what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not math.isfinite(value) or value < least:        # nan is not below anything
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def seconds(text: str) -> float:
    """A time the CLI waits: seconds above 0 (0 would give up at once)."""
    return _number(text, float, 1e-3, "a number of seconds above 0")


def whole_seconds(text: str) -> int:
    """A time the service bounds a call by: whole seconds, at least 1."""
    return _number(text, int, 1, "a whole number of seconds, at least 1")


def count(text: str) -> int:
    """A number the service checks the range of, never negative."""
    return _number(text, int, 0, "a whole number, 0 or more")


def job_number(text: str) -> int:
    """A job's number, as `job list` shows it."""
    return _number(text, int, 1, "a job number (job list shows them)")

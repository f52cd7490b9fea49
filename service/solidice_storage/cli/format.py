# SPDX-License-Identifier: LGPL-2.1-or-later
"""What solidice-storagectl prints and parses: sizes, tables, fields, progress."""

import math
import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgtpe])(?:i?b)?|b)?", re.I)


def human_size(size: int) -> str:
    value, unit = float(size), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {UNITS[unit]}"


def parse_size(text: str) -> int:
    """Bytes from `10G`, `512MiB`, `1.5TiB`, `4096` (bytes). Units are binary
    whatever their case, as LVM's own; a fraction of a byte rounds up."""
    if text.strip().startswith("-"):
        raise ValueError(f"{text!r} is negative: a size is a number of bytes above 0")
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a size: write bytes, or a number with a "
                         "unit, e.g. 10G, 512MiB, 1.5TiB")
    number, unit = match.groups()
    try:
        value = Decimal(number) * 1024 ** ("bkmgtpe".index(unit.lower()) if unit else 0)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a size") from None
    if value <= 0:
        raise ValueError(f"{text!r} is not more than 0 bytes")
    return math.ceil(value)


# Where the service's messages carry a size in bytes: "N bytes", "needs N",
# "N are needed" (engine/*/lvm*.py).
_SIZE_IN_MESSAGE = re.compile(r"\b([0-9]+) bytes\b|(?<=\bneeds )([0-9]+)\b"
                              r"|\b([0-9]+)(?= are needed\b)")


def humanize_sizes(message: str) -> str:
    """The service's message with its sizes as a person reads them:
    `152462950400 bytes free; 1099511627776 are needed` becomes
    `142.0 GiB free; 1.0 TiB are needed`. Other numbers stay as they are, and so
    does a message comparing exact sizes ("not the expected N"): rounded, they could
    read the same."""
    if "expected" in message:
        return message
    return _SIZE_IN_MESSAGE.sub(
        lambda m: human_size(int(next(g for g in m.groups() if g))), message)


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 device`, `2 devices` (`words` when the plural is not word + s)."""
    return f"{count} {word if count == 1 else words or word + 's'}"


def table(rows: list[list[Any]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [header, *rows])


def field_value(name: str, value: Any) -> str:
    """A model field as a person reads it: sizes humanized, lists joined."""
    if value is None or value == ():
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and (name == "size" or name.endswith("_size")):
        return f"{human_size(value)} ({value} bytes)"
    if isinstance(value, float):
        return f"{value:.0%}"
    if isinstance(value, tuple):
        return ", ".join(" ".join(map(str, v)) if isinstance(v, tuple) else str(v)
                         for v in value)
    return str(value)


def fields(values: dict[str, Any]) -> str:
    width = max(len(name) for name in values)
    return "\n".join(f"{name.replace('_', ' ') + ':':<{width + 2}}{field_value(name, v)}"
                     for name, v in values.items())


class Progress:
    """A bar on a terminal; a line every 10% otherwise (logs, pipes)."""

    WIDTH = 30

    def __init__(self, what: str, stream: TextIO = sys.stderr) -> None:
        self.what = what
        self.stream = stream
        self.tty = stream.isatty()
        self._last = -1

    def update(self, fraction: float) -> None:
        """Show `fraction` done. Nothing until some work is done: a job the service
        refuses right after starting it (a snapshot whose name exists) shows no 0%
        before its error."""
        percent = max(0, min(100, int(fraction * 100)))
        if percent == 0 and self._last < 0:
            return
        if self.tty:
            filled = percent * self.WIDTH // 100
            self.stream.write(f"\r{self.what} [{'#' * filled}{'.' * (self.WIDTH - filled)}]"
                              f" {percent:3d}%")
        elif percent // 10 > self._last // 10:
            self.stream.write(f"{self.what}: {percent}%\n")
        else:
            return
        self._last = percent
        self.stream.flush()

    @property
    def shown(self) -> bool:
        return self._last >= 0

    def done(self) -> None:
        if self.tty and self._last >= 0:
            self.stream.write("\n")
            self.stream.flush()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Blocking reads of the host (sysfs, udev's database, the mount table) run in a
worker thread under a timeout, never on the event loop."""

import asyncio
from typing import Any, Callable

from ...errors import Timeout

SCAN_TIMEOUT = 60


async def off_loop(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a thread; `Timeout` if sysfs or udev's database hang."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(function, *args), SCAN_TIMEOUT)
    except asyncio.TimeoutError:
        raise Timeout(f"reading the host's devices took over {SCAN_TIMEOUT} s") from None

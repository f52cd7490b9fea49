# SPDX-License-Identifier: LGPL-2.1-or-later
"""One call for a burst of events: the watches' shared debounce (udisks2's refresh).

`poke()` asks for a call `delay` seconds later; pokes meanwhile fold into it, and a
poke while the call runs gives exactly one more call after it.
"""

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger(__name__)


class Debounced:
    def __init__(self, call: Callable[[], Awaitable[None]], delay: float, what: str) -> None:
        self._call = call
        self._delay = delay
        self._what = what            # for the log, when a call fails
        self._task: asyncio.Task | None = None
        self._dirty = False

    def poke(self) -> None:
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._dirty:
            await asyncio.sleep(self._delay)
            self._dirty = False
            try:
                await self._call()
            except Exception:
                log.exception("%s failed", self._what)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

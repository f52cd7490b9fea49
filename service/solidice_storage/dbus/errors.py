# SPDX-License-Identifier: LGPL-2.1-or-later
"""Engine errors to `org.solidice.Storage.Error.*`, in one place.

`storage_method` wraps every exported method: a `StorageError` becomes its named
D-Bus error with its message; anything else is a bug, logged here with its
traceback and answered with a plain `Failed` that carries none of it; a call
cancelled by the daemon's shutdown is answered with `Cancelled`.
"""

import asyncio
import functools
import inspect
import logging
from typing import Any, Callable

from dbus_fast import DBusError
from dbus_fast.service import dbus_method

from ..errors import Cancelled, StorageError

log = logging.getLogger(__name__)
PREFIX = "org.solidice.Storage.Error."
#: the method calls being answered now; daemon.py lets them finish at shutdown
in_flight: set[asyncio.Task] = set()


def to_dbus(error: StorageError) -> DBusError:
    return DBusError(PREFIX + error.name, str(error) or error.name)


def storage_method(name: str | None = None) -> Callable[[Callable], Any]:
    def decorator(fn: Callable) -> Any:
        assert inspect.iscoroutinefunction(fn), fn

        @functools.wraps(fn)
        async def wrapper(self: Any, *args: Any) -> Any:
            task = asyncio.current_task()
            in_flight.add(task)
            try:
                return await fn(self, *args)
            except DBusError:
                raise
            except StorageError as error:
                raise to_dbus(error) from None
            except asyncio.CancelledError:
                # only at shutdown: daemon.py cancels the calls still pending
                raise to_dbus(Cancelled("the storage service is shutting down; "
                                        "call again when it is back")) from None
            except Exception:
                log.exception("internal error in %s", fn.__qualname__)
                raise DBusError(PREFIX + "Failed", "internal error in the storage "
                                "service; its log has the details") from None
            finally:
                in_flight.discard(task)

        return dbus_method(name)(wrapper)
    return decorator

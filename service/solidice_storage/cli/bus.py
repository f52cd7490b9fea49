# SPDX-License-Identifier: LGPL-2.1-or-later
"""Which bus the command talks to, and the service's messages in this command's
words: what `main.py` asks before connecting and at its error boundary."""

import os
import stat

from ..client import ServiceUnavailableError, StorageClientError
from .format import humanize_sizes


def bus_address(session: bool, address: str | None) -> str | None:
    """The address to connect to: `address` if given; for `--session` the session
    bus's, from DBUS_SESSION_BUS_ADDRESS or the per-user bus at $XDG_RUNTIME_DIR/bus;
    None for the system bus (or an X11 session's bus, which the library finds).
    ServiceUnavailableError, with what to do, when there is no session bus at all.
    Reads the filesystem: call it off the event loop."""
    if address or not session or os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        socket = os.path.join(runtime, "bus")
        try:
            if stat.S_ISSOCK(os.stat(socket).st_mode):
                return f"unix:path={socket}"
        except OSError:
            pass
    if os.environ.get("DISPLAY"):
        return None
    raise ServiceUnavailableError(
        "there is no session bus here (DBUS_SESSION_BUS_ADDRESS is not set and there "
        "is no $XDG_RUNTIME_DIR/bus): run the simulator and this command in one "
        "`dbus-run-session`, or give the bus with --address")


def in_words(error: StorageClientError) -> str:
    """The service's message with its sizes in bytes as a person reads them."""
    return humanize_sizes(error.message)

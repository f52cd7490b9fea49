# SPDX-License-Identifier: LGPL-2.1-or-later
"""Small files of the daemon's own state, written so that they are whole or absent.

The state directory is local (systemd's StateDirectory=), so these calls cannot
hang the way an NFS path could; callers still run them off the event loop.
"""

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """`path` holds `text` (mode 0600, its directory 0700 if created), or, after a
    crash at any point, what it held before: a temporary file, fsynced, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # a name of its own (mode 0600), so that two writers never share a temporary
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """A rename or unlink in `directory` survives a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

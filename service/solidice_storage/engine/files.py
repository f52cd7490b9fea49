"""Small files of the daemon's own state, written so that they are whole or absent.

The state directory is local (systemd's StateDirectory=), so these calls cannot
hang the way an NFS path could; callers still run them off the event loop.
"""

import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """`path` holds `text` (mode 0600, its directory 0700 if created), or, after a
    crash at any point, what it held before: a temporary file, fsynced, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """A rename or unlink in `directory` survives a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

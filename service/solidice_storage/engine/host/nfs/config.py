# SPDX-License-Identifier: LGPL-2.1-or-later
"""The persistent mounts' configuration: `<state dir>/nfs-mounts.json`, root's only,
whole or absent (files.py). A record is what the caller asked for, options included,
by the D-Bus keys; it is checked on reading as a caller's arguments are."""

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .... import validation
from ....errors import StorageError
from ....options import MountNfsOptions, from_record
from ...files import write_atomically
from ...intents import STATE_DIR

log = logging.getLogger(__name__)
CONFIG_NAME = "nfs-mounts.json"


@dataclass(frozen=True)
class Wanted:
    """A mount to keep: what the caller asked for, options included."""
    server: str
    remote_path: str
    local_path: str
    options: MountNfsOptions

    def to_json(self) -> dict:
        return {"server": self.server, "remote-path": self.remote_path,
                "local-path": self.local_path, "options": self.options.record()}

    @classmethod
    def from_json(cls, record: dict, roots: tuple[str, ...]) -> "Wanted":
        """Checked as a caller's arguments are (`roots`: where mounts are allowed):
        the file is root's, but a bad record must not reach a command line."""
        options = from_record("MountNfs", record["options"])
        return cls(validation.host(record["server"]),
                   validation.remote_path(record["remote-path"]),
                   validation.local_path(record["local-path"], roots), options)


class MountConfig:
    """`<state dir>/nfs-mounts.json`: the mounts to keep, by local path."""

    def __init__(self, state_dir: Path | None = None,
                 roots: tuple[str, ...] = validation.DEFAULT_MOUNT_ROOTS) -> None:
        self.path = (state_dir or STATE_DIR) / CONFIG_NAME
        self.roots = roots

    def load(self) -> dict[str, Wanted]:
        try:
            records = json.loads(self.path.read_text())["mounts"]
            if not isinstance(records, list):
                raise TypeError("'mounts' is not a list")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as error:
            kept = self.path.with_suffix(".unreadable")
            log.error("%s is unreadable (%s); kept as %s, starting without persistent "
                      "mounts", self.path, error, kept)
            os.replace(self.path, kept)
            return {}
        wanted = {}
        for record in records:
            try:
                mount = Wanted.from_json(record, self.roots)
                wanted[mount.local_path] = mount
            except (StorageError, KeyError, TypeError, AttributeError) as error:
                log.error("%s: skipping a bad record %r: %s", self.path, record, error)
        return wanted

    def save(self, wanted: dict[str, Wanted]) -> None:
        write_atomically(self.path, json.dumps(
            {"mounts": [w.to_json() for w in wanted.values()]}, indent=1, sort_keys=True))

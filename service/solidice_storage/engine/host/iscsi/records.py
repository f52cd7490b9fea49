# SPDX-License-Identifier: LGPL-2.1-or-later
"""iscsiadm's record files (its database under /etc/iscsi), read and edited.

Secrets never reach a command line (/proc/*/cmdline is world-readable): CHAP
credentials are written into iscsiadm's own record files (root-only, mode 0600, as
`iscsiadm -o update` would leave them), atomically, and iscsiadm reads them from
there. Plain functions, run off the event loop under the database's lock.
"""

import contextlib
import logging
import os
from pathlib import Path

from ....errors import Busy
from ....options import DiscoveryOptions
from .sessions import split_portal

log = logging.getLogger(__name__)
ISCSI_DIR = Path("/etc/iscsi")
# iscsid's defaults (iscsid.conf): 8 tries of 15 s each
LOGIN_TRIES_KEY = "node.session.initial_login_retry_max"
LOGIN_TIMEOUT_KEY = "node.conn[0].timeo.login_timeout"
NODE_AUTH = "node.session.auth"                   # the CHAP keys' prefixes
DISCOVERY_AUTH = "discovery.sendtargets.auth"


def node_records(target: str, portal: str, iscsi_dir: Path = ISCSI_DIR) -> list[Path]:
    """The record files for `target` through `portal` on the default interface: the
    `ADDR,PORT,TPGT/default` that discovery writes and the flat `ADDR,PORT` file that
    `-o new` writes."""
    address, port = split_portal(portal)
    base = iscsi_dir / "nodes" / target
    found = []
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return []
    for entry in entries:
        if entry.split(",")[:2] != [address, str(port)]:
            continue
        path = base / entry
        if path.is_dir() and (path / "default").is_file():
            found.append(path / "default")
        elif path.is_file():
            found.append(path)
    return found


def read_record(path: Path) -> dict[str, str]:
    """The `key = value` lines of an iscsiadm record file (the first of a key)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values.setdefault(key, value)
    return values


def set_record(path: Path, values: dict[str, str | None]) -> dict[str, str]:
    """Set `key = value` lines in an iscsiadm record file, atomically (a value of
    None: no such line); returns the previous values of the keys that were there.
    Values are checked elsewhere (no control characters), so a value cannot add a
    line."""
    lines = path.read_text().splitlines()
    previous: dict[str, str] = {}
    out = []
    for line in lines:
        key, sep, value = line.partition(" = ")
        if sep and key in values:
            if key not in previous:
                previous[key] = value
                if values[key] is not None:
                    out.append(f"{key} = {values[key]}")
            continue                                   # a duplicate: dropped
        out.append(line)
    missing = [f"{key} = {value}" for key, value in values.items()
               if key not in previous and value is not None]
    end = next((i for i, line in enumerate(out) if line.startswith("# END RECORD")),
               len(out))
    out[end:end] = missing
    temporary = path.with_name(f".{path.name}.solidice-new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                         0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(out) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return previous


def login_bounds(timeout: int) -> dict[str, str]:
    """Record values that make iscsid give up a login within `timeout` seconds."""
    per_try = max(1, min(15, timeout // 2))
    return {LOGIN_TIMEOUT_KEY: str(per_try), LOGIN_TRIES_KEY: str(max(1, timeout // per_try))}


def chap_values(opts: DiscoveryOptions, prefix: str) -> dict[str, str]:
    """The record lines for the caller's CHAP credentials (none without)."""
    if opts.chap is None:
        return {}
    username, password = opts.chap
    return {f"{prefix}.authmethod": "CHAP", f"{prefix}.username": username,
            f"{prefix}.password": password}


def other_chap_on_a_session(target: str, portal: str) -> Busy:
    return Busy(f"a session to {target} through {portal} is logged in already, with "
                "other CHAP credentials; log out first to change them")


def records_hold(target: str, portal: str, values: dict[str, str],
                  iscsi_dir: Path) -> bool:
    """Whether every node record of `target` through `portal` has `values`."""
    records = node_records(target, portal, iscsi_dir)
    return bool(records) and all(
        all(read_record(record).get(key) == value for key, value in values.items())
        for record in records)


def chap_changed(before: dict[Path, dict[str, str | None]], chap: dict[str, str]) -> bool:
    """Whether writing `chap` changed a record's CHAP credentials."""
    return any(previous.get(key) != value
               for previous in before.values() for key, value in chap.items())


def put_records_back(before: dict[Path, dict[str, str | None]]) -> None:
    """Each record's settings as they were, for the records still there."""
    for record, values in before.items():
        if values and record.is_file():
            set_record(record, values)


def put_discovery_record_back(config: Path, before: dict[str, str | None] | None) -> None:
    """A discovery record made for one call removed; an existing one's values back."""
    try:
        if before is None:
            config.unlink(missing_ok=True)
            with contextlib.suppress(OSError):      # not empty: not only ours
                config.parent.rmdir()
        elif before and config.is_file():
            set_record(config, before)
    except OSError as error:
        log.warning("cannot put the discovery record %s back: %s", config, error)

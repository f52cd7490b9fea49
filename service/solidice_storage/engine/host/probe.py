# SPDX-License-Identifier: LGPL-2.1-or-later
"""What this host's kernel and services offer the domains, read once at start.

A host without device-mapper (a container, a CI machine, a minimal kernel) cannot do
LVM or multipath; one without the iscsi_tcp module or iscsid cannot log in to a
portal; one without the nfs filesystem cannot mount NFS. The daemon says so in its
log at start, one line per missing piece, and answers the calls that need one with
`NotSupported` naming it (README: "It never pretends"), instead of running a tool to
fail in words a caller cannot act on. Only files are read (procfs, sysfs, /run and
the running kernel's module lists); nothing is loaded or started. Plain functions,
run off the event loop.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import NotSupported

# each piece as the log and the errors name it, and what cannot work without it
PIECES = {
    "device-mapper": ("device-mapper", "LVM and multipath calls answer NotSupported"),
    "udevd": ("udevd", "disks are read from sysfs alone (no udev links, labels or "
                       "filesystems), and changes made outside the service are seen "
                       "only at a Rescan or a restart"),
    "iscsi_tcp": ("the iscsi_tcp module", "iSCSI calls answer NotSupported"),
    "iscsid": ("iscsid", "iSCSI calls answer NotSupported"),
    "nfs": ("the nfs filesystem", "MountNfs answers NotSupported"),
}
# what a domain needs, in the order its errors name the pieces
DOMAIN_NEEDS = {
    "LVM": ("device-mapper",),
    "iSCSI": ("iscsi_tcp", "iscsid"),
    "NFS": ("nfs",),
}


@dataclass(frozen=True)
class Support:
    """Each piece (a key of PIECES) missing here → why the probe says so; none
    missing: everything is here."""

    missing: dict[str, str] = field(default_factory=dict)

    def has(self, piece: str) -> bool:
        return piece not in self.missing

    def require(self, domain: str) -> None:
        """Returns when this host has what `domain` (a key of DOMAIN_NEEDS) needs;
        else `NotSupported` naming each missing piece and why."""
        lacking = [piece for piece in DOMAIN_NEEDS[domain] if piece in self.missing]
        if lacking:
            raise NotSupported(f"{domain} needs " + " and ".join(
                f"{PIECES[piece][0]}, which this host lacks ({self.missing[piece]})"
                for piece in lacking))

    def log_lines(self) -> list[str]:
        """One line per missing piece: what is missing, why, and what cannot work."""
        return [f"not on this host: {PIECES[piece][0]} ({why}); {PIECES[piece][1]}"
                for piece, why in self.missing.items()]


@dataclass(frozen=True)
class HostFiles:
    """Where the probe reads (this host's own by default; a test's stand-ins)."""

    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    run: Path = Path("/run")
    modules: Path = Path("/lib/modules") / os.uname().release


def probe(files: HostFiles = HostFiles()) -> Support:
    """What `files` say this host lacks of PIECES: a kernel feature counts when it
    is there or its module can be loaded (the tools load it), a daemon when it
    listens."""
    modules = _module_names(files.modules)
    missing = {}
    if not (_misc_has(files, "device-mapper") or "dm_mod" in modules):
        missing["device-mapper"] = (f"not in {files.proc}/misc, no "
                                    f"{files.sys}/class/misc/device-mapper, no dm_mod "
                                    f"module in {files.modules}")
    if not (files.run / "udev/control").exists():
        missing["udevd"] = f"not running: no {files.run}/udev/control"
    if not ((files.sys / "module/iscsi_tcp").exists() or "iscsi_tcp" in modules):
        missing["iscsi_tcp"] = f"not loaded, and not in {files.modules}"
    if "@ISCSIADM_ABSTRACT_NAMESPACE" not in _read(files.proc / "net/unix"):
        missing["iscsid"] = ("neither running nor socket-activated: nothing listens on "
                             "@ISCSIADM_ABSTRACT_NAMESPACE")
    if not (_has_filesystem(files, "nfs") or "nfs" in modules):
        missing["nfs"] = (f"not in {files.proc}/filesystems, and no nfs module in "
                          f"{files.modules}")
    return Support(missing)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _misc_has(files: HostFiles, name: str) -> bool:
    listed = {line.split()[-1] for line in _read(files.proc / "misc").splitlines()
              if line.split()}
    return name in listed or (files.sys / "class/misc" / name).exists()


def _has_filesystem(files: HostFiles, name: str) -> bool:
    return any(line.split()[-1] == name
               for line in _read(files.proc / "filesystems").splitlines() if line.split())


def _module_names(directory: Path) -> set[str]:
    """The modules the running kernel can load or has built in (modules.dep and
    modules.builtin: `kernel/fs/nfs/nfs.ko[.xz]: deps…`), as modprobe names them
    (`-` and `_` are the same)."""
    names = set()
    for listing in ("modules.dep", "modules.builtin"):
        for line in _read(directory / listing).splitlines():
            path = line.split(":", 1)[0].strip()
            base = path.rsplit("/", 1)[-1]
            if ".ko" in base:
                names.add(base.split(".ko", 1)[0].replace("-", "_"))
    return names

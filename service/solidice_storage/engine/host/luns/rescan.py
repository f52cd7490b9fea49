# SPDX-License-Identifier: LGPL-2.1-or-later
"""Rescan: new LUNs on the iSCSI sessions and Fibre Channel hosts; grown LUNs' paths,
maps and PVs take their new size."""

import logging
import os
from pathlib import Path
from typing import Awaitable, Callable

from .. import multipath, udev
from ..iscsi import iscsiadm
from ..threads import off_loop
from .luns import Luns

log = logging.getLogger(__name__)


async def rescan(luns: Luns, resize_pv: Callable[[str], Awaitable[None]]) -> None:
    """New LUNs on the sessions and FC hosts; grown LUNs' paths, maps and PVs (the
    PVs through `resize_pv`, the LVM domain's)."""
    runner = luns.runner
    if luns.sessions:
        await iscsiadm.rescan_sessions(runner)
    await off_loop(_scan_fc_hosts, luns.sysfs)
    before = {disk.wwid: disk.size for disk in luns.disks if disk.path_of is None}
    paths = [disk.name for disk in luns.disks if not disk.multipath]
    await off_loop(_rescan_devices, luns.sysfs, paths)
    await _settled_scan(luns)
    by_name = {disk.name: disk for disk in luns.disks}
    for disk in [d for d in luns.disks if d.multipath]:
        sizes = {by_name[s].size for s in disk.slaves if s in by_name}
        if sizes and max(sizes) != disk.size:
            await multipath.resize_map(runner, disk.node.rsplit("/", 1)[1], disk.wwid)
    await _settled_scan(luns)
    for disk in luns.disks:
        grown = luns.is_lun(disk) and disk.size > before.get(disk.wwid, disk.size)
        if grown and disk.fs_type == "LVM2_member":
            await resize_pv(disk.node)
    await luns.scan()


async def _settled_scan(luns: Luns) -> None:
    await udev.settle(luns.runner)
    await luns.scan()


def _scan_fc_hosts(sysfs: Path) -> None:
    """Ask each Fibre Channel host for new LUNs (`- - -`: every channel, id, LUN)."""
    try:
        hosts = os.listdir(sysfs / "class/fc_host")
    except OSError:
        return
    for host in hosts:
        try:
            (sysfs / "class/scsi_host" / host / "scan").write_text("- - -\n")
        except OSError as error:
            log.warning("cannot rescan %s: %s", host, error)


def _rescan_devices(sysfs: Path, names: list[str]) -> None:
    """Make the SCSI layer read each disk's capacity again."""
    for name in names:
        rescan_file = sysfs / "block" / name / "device/rescan"
        if rescan_file.exists():
            try:
                rescan_file.write_text("1\n")
            except OSError as error:
                log.warning("cannot rescan %s: %s", name, error)

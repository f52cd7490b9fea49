# SPDX-License-Identifier: LGPL-2.1-or-later
"""`make run`: the seed operations, one busctl call each, against the daemon in the
lab host. Prints every command and its answer, as an administrator would see them.

Exit status 1 if any step failed. A step answered `NotSupported` is reported as not
available on this host (a kernel piece the daemon found missing at start), and
this walk-through shows which are in.
"""

import shlex
import subprocess
import sys

from lab.host import DATA_TARGET, NFS_ADDRESS, PORTALS, multipath_maps

S = "org.solidice.Storage"
HOST = "/org/solidice/Storage/Host"
MiB = 1024**2
results = {"ok": 0, "not yet": 0, "failed": 0}


def busctl(*args: str) -> str | None:
    """Run and print one busctl call; the first quoted word of its answer."""
    command = ["busctl", "--", *args]
    print(f"\n$ {shlex.join(command)}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    answer = (done.stdout or done.stderr).strip()
    print(f"  {answer}" if answer else "  (no output)")
    if done.returncode == 0:
        results["ok"] += 1
        words = done.stdout.split('"')
        return words[1] if len(words) > 1 else done.stdout.strip()
    if "not available in this build" in done.stderr:
        results["not yet"] += 1
        print("  -> not available in this build yet")
    else:
        results["failed"] += 1
        print("  -> FAILED")
    return None


def call(path: str, interface: str, method: str, *args: str) -> str | None:
    return busctl("call", S, path, f"{S}.{interface}", method, *args)


def main() -> int:
    wwids = sorted(multipath_maps())
    print(f"lab LUNs (multipath maps): {', '.join(wwids)}")
    busctl("get-property", S, HOST, f"{S}.Host", "Version", "Multipath", "IscsiInitiatorName")
    call(HOST, "Host", "EnumerateLuns", "a{sv}", "0")
    call(HOST, "Host", "DiscoverIscsiTargets", "sa{sv}", PORTALS[0], "0")
    call(HOST, "Host", "EnumerateIscsiLuns", "ssa{sv}", PORTALS[0], DATA_TARGET, "0")
    call(HOST, "Host", "Rescan", "a{sv}", "0")
    call(HOST, "Host", "GetBlockInfo", "sa{sv}", wwids[0], "0")
    call(HOST, "Host", "EnumerateVolumeGroups", "a{sv}", "0")
    vg = call(HOST, "StoragePool", "CreateVolumeGroup", "sasa{sv}", "walkvg", "2",
              wwids[0], wwids[1], "0")
    if vg:
        call(vg, "VolumeGroup", "ListPhysicalVolumes", "a{sv}", "0")
        call(vg, "VolumeGroup", "Extend", "asa{sv}", "1", wwids[2], "0")
        call(vg, "VolumeGroup", "RemovePhysicalVolume", "sa{sv}", wwids[2], "0")
        lv = call(vg, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "lv0",
                  str(32 * MiB), "0")
        call(vg, "VolumeGroup", "ListLogicalVolumes", "a{sv}", "0")
        if lv:
            busctl("get-property", S, lv, f"{S}.LogicalVolume", "Size", "Path")
            call(lv, "LogicalVolume", "Extend", "ta{sv}", str(16 * MiB), "0")
            snap = call(lv, "LogicalVolume", "Snapshot", "sta{sv}", "lv0-snap",
                        str(8 * MiB), "0")
            if snap:
                call(snap, "LogicalVolume", "Remove", "a{sv}", "0")
            call(lv, "LogicalVolume", "Remove", "a{sv}", "0")
        call(HOST, "StoragePool", "RemoveVolumeGroup", "sa{sv}", "walkvg", "0")
    mount = call(HOST, "StoragePool", "MountNfs", "sssa{sv}", NFS_ADDRESS, "/export",
                 "/mnt/lab/walk", "2", "vers", "s", "4.2", "create-mountpoint", "b", "true")
    if mount:
        call(HOST, "StoragePool", "Unmount", "sba{sv}", "/mnt/lab/walk", "false", "0")
    print(f"\nwalk-through: {results['ok']} answered, {results['not yet']} not available "
          f"in this build yet, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

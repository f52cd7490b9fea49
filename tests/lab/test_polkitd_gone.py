# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkitd gone (issue 9, item 4): the real polkitd stopped, and the bus unable to
start it again. Root may still change the host; the unprivileged lab user, whom the
lab's polkit rule lets manage LVM while polkitd runs, gets NotAuthorized saying the
authority is unavailable, at once rather than after the polkit timeout, and nothing
changes. Checked with vgs/lvs/pvs; polkitd is back at the end for the other tests."""

import contextlib
import time

import pytest

from lab import host as labhost
from labbus import ERROR, IFACE, ROOT
from lab.host import (BUS_NAME, TEST_USER, lvm, lvm_report, multipath_maps, name_owner,
                     run, settle, wait_for)

POLKIT = "org.freedesktop.PolicyKit1"
POLKITD = "/usr/lib/polkit-1/polkitd"
POOL = IFACE + "StoragePool"
USER_VG, ROOT_VG = "uservg", "rootvg"


def as_lab_user(method: str, *args: str, path: str = f"{ROOT}/Host"):
    """gdbus as the unprivileged user (it names the D-Bus error in its message)."""
    started = time.monotonic()
    result = run("gdbus", "call", "--system", "--timeout=200", "--dest", BUS_NAME,
                 "--object-path", path, "--method", method, *args, user=TEST_USER,
                 check=False, timeout=240)
    return result, time.monotonic() - started


def vg_names() -> list[str]:
    return [row["vg_name"] for row in lvm_report("vgs", "-o", "vg_name")]


def has_pv_label(device: str) -> bool:
    return run("pvs", "--", device, check=False).returncode == 0


def ok(reply):
    assert not (isinstance(reply, tuple) and reply[:1] == ("error",)), reply
    return reply


@pytest.fixture
def device(lab):
    """A data LUN's multipath device, clean of LVM after the test."""
    wwid = sorted(multipath_maps())[0]
    yield f"/dev/mapper/{wwid}"
    for name in (USER_VG, ROOT_VG):
        if name in vg_names():
            lvm("vgremove", "-y", "-f", "--", name, check=False)
    lvm("pvremove", "-y", "-ff", "--", f"/dev/mapper/{wwid}", check=False)
    run("wipefs", "-a", "--", f"/dev/mapper/{wwid}", check=False)
    run("udevadm", "trigger", "--settle", "--action=change", "--", f"/dev/mapper/{wwid}")
    settle()


@pytest.fixture
def polkitd(lab):
    """stop(): polkitd stopped, and its binary masked by /bin/false, so that the bus's
    activation (org.freedesktop.PolicyKit1.service) cannot start it again: what a
    host whose polkitd fails to start has. Restored and running after the test."""
    masked = []

    def stop() -> None:
        lab.services["polkitd"].stop()
        run("mount", "--bind", "/bin/false", POLKITD)
        masked.append(POLKITD)
        wait_for(lambda: name_owner(POLKIT) is None, "polkitd to leave the bus", 20)

    yield stop
    for path in masked:
        run("umount", path, check=False)
    if masked:
        with contextlib.suppress(Exception):
            lab.services["polkitd"].stop()
        lab.services["polkitd"] = labhost.polkit()


async def test_without_polkitd_only_root_may_change(lab, bus, device, polkitd):
    create_vg = (POOL + ".CreateVolumeGroup", USER_VG, f"['{device}']", "{}")

    # polkitd running: the lab rule lets the user create a VG (then root removes it)
    allowed, _ = as_lab_user(*create_vg)
    assert allowed.returncode == 0, allowed.stderr
    assert USER_VG in vg_names()
    ok(await bus.call(f"{ROOT}/Host", "RemoveVolumeGroup", "sa{sv}", [USER_VG, {}],
                      interface=POOL))
    assert USER_VG not in vg_names() and not has_pv_label(device)

    polkitd()
    denied, took = as_lab_user(*create_vg)
    assert denied.returncode != 0
    assert f"{ERROR}NotAuthorized" in denied.stderr, denied.stderr
    assert "authority (polkit) is unavailable" in denied.stderr, denied.stderr
    assert took < 30, took                      # the daemon's polkit timeout is 120 s
    assert USER_VG not in vg_names() and not has_pv_label(device)   # nothing changed
    assert name_owner(POLKIT) is None           # and the bus did not start it again
    reads, _ = as_lab_user(IFACE + "Host.EnumerateVolumeGroups", "{}")
    assert reads.returncode == 0, reads.stderr  # reads never ask polkit

    # root is allowed without asking: a VG and an LV made and removed, lvm agrees
    (vg,) = ok(await bus.call(f"{ROOT}/Host", "CreateVolumeGroup", "sasa{sv}",
                              [ROOT_VG, [device], {}], interface=POOL))
    assert ROOT_VG in vg_names()
    (lv,) = ok(await bus.call(vg, "CreateLogicalVolume", "sta{sv}", ["byroot", 8 * 2**20, {}],
                              interface=IFACE + "VolumeGroup"))
    assert [(r["lv_name"], r["vg_name"]) for r in lvm_report("lvs", "-o", "lv_name,vg_name")
            if r["vg_name"] == ROOT_VG] == [("byroot", ROOT_VG)]
    ok(await bus.call(lv, "Remove", "a{sv}", [{}], interface=IFACE + "LogicalVolume"))
    ok(await bus.call(f"{ROOT}/Host", "RemoveVolumeGroup", "sa{sv}", [ROOT_VG, {}],
                      interface=POOL))
    assert ROOT_VG not in vg_names() and not has_pv_label(device)

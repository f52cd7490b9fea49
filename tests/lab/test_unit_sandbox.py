# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real daemon under its unit's hardening, on the lab's devices.

The guest does not run systemd, so tools/unit_sandbox.py applies what the unit asks
of the kernel (capability bounding set, no_new_privs, UTS namespace, umask, the
system call, address family, namespace and W^X filters) and execs the unit's
ExecStart. With it the daemon creates and removes a VG, an LV and a snapshot on
multipath LUNs, logs in to an iSCSI target with CHAP and out, and makes an NFS
mount the host sees; each is checked with the system's tools, and the kernel logged
no refused call of the daemon or of any tool it ran (except the ones
docs/unit-hardening.md names)."""

import sys

import pytest
from dbus_fast import Variant

from lab import host as labhost
from labbus import IFACE, ROOT
from lab.host import (BUS_NAME, CHAP_PASSWORD, CHAP_TARGET, CHAP_USER, LOGS, NFS_ADDRESS,
                     TOP, Service, iscsi_sessions, lvm, lvm_report, mounted,
                     multipath_maps, name_owner, run, settle, wait_for)

sys.path.insert(0, str(TOP / "tools"))
import unit_sandbox  # noqa: E402

UNIT = TOP / "systemd/solidice-storaged.service"
POOL = IFACE + "StoragePool"
VG_NAME = "sandboxvg"
MOUNT_POINT = "/mnt/lab/nfs-sandbox"
CAP_BITS = {"sys_admin": 21, "dac_override": 1, "dac_read_search": 2, "ipc_lock": 14,
            "net_bind_service": 10}
# Refused, and harmless (docs/unit-hardening.md): lvm, and the dmeventd it starts to
# monitor a snapshot, raising their priority (@resources is out of the unit's list;
# they go on at their own), and clone3 from anyone: RestrictNamespaces= answers it
# ENOSYS, as systemd does (its flags are out of a filter's reach), and glibc falls
# back to clone.
EXPECTED_CALLS = {"clone3"}
EXPECTED_DENIALS = {("lvm", "setpriority"), ("dmeventd", "setpriority")}


def unexpected(refused: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(comm, call) for comm, call in refused
            if call not in EXPECTED_CALLS and (comm, call) not in EXPECTED_DENIALS}


def kernel_log() -> str:
    return run("dmesg").stdout


def ok(reply):
    """A reply's body; a D-Bus error fails the test with its name and text."""
    assert not (isinstance(reply, tuple) and reply[:1] == ("error",)), reply
    return reply


@pytest.fixture
def sandboxed(lab):
    """The lab's daemon replaced by one in the unit's sandbox; the plain one back after."""
    lab.services["solidice-storaged"].stop()
    logged_before = len(kernel_log().splitlines())
    command = unit_sandbox.sandbox_command(UNIT, [*labhost.exec_start(), "--debug"],
                                           log_denials=True)
    service = Service("solidice-storaged-sandboxed", *command, env=labhost.DAEMON_ENV)
    lab.services["solidice-storaged"] = service
    try:
        wait_for(lambda: name_owner(BUS_NAME) == service.pid or not service.alive(),
                 "the sandboxed daemon to own its name", timeout=120)
        assert service.alive(), service.log_path.read_text()
        service.denials = lambda: unit_sandbox.denials(
            "\n".join(kernel_log().splitlines()[logged_before:]))
        yield service
    finally:            # the `daemon` fixture may have restarted it already
        if lab.services["solidice-storaged"] is service or not \
                lab.services["solidice-storaged"].alive():
            lab.restart_daemon()


@pytest.fixture
def cleanup(lab):
    wwids = sorted(multipath_maps())[:2]
    yield wwids
    if any(row["vg_name"] == VG_NAME for row in lvm_report("vgs", "-o", "vg_name")):
        lvm("vgremove", "-y", "-f", "--", VG_NAME, check=False)
    for wwid in wwids:
        lvm("pvremove", "-y", "-ff", "--", f"/dev/mapper/{wwid}", check=False)
        run("wipefs", "-a", "--", f"/dev/mapper/{wwid}", check=False)
    if mounted(MOUNT_POINT):
        run("umount", "-f", "-l", MOUNT_POINT, check=False)
    for portal in labhost.PORTALS:
        if (CHAP_TARGET, portal) in iscsi_sessions():
            run("multipath", "-F", check=False)
            labhost.iscsi_logout(CHAP_TARGET, portal)
    run("udevadm", "trigger", "--settle", "--action=change", "--",
        *(f"/dev/mapper/{wwid}" for wwid in wwids))
    settle()


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


async def test_the_daemon_works_within_the_units_hardening(sandboxed, cleanup, bus):
    status = proc_status(sandboxed.pid)
    wanted = sum(1 << bit for bit in CAP_BITS.values())
    assert set(unit_sandbox.capability_names(unit_sandbox.service_section(UNIT))) == set(CAP_BITS)
    assert (int(status["CapBnd"], 16), int(status["CapEff"], 16)) == (wanted, wanted)
    assert (status["NoNewPrivs"], status["Seccomp"], status["Seccomp_filters"]) == ("1", "2", "2")
    first, second = cleanup

    # LVM: a VG on two multipath LUNs, an LV in it, both removed; lvm says so
    (vg,) = ok(await bus.call(f"{ROOT}/Host", "CreateVolumeGroup", "sasa{sv}",
                           [VG_NAME, [f"/dev/mapper/{first}", f"/dev/mapper/{second}"], {}],
                           interface=POOL))
    (row,) = [r for r in lvm_report("vgs", "-o", "vg_name,pv_count") if r["vg_name"] == VG_NAME]
    assert row["pv_count"] == "2"
    (lv,) = ok(await bus.call(vg, "CreateLogicalVolume", "sta{sv}",
                              ["inside", 16 * 2**20, {}], interface=IFACE + "VolumeGroup"))
    (lv_row,) = [r for r in lvm_report("lvs", "-o", "lv_name,vg_name,lv_size,lv_attr")
                 if r["vg_name"] == VG_NAME]
    assert (lv_row["lv_name"], int(lv_row["lv_size"]), lv_row["lv_attr"][4]) == (
        "inside", 16 * 2**20, "a")
    # a snapshot suspends the origin: lvm locks its memory, raises its priority
    (snap,) = ok(await bus.call(lv, "Snapshot", "sta{sv}", ["snap", 8 * 2**20, {}],
                                interface=IFACE + "LogicalVolume"))
    assert sorted(r["lv_name"] for r in lvm_report("lvs", "-o", "lv_name,vg_name")
                  if r["vg_name"] == VG_NAME) == ["inside", "snap"]
    assert await bus.call(snap, "Remove", "a{sv}", [{}],
                          interface=IFACE + "LogicalVolume") == []
    assert await bus.call(lv, "Remove", "a{sv}", [{}], interface=IFACE + "LogicalVolume") == []
    assert not [r for r in lvm_report("lvs", "-o", "vg_name") if r["vg_name"] == VG_NAME]
    assert await bus.call(f"{ROOT}/Host", "RemoveVolumeGroup", "sa{sv}", [VG_NAME, {}],
                          interface=POOL) == []
    assert VG_NAME not in [r["vg_name"] for r in lvm_report("vgs", "-o", "vg_name")]
    assert run("pvs", f"/dev/mapper/{first}", check=False).returncode != 0   # labels gone

    # iSCSI: a CHAP login (iscsiadm to iscsid, node records in /etc/iscsi) and out
    chap = {"username": Variant("s", CHAP_USER), "password": Variant("s", CHAP_PASSWORD)}
    (session,) = ok(await bus.call(f"{ROOT}/Host", "LoginIscsi", "ssa{sv}",
                                   ["127.0.0.2", CHAP_TARGET, chap]))
    assert (CHAP_TARGET, "127.0.0.2") in iscsi_sessions()
    assert await bus.call(session, "Logout", "a{sv}", [{}],
                          interface=IFACE + "IscsiSession") == []
    assert (CHAP_TARGET, "127.0.0.2") not in iscsi_sessions()

    # NFS: mounted by the daemon, seen in this (the host's) mount table, then gone
    ok(await bus.call(f"{ROOT}/Host", "MountNfs", "sssa{sv}",
                      [NFS_ADDRESS, "/srv/nfs/export", MOUNT_POINT,
                       {"vers": Variant("s", "3"), "create-mountpoint": Variant("b", True)}],
                      interface=POOL))
    entry = mounted(MOUNT_POINT)
    assert entry and entry["fstype"] == "nfs" and entry["source"].startswith(NFS_ADDRESS)
    assert await bus.call(f"{ROOT}/Host", "Unmount", "sba{sv}", [MOUNT_POINT, False, {}],
                          interface=POOL) == []
    assert mounted(MOUNT_POINT) is None

    refused = sandboxed.denials()
    with open(LOGS / "unit-sandbox-denials.log", "w") as log:
        log.write("".join(f"{comm} {call}\n" for comm, call in refused))
    assert not unexpected(refused), refused
    assert sandboxed.stop() == 0
    assert "Traceback" not in sandboxed.log_path.read_text()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The lab host is alive: each piece checked with the system's own tools."""

import os
import socket
from pathlib import Path

import pytest

from lab.host import (BUS_NAME, CHAP_PASSWORD, CHAP_TARGET, CHAP_USER, DATA_LUNS,
                     DATA_TARGET, LOGS, NFS_ADDRESS, PORTALS, SILENT_PORTAL, TEST_USER, LabError,
                     iscsi_login, iscsi_logout, iscsi_sessions, lvm, lvm_report, mounted,
                     multipath_maps, name_owner, reachable, run, settle, wait_for)

HOST = "/org/solidice/Storage/Host"
IFACE = "org.solidice.Storage."


def test_the_daemon_owns_its_name_on_the_lab_system_bus(daemon):
    assert name_owner(BUS_NAME) == daemon.pid
    introspection = run("busctl", "introspect", BUS_NAME, HOST).stdout
    assert IFACE + "StoragePool" in introspection


def test_the_daemon_finds_everything_it_needs_here(daemon):
    """engine/host/probe.py on a host that has it all (device-mapper, udevd,
    iscsi_tcp, iscsid, the nfs filesystem): nothing is missing, no start of the
    daemon logged a missing piece, and each says it serves every domain."""
    from solidice_storage.engine.host import probe
    assert probe.probe().missing == {}
    log = (LOGS / "solidice-storaged.log").read_text(errors="replace")
    assert "not on this host:" not in log, log
    serving = [line for line in log.splitlines() if f"serving {BUS_NAME} at " in line]
    assert serving, log
    for line in serving:
        assert line.endswith("; LUNs, multipath, LVM, iSCSI, NFS)"), line


def test_every_lab_lun_has_two_active_paths(lab):
    maps = multipath_maps()
    assert len(maps) == DATA_LUNS
    assert all(sorted(state for _, state in paths) == ["active", "active"]
               for paths in maps.values()), maps
    listing = run("multipath", "-ll").stdout
    for wwid in maps:
        assert wwid in listing
    assert listing.count("active ready running") == 2 * DATA_LUNS


def test_iscsi_sessions_to_both_portals(lab):
    assert iscsi_sessions() == {(DATA_TARGET, portal) for portal in PORTALS}


def test_chap_target_needs_its_secret(lab):
    with pytest.raises(LabError):
        iscsi_login(CHAP_TARGET, PORTALS[0], CHAP_USER, "not-the-secret")
    assert (CHAP_TARGET, PORTALS[0]) not in iscsi_sessions()
    iscsi_login(CHAP_TARGET, PORTALS[0], CHAP_USER, CHAP_PASSWORD)
    try:
        assert (CHAP_TARGET, PORTALS[0]) in iscsi_sessions()
        wait_for(lambda: len(multipath_maps()) == DATA_LUNS + 1, "the CHAP LUN's map")
        settle()                 # let udev's probe of the new map finish: it holds it open
    finally:
        iscsi_logout(CHAP_TARGET, PORTALS[0])
        settle()
        wait_for(_flush_pathless_maps, "the CHAP LUN's map to go", 90, interval=1)
    assert (CHAP_TARGET, PORTALS[0]) not in iscsi_sessions()


def _flush_pathless_maps() -> bool:
    """Flush maps left without paths; a map still held open (by a probe waiting out
    no_path_retry) is flushed on a later try."""
    for wwid, paths in multipath_maps().items():
        if not paths:
            run("multipath", "-f", wwid, check=False)
    return len(multipath_maps()) == DATA_LUNS


@pytest.mark.parametrize("vers,remote,fstype", [("3", "/srv/nfs/export", "nfs"),
                                                ("4.2", "/export", "nfs4")])
def test_nfs_exports_mount(lab, vers, remote, fstype):
    target = f"/mnt/lab/v{vers}"
    os.makedirs(target, exist_ok=True)
    run("mount", "-t", "nfs", "-o", f"vers={vers},soft,timeo=50,retrans=2",
        f"{NFS_ADDRESS}:{remote}", target, timeout=90)
    try:
        entry = mounted(target)
        assert entry["fstype"] == fstype and entry["source"] == f"{NFS_ADDRESS}:{remote}"
        assert Path(target, "hello").read_text() == "from the lab's NFS server\n"
        Path(target, f"written-by-v{vers}").write_text("ok")
    finally:
        run("umount", target)
    assert mounted(target) is None


def test_lvm_activation_and_snapshot(lab):
    wwid = sorted(multipath_maps())[0]
    device = f"/dev/mapper/{wwid}"
    only = ("--devices", device)
    lvm("pvcreate", *only, "--", device)
    try:
        lvm("vgcreate", *only, "--", "labsmoke", device)
        lvm("lvcreate", *only, "--yes", "-L", "16m", "-n", "lv0", "--", "labsmoke")
        lvm("lvcreate", *only, "--yes", "-s", "-L", "8m", "-n", "snap0", "--", "labsmoke/lv0")
        rows = {row["lv_name"]: row for row in
                lvm_report("lvs", *only, "-o", "lv_name,lv_attr,lv_size,origin", "labsmoke")}
        assert rows["lv0"]["lv_attr"][0] == "o" and rows["lv0"]["lv_attr"][4] == "a"
        assert rows["snap0"]["lv_attr"][0] == "s" and rows["snap0"]["origin"] == "lv0"
        assert int(rows["lv0"]["lv_size"]) == 16 * 1024**2
        assert os.path.exists("/dev/mapper/labsmoke-snap0")
        lvm("lvchange", *only, "-an", "--", "labsmoke/lv0")
        assert lvm_report("lvs", *only, "-o", "lv_attr", "labsmoke/lv0")[0]["lv_attr"][4] == "-"
    finally:
        lvm("vgremove", *only, "--yes", "--force", "--", "labsmoke", check=False)
        lvm("pvremove", *only, "--yes", "--", device, check=False)
    assert lvm("pvs", *only, check=False).stdout.strip() == ""


def busctl_as(user, *args):
    return run("busctl", "--", *args, user=user, check=False)


def test_real_polkit_denies_and_grants_through_the_daemon(daemon):
    """lab/polkit-lab.rules: the test user may manage LVM, never remove. polkit is
    asked about a VG the daemon has resolved: a VG that is not there is NotFound
    before polkit is asked."""
    def remove(name):
        return busctl_as(TEST_USER, "call", BUS_NAME, HOST, IFACE + "StoragePool",
                         "RemoveVolumeGroup", "sa{sv}", name, "0")
    missing = remove("labvg")
    assert missing.returncode != 0 and "no volume group 'labvg'" in missing.stderr
    device = f"/dev/mapper/{sorted(multipath_maps())[0]}"
    lvm("pvcreate", "-y", "--", device)
    lvm("vgcreate", "-y", "labvg", "--", device)
    try:
        wait_for(lambda: "not allowed: org.solidice.storage.remove" in remove("labvg").stderr,
                 "the daemon to see labvg and polkit to deny its removal")
        assert "labvg" in [r["vg_name"] for r in lvm_report("vgs", "-o", "vg_name")]
        granted = busctl_as(TEST_USER, "call", BUS_NAME, HOST, IFACE + "StoragePool",
                            "CreateVolumeGroup", "sasa{sv}", "labvg", "1", device, "0")
        # Past polkit, and refused by the engine: the name is taken.
        assert "not allowed" not in granted.stderr
        assert "a volume group named labvg exists" in granted.stderr, granted.stderr
    finally:
        lvm("vgremove", "-y", "-f", "--", "labvg", check=False)
        lvm("pvremove", "-y", "--", device, check=False)
        run("wipefs", "-a", "--", device, check=False)
        run("udevadm", "trigger", "--settle", "--action=change", "--", device, check=False)
        settle()
    reads = busctl_as(TEST_USER, "call", BUS_NAME, "/org/solidice/Storage",
                      "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    assert reads.returncode == 0, reads.stderr


def test_a_failed_path_shows_in_multipath_and_heals(lab, failed_path):
    device = failed_path()
    wait_for(lambda: any(dev == device and state == "failed"
                         for paths in multipath_maps().values() for dev, state in paths),
             f"multipathd to see {device} fail", 30)


def _connect_times_out(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1.5).close()
    except socket.timeout:
        return True
    except OSError:
        return False
    return False


def test_silenced_portal_and_nfs_server_answer_nothing(lab, silence):
    assert reachable(SILENT_PORTAL, 3260) and reachable(NFS_ADDRESS, 2049)
    silence(SILENT_PORTAL)
    silence(NFS_ADDRESS)
    assert _connect_times_out(SILENT_PORTAL, 3260)     # silent, not refused
    assert _connect_times_out(NFS_ADDRESS, 2049)
    assert reachable(PORTALS[0], 3260)                 # nothing else is affected
    lab.firewall.heal(SILENT_PORTAL)
    assert reachable(SILENT_PORTAL, 3260)


def test_daemon_killed_and_restarted(lab, daemon, kill_daemon):
    old = daemon.pid
    new = kill_daemon()
    assert new.pid != old and name_owner(BUS_NAME) == new.pid
    assert lab.services["solidice-storaged"] is new


def test_session_logged_out_behind_the_daemons_back(lab, session_behind_the_back):
    target, portal = session_behind_the_back()
    assert (target, portal) not in iscsi_sessions()
    settle()
    wait_for(lambda: all(len(paths) == 1 for paths in multipath_maps().values()),
             "every map down to one path", 60)

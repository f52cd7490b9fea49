# SPDX-License-Identifier: LGPL-2.1-or-later
"""Who may do what, against the real polkitd and the system bus's own policy.

The unprivileged lab user calls every method of the API, once per polkit rule set:
no rule (every change denied), one rule granting each action alone, and the lab's
own rules (lab/polkit-lab.rules). A change passes polkit exactly when a rule grants
its action; its probe is built so that past polkit the engine refuses it harmlessly
(a VG we did not create, a device that is a PV already) or it changes nothing, so
"got past polkit" is told from "denied" by the error's name and nothing on the host
moves. Then the user's granted changes are made for real and checked with `lvs`,
and the bus policy is tried: owning the daemon's name, spoofing its replies and its
signals."""

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
from dbus_fast import Message, MessageType, Variant

from labbus import ERROR, IFACE, ROOT
from lab.host import (DATA_TARGET, LOGS, NFS_ADDRESS, PORTALS, TEST_USER, TOP, LabError,
                     lvm, lvm_report, mounted, multipath_maps, run, settle, wait_for)
from solidice_storage import actions, objpath

HOST = f"{ROOT}/Host"
POOL, VGI, LVI = IFACE + "StoragePool", IFACE + "VolumeGroup", IFACE + "LogicalVolume"
RULES = Path("/etc/polkit-1/rules.d/50-solidice-lab.rules")
LAB_RULES = TOP / "lab/polkit-lab.rules"
DENIED = {ERROR + "NotAuthorized", ERROR + "NotAuthorizedCanObtain"}
MiB = 1024**2
VG, LV = "authvg", "authlv"              # made with lvm by hand: not the service's
MANAGED_VG = "authmvg"                   # made through the service
LOCAL = "/mnt/lab/authz"                 # an NFS mount root makes, for Mount.Unmount
NOT_EMPTY = "/mnt/lab/authz-full"
SHORT = {"timeout": ["u", 5]}            # a portal that refuses: no long retries


def rules_granting(*granted: str) -> str:
    """A rule set: the test user gets `granted`, and a plain no for every other
    action of ours (no challenge, so a denial is always NotAuthorized)."""
    return f"""polkit.addRule(function(action, subject) {{
    if (subject.user !== "{TEST_USER}" || action.id.indexOf("{actions.PREFIX}") !== 0)
        return polkit.Result.NOT_HANDLED;
    return {json.dumps(sorted(granted))}.indexOf(action.id) >= 0
        ? polkit.Result.YES : polkit.Result.NO;
}});
"""


def as_user(*args: str, timeout: float = 300):
    result = run(sys.executable, str(TOP / "tests/lab/as_user.py"), *args, user=TEST_USER,
                 timeout=timeout)
    return json.loads(result.stdout)


@pytest.fixture
def world(lab):
    """What the probes act on: an unmanaged VG with an LV, a managed VG, an NFS mount
    and a full directory, all made as root; the lab's rules put back after."""
    wwids = sorted(multipath_maps())[:2]
    devices = [f"/dev/mapper/{wwid}" for wwid in wwids]
    lvm("pvcreate", "-y", "--", devices[0])
    lvm("vgcreate", "-y", VG, "--", devices[0])
    lvm("lvcreate", "-y", "-L", "8m", "-n", LV, VG)
    Path(NOT_EMPTY).mkdir(parents=True, exist_ok=True)
    Path(NOT_EMPTY, "file").write_text("keep\n")
    Path(LOCAL).mkdir(parents=True, exist_ok=True)
    run("mount", "-t", "nfs", "-o", "vers=3,nosuid,nodev", f"{NFS_ADDRESS}:/srv/nfs/export",
        LOCAL)
    settle()
    try:
        yield {"wwids": wwids, "devices": devices}
    finally:
        RULES.write_text(LAB_RULES.read_text())
        run("umount", "-f", "-l", LOCAL, check=False)
        for vg in (VG, MANAGED_VG):
            lvm("vgremove", "-y", "-f", "--", vg, check=False)
        for device in devices:
            lvm("pvremove", "-y", "-ff", "--", device, check=False)
            run("wipefs", "-a", "--", device, check=False)
        run("udevadm", "trigger", "--settle", "--action=change", "--", *devices)
        Path(NOT_EMPTY, "file").unlink(missing_ok=True)
        for directory in (NOT_EMPTY, LOCAL):
            Path(directory).rmdir()
        settle()


def probes(world, objects: dict) -> list[tuple[str, list, bool]]:
    """(action or None for a read, call, harmless-if-allowed) for every method. A
    call whose effect would be real when allowed (a logout, an unmount) is sent only
    in the rounds that deny it."""
    vg = next(p for p, i in objects.items() if i.get(VGI, {}).get("Name") == VG)
    lv = next(p for p, i in objects.items() if i.get(LVI, {}).get("Name") == LV)
    pv = objects[vg][VGI]["PhysicalVolumes"][0]
    lun = objpath.path("Lun", world["wwids"][0])
    session = objpath.path("IscsiSession", f"{DATA_TARGET}@{PORTALS[0]}:3260")
    mount = objpath.path("Mount", LOCAL)
    assert {session, mount} <= set(objects), "the lab's session and our NFS mount"
    props = "org.freedesktop.DBus.Properties"
    return [
        # reads: no authorization
        (None, [ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", []], 1),
        (None, [HOST, IFACE + "Host", "EnumerateLuns", "a{sv}", [{}]], 1),
        (None, [HOST, IFACE + "Host", "EnumerateVolumeGroups", "a{sv}", [{}]], 1),
        (None, [HOST, IFACE + "Host", "GetBlockInfo", "sa{sv}", [world["wwids"][0], {}]], 1),
        (None, [HOST, IFACE + "Host", "EnumerateIscsiLuns", "ssa{sv}",
                [PORTALS[0], DATA_TARGET, {}]], 1),           # logged in: a read
        (None, [vg, VGI, "ListPhysicalVolumes", "a{sv}", [{}]], 1),
        (None, [vg, VGI, "ListLogicalVolumes", "a{sv}", [{}]], 1),
        (None, [lun, props, "GetAll", "s", [IFACE + "Lun"]], 1),
        (None, [lv, props, "Get", "ss", [LVI, "Size"]], 1),
        (None, [session, props, "GetAll", "s", [IFACE + "IscsiSession"]], 1),
        (None, [HOST, "org.freedesktop.DBus.Introspectable", "Introspect", "", []], 1),
        # manage-lvm: refused past polkit (a PV of a VG; no space; a name taken)
        (actions.MANAGE_LVM, [HOST, POOL, "CreateVolumeGroup", "sasa{sv}",
                              ["authnew", [world["devices"][0]], {}]], 1),
        (actions.MANAGE_LVM, [vg, VGI, "Extend", "asa{sv}", [[world["devices"][0]], {}]],
         1),
        (actions.MANAGE_LVM, [vg, VGI, "CreateLogicalVolume", "sta{sv}",
                              ["huge", 1 << 40, {}]], 1),
        (actions.MANAGE_LVM, [lv, LVI, "Extend", "ta{sv}", [1 << 40, {}]], 1),
        (actions.MANAGE_LVM, [lv, LVI, "Snapshot", "sta{sv}", [LV, 4 * MiB, {}]], 1),
        (actions.MANAGE_LVM, [lv, LVI, "Activate", "a{sv}", [{}]], 1),      # active already
        (actions.MANAGE_LVM, [lv, LVI, "Deactivate", "a{sv}", [{}]], 0),
        # remove: refused past polkit (a VG we did not create; its last PV)
        (actions.REMOVE, [HOST, POOL, "RemoveVolumeGroup", "sa{sv}", [VG, {}]], 1),
        (actions.REMOVE, [vg, VGI, "Remove", "a{sv}", [{}]], 1),
        (actions.REMOVE, [vg, VGI, "RemovePhysicalVolume", "sa{sv}", [pv, {}]], 1),
        (actions.REMOVE, [lv, LVI, "Remove", "a{sv}", [{}]], 1),
        # iscsi: a portal that refuses; a pair not logged in; a rescan changes nothing
        (actions.ISCSI, [HOST, IFACE + "Host", "DiscoverIscsiTargets", "sa{sv}",
                         ["127.0.0.9", SHORT]], 1),
        (actions.ISCSI, [HOST, IFACE + "Host", "LoginIscsi", "ssa{sv}",
                         ["127.0.0.9", DATA_TARGET, SHORT]], 1),
        (actions.ISCSI, [HOST, IFACE + "Host", "LogoutIscsi", "ssa{sv}",
                         ["127.0.0.9", DATA_TARGET, {}]], 1),
        (actions.ISCSI, [HOST, IFACE + "Host", "EnumerateIscsiLuns", "ssa{sv}",
                         ["127.0.0.9", DATA_TARGET, SHORT]], 1),     # would log in
        (actions.ISCSI, [HOST, IFACE + "Host", "Rescan", "a{sv}", [{}]], 1),
        (actions.ISCSI, [session, IFACE + "IscsiSession", "Logout", "a{sv}", [{}]], 0),
        # mount-nfs: a directory that is not empty; a path with no mount
        (actions.MOUNT_NFS, [HOST, POOL, "MountNfs", "sssa{sv}",
                             [NFS_ADDRESS, "/srv/nfs/export", NOT_EMPTY, {}]], 1),
        (actions.MOUNT_NFS, [HOST, POOL, "Unmount", "sba{sv}", ["/mnt/lab/none", False, {}]],
         1),
        (actions.MOUNT_NFS, [mount, IFACE + "Mount", "Unmount", "ba{sv}", [False, {}]], 0),
    ]


def host_state() -> tuple:
    """What a probe must never change: LVM's objects, sessions, mounts, the tree."""
    return (sorted((r["lv_name"], r["lv_size"], r["lv_attr"]) for r in lvm_report(
                "lvs", "-o", "lv_name,lv_size,lv_attr")),
            sorted(r["vg_name"] for r in lvm_report("vgs", "-o", "vg_name")),
            run("iscsiadm", "-m", "session", check=False).stdout,
            mounted(LOCAL) is not None, sorted(p.name for p in Path("/mnt/lab").iterdir()))


async def seen(bus) -> dict:
    """The tree once the daemon shows what `world` made behind its back."""
    for _ in range(120):
        objects = await bus.objects()
        names = {i[k].get("Name") for i in objects.values() for k in (VGI, LVI) if k in i}
        if {VG, LV} <= names and objpath.path("Mount", LOCAL) in objects:
            return objects
        await asyncio.sleep(0.25)
    raise AssertionError("the VG, LV and mount made by hand never showed")


async def test_every_method_is_allowed_exactly_as_the_rules_say(bus, world):
    objects = await seen(bus)
    calls = probes(world, objects)
    before = host_state()
    rounds = [("no rule", rules_granting(), set())]
    rounds += [(f"only {action}", rules_granting(action), {action})
               for action in sorted(actions.ALL - {actions.CANCEL_JOB,
                                                    actions.CANCEL_JOB_OTHER_USER})]
    summary = []
    for label, rules, granted in rounds:
        RULES.write_text(rules)
        sent = [(action, call) for action, call, harmless in calls
                if action is None or harmless or action not in granted]
        Path("/tmp/authz-calls.json").write_text(json.dumps([call for _, call in sent]))
        expected = [action is None or action in granted for action, _ in sent]
        deadline = time.monotonic() + 60           # polkitd reloads rules on inotify
        while True:
            results = await asyncio.to_thread(as_user, "calls", "/tmp/authz-calls.json")
            passed = [ok or name not in DENIED for ok, name, _ in results]
            if passed == expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        wrong = [(call[2], action, result) for (action, call), result, want, got
                 in zip(sent, results, expected, passed) if want != got]
        assert not wrong, f"{label}: {wrong}"
        for (action, call), (ok, name, text) in zip(sent, results):
            assert ok or name.startswith(ERROR), (call[2], name, text)
            assert "Traceback" not in text
            if action is not None and action not in granted:
                assert name == ERROR + "NotAuthorized" and action in text, (call, text)
        assert host_state() == before, f"{label}: a probe changed the host"
        summary.append(f"{label}: {len(sent)} calls, {sum(expected)} past polkit")

    # the lab's own rules: LVM granted, removal refused, the rest to the defaults
    # (auth_admin: without an agent, a challenge the caller cannot answer)
    RULES.write_text(LAB_RULES.read_text())
    Path("/tmp/authz-calls.json").write_text(json.dumps(
        [call for action, call, harmless in calls if harmless]))
    lab_rules = {None: {"past polkit"}, actions.MANAGE_LVM: {"past polkit"},
                 actions.REMOVE: {"NotAuthorized"},
                 actions.ISCSI: {"NotAuthorizedCanObtain"},
                 actions.MOUNT_NFS: {"NotAuthorizedCanObtain"}}
    deadline = time.monotonic() + 60               # until polkitd has reloaded them
    while True:
        results = await asyncio.to_thread(as_user, "calls", "/tmp/authz-calls.json")
        by_action: dict = {}
        for (action, *_), (ok, name, _) in zip([c for c in calls if c[2]], results):
            by_action.setdefault(action, set()).add(
                "past polkit" if ok or name not in DENIED else name.removeprefix(ERROR))
        if by_action == lab_rules or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert by_action == lab_rules, by_action
    assert host_state() == before
    (LOGS / "authz-matrix.log").write_text("\n".join(summary) + "\n")


async def test_the_lab_user_makes_what_its_rule_grants_and_removes_nothing(bus, world):
    """lab/polkit-lab.rules: manage-lvm yes, remove no. The changes made for real."""
    RULES.write_text(LAB_RULES.read_text())
    device = world["devices"][1]
    (vg,) = await bus.call(HOST, "CreateVolumeGroup", "sasa{sv}",
                           [MANAGED_VG, [device], {}], interface=POOL)
    Path("/tmp/authz-calls.json").write_text(json.dumps([
        [vg, VGI, "CreateLogicalVolume", "sta{sv}", ["userlv", 8 * MiB, {}]]]))
    assert as_user("calls", "/tmp/authz-calls.json") == [[True, "", ""]]
    (lv,) = (p for p, i in (await bus.objects()).items()
             if i.get(LVI, {}).get("Name") == "userlv")
    Path("/tmp/authz-calls.json").write_text(json.dumps([
        [lv, LVI, "Extend", "ta{sv}", [16 * MiB, {}]],
        [lv, LVI, "Snapshot", "sta{sv}", ["usersnap", 4 * MiB, {}]],
        [lv, LVI, "Deactivate", "a{sv}", [{}]],
        [lv, LVI, "Remove", "a{sv}", [{}]],
        [vg, VGI, "Remove", "a{sv}", [{}]],
    ]))
    results = as_user("calls", "/tmp/authz-calls.json")
    assert [r[:2] for r in results[:2]] == [[True, ""], [True, ""]], results
    assert results[2][0] or results[2][1] not in DENIED, results      # past polkit
    assert [r[1] for r in results[3:]] == [ERROR + "NotAuthorized"] * 2, results
    lvs = {r["lv_name"]: r for r in lvm_report("lvs", "-o", "lv_name,lv_size,lv_attr,origin",
                                               "--", MANAGED_VG)}
    assert set(lvs) == {"userlv", "usersnap"}
    assert int(lvs["userlv"]["lv_size"]) == 24 * MiB and lvs["usersnap"]["origin"] == "userlv"
    assert (lvs["userlv"]["lv_attr"][4] == "a") is not results[2][0]  # as it answered
    assert [r["vg_name"] for r in lvm_report("vgs", "-o", "vg_name", "--", MANAGED_VG)] == \
        [MANAGED_VG]
    log = (LOGS / "solidice-storaged.log").read_text()
    assert f"uid 4242 allowed {actions.MANAGE_LVM}" in log
    assert f"uid 4242 denied {actions.REMOVE}" in log


async def test_the_bus_lets_no_one_else_own_the_name_or_speak_for_the_daemon(bus, lab):
    assert as_user("own", "org.solidice.Storage") == \
        [False, "org.freedesktop.DBus.Error.AccessDenied"]
    # a victim connection calls the daemon, and takes signals only from its name
    victim = bus.bus
    spoofed = []

    def watch(message: Message) -> None:
        if message.message_type is MessageType.METHOD_RETURN and message.body == ["spoofed"]:
            spoofed.append(message)
        if message.message_type is MessageType.SIGNAL and "spoofed" in str(message.body):
            spoofed.append(message)

    victim.add_message_handler(watch)
    try:
        pending = [asyncio.ensure_future(bus.call(HOST, "EnumerateLuns", "a{sv}", [{}]))
                   for _ in range(5)]
        await asyncio.sleep(0)
        serials = [str(n) for n in range(1, victim._serial + 20)]
        errors = await asyncio.to_thread(as_user, "spoof", victim.unique_name, *serials)
        replies = await asyncio.gather(*pending)
    finally:
        victim.remove_message_handler(watch)
    assert all(reply[0] != "error" and reply != ["spoofed"] for reply in replies), replies
    assert not spoofed, [m.body for m in spoofed]
    assert errors and set(errors) == {"org.freedesktop.DBus.Error.AccessDenied"}, errors

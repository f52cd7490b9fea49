# SPDX-License-Identifier: LGPL-2.1-or-later
"""The lab host: real storage services inside the lab guest, brought up in order
and taken down in reverse. Used by the lab fixtures and by `LAB_SHELL=1 lab/run`
(`python -m lab.host up`). Only ever run inside the guest: it loads kernel
modules, rewrites /etc and starts daemons.

What it builds:
- LIO iSCSI targets on 127.0.0.1, .2 and .4 (the last one for silencing): `data`
  with four file-backed LUNs, `chap` with one LUN behind CHAP;
- iscsid logged in to `data` on .1 and .2, so every data LUN has two paths;
- multipathd with lab/multipath.conf; udevd; LVM with lab/lvmlocal.conf;
- the kernel NFS server exporting a tmpfs over NFSv3 (/srv/nfs/export) and NFSv4
  (pseudo-root /srv/nfs), reached on 127.0.0.3 when a test needs to silence it;
- a system dbus-daemon with dbus-conf/org.solidice.Storage.conf, and the real
  polkitd with our actions and lab/polkit-lab.rules;
- the unprivileged user `solidicelab`;
- solidice-storaged, started with the unit's ExecStart and no --sim.
"""

import configparser
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

TOP = Path(os.environ.get("LAB_TOP", Path(__file__).resolve().parents[1]))
RESULTS = Path(os.environ.get("LAB_RESULTS", "/tmp/lab-results"))
LOGS = RESULTS / "logs"
MiB = 1024**2

DATA_TARGET = "iqn.2026-11.org.solidice.lab:data"
CHAP_TARGET = "iqn.2026-11.org.solidice.lab:chap"
CHAP_USER, CHAP_PASSWORD = "lab-initiator", "lab-chap-secret1"
PORTALS = ("127.0.0.1", "127.0.0.2")
SILENT_PORTAL = "127.0.0.4"          # the data target's third portal, for drop rules
NFS_ADDRESS = "127.0.0.3"            # the NFS server's address for drop rules
DATA_LUNS = 4
LUN_SIZE = 64 * MiB
TEST_USER, TEST_UID = "solidicelab", 4242
BUS_NAME = "org.solidice.Storage"
MODULES = ("dm_mod", "dm_snapshot", "dm_mirror", "dm_multipath", "target_core_mod",
           "iscsi_target_mod", "target_core_file", "iscsi_tcp", "nfsd", "nfsv3",
           "nfsv4", "nf_tables")


class LabError(RuntimeError):
    pass


def run(*args: str, check: bool = True, timeout: float = 120,
        user: str | None = None, **kwargs) -> subprocess.CompletedProcess:
    """A command as an argument list; its stderr in the error when it fails."""
    command = list(args)
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
                   "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            **kwargs)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(command)} exited {result.returncode}: "
                       f"{result.stderr.strip() or result.stdout.strip()}")
    return result


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 60,
             interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise LabError(f"timed out after {timeout:g} s waiting for {what}")


class Service:
    """A daemon in the foreground, its output in logs/<name>.log."""

    def __init__(self, name: str, *command: str, env: dict | None = None,
                 umask: int = -1) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self._log = open(self.log_path, "a")
        self.command = command
        # Its own session: some daemons signal their whole process group when they
        # stop, and the suite must not be in it.
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     start_new_session=True, umask=umask)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def copy(source: str, destination: str, mode: int = 0o644) -> None:
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TOP / source, destination)
    os.chmod(destination, mode)


def name_owner(name: str) -> int | None:
    """PID owning `name` on the system bus, or None."""
    result = run("busctl", "--json=short", "status", name, check=False, timeout=20)
    if result.returncode != 0:
        return None
    for line in result.stdout.splitlines():
        if line.startswith("PID="):
            return int(line[4:])
    return None


# ---- the kernel and the network ----

def base() -> None:
    run("modprobe", "-a", *MODULES)
    for fstype, where in (("configfs", "/sys/kernel/config"), ("nfsd", "/proc/fs/nfsd")):
        if not os.path.ismount(where):
            run("mount", "-t", fstype, fstype, where)
    run("ip", "link", "set", "lo", "up")
    for address in (*PORTALS[1:], NFS_ADDRESS, SILENT_PORTAL):
        run("ip", "addr", "replace", f"{address}/8", "dev", "lo")
    for directory in ("/run/lvm", "/run/lock/lvm", "/run/dbus", "/run/rpcbind",
                      "/var/lib/nfs/rpc_pipefs", "/etc/multipath", "/srv/lab", "/mnt/lab",
                      "/var/lock/iscsi", "/run/lock/iscsi", "/etc/rtslib-fb-target"):
        os.makedirs(directory, exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", "size=512m", "lab", "/srv/lab")
    copy("lab/lvmlocal.conf", "/etc/lvm/lvmlocal.conf")


def processes_named(name: str) -> list[int]:
    """PIDs whose command name (/proc/PID/comm) is `name`."""
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                pids.append(int(entry.name))
    return pids


def udev() -> Service:
    # virtme-ng's init starts a udevd of its own and leaves it running: with ours as
    # well, every uevent would be handled twice, and `udevadm settle` would wait for
    # one of the two only. SIGKILL, as at teardown (see LabHost.up).
    for pid in processes_named("systemd-udevd"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not processes_named("systemd-udevd"), "virtme's udevd to go", 10)
    service = Service("udevd", "/lib/systemd/systemd-udevd")
    time.sleep(0.5)
    run("udevadm", "trigger")
    run("udevadm", "settle", "--timeout=60", timeout=90)
    return service


def settle() -> None:
    # Under emulation, with the machine busy, the queue after a login has been
    # seen to take over a minute (every path runs multipath's and LVM's rules).
    run("udevadm", "settle", "--timeout=180", timeout=200)


class Firewall:
    """nftables drop rules: a silenced address answers nothing, as a dead server."""

    TABLE = "solidice_lab"

    def __init__(self) -> None:
        run("nft", "add", "table", "inet", self.TABLE)
        run("nft", "add", "chain", "inet", self.TABLE, "output",
            "{ type filter hook output priority 0 ; }")
        self.silenced: dict[str, str] = {}

    def silence(self, address: str) -> None:
        run("nft", "add", "rule", "inet", self.TABLE, "output", "ip", "daddr", address,
            "drop", "comment", f'"silence {address}"')
        self.silenced[address] = address

    def heal(self, address: str) -> None:
        rules = json.loads(run("nft", "-j", "list", "chain", "inet", self.TABLE,
                               "output").stdout)["nftables"]
        for item in rules:
            rule = item.get("rule")
            if rule and rule.get("comment") == f"silence {address}":
                run("nft", "delete", "rule", "inet", self.TABLE, "output", "handle",
                    str(rule["handle"]))
        self.silenced.pop(address, None)

    def close(self) -> None:
        run("nft", "delete", "table", "inet", self.TABLE, check=False)


def reachable(address: str, port: int, timeout: float = 2) -> bool:
    """True if a TCP connection opens; a silenced address times out."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---- D-Bus and polkit ----

def system_bus() -> Service:
    copy("dbus-conf/org.solidice.Storage.conf", "/etc/dbus-1/system.d/org.solidice.Storage.conf")
    run("dbus-uuidgen", "--ensure")
    service = Service("dbus-daemon", "dbus-daemon", "--system", "--nofork", "--nopidfile")
    wait_for(lambda: os.path.exists("/run/dbus/system_bus_socket"), "the system bus")
    return service


def polkit() -> Service:
    copy("dbus-conf/org.solidice.storage.policy",
         "/usr/share/polkit-1/actions/org.solidice.storage.policy")
    copy("lab/polkit-lab.rules", "/etc/polkit-1/rules.d/50-solidice-lab.rules")
    service = Service("polkitd", "/usr/lib/polkit-1/polkitd", "--no-debug")
    wait_for(lambda: name_owner("org.freedesktop.PolicyKit1"), "polkitd on the bus")
    return service


def test_user() -> None:
    """An unprivileged user with no password. Written to passwd and group directly:
    useradd cannot replace /etc/shadow on the guest's overlay."""
    if run("id", TEST_USER, check=False).returncode != 0:
        with open("/etc/passwd", "a") as passwd:
            passwd.write(f"{TEST_USER}:x:{TEST_UID}:{TEST_UID}::/nonexistent:/bin/bash\n")
        with open("/etc/group", "a") as group:
            group.write(f"{TEST_USER}:x:{TEST_UID}:\n")


# ---- iSCSI ----

class IscsiTargets:
    """The LIO targets, made by lab/iscsi_targets.py in its own process."""

    def __init__(self) -> None:
        out = run(sys.executable, str(TOP / "lab/iscsi_targets.py"), "setup",
                  f"{DATA_TARGET}:{DATA_LUNS}", f"{CHAP_TARGET}:1:chap",
                  "--portals", ",".join((*PORTALS, SILENT_PORTAL)), "--user", CHAP_USER,
                  "--password", CHAP_PASSWORD, "--size-mib", str(LUN_SIZE // MiB)).stdout
        self.wwns: dict[str, list[str]] = json.loads(out)

    def close(self) -> None:
        run(sys.executable, str(TOP / "lab/iscsi_targets.py"), "clear", check=False)


def iscsid() -> Service:
    return Service("iscsid", "iscsid", "-f")


def iscsi_login(target: str, portal: str, username: str = "", password: str = "") -> None:
    run("iscsiadm", "-m", "discovery", "-t", "st", "-p", portal, timeout=60)
    if username:
        for key, value in (("node.session.auth.authmethod", "CHAP"),
                           ("node.session.auth.username", username),
                           ("node.session.auth.password", password)):
            run("iscsiadm", "-m", "node", "-T", target, "-p", portal, "-o", "update",
                "-n", key, "-v", value)
    run("iscsiadm", "-m", "node", "-T", target, "-p", portal, "--login", timeout=90)


def iscsi_logout(target: str, portal: str) -> None:
    run("iscsiadm", "-m", "node", "-T", target, "-p", portal, "--logout", timeout=90)


def iscsi_sessions() -> set[tuple[str, str]]:
    """(target, portal address) of every session, as iscsiadm lists them."""
    result = run("iscsiadm", "-m", "session", check=False)
    sessions = set()
    for line in result.stdout.splitlines():   # tcp: [1] 127.0.0.1:3260,1 iqn... (non-flash)
        fields = line.split()
        if len(fields) >= 4:
            sessions.add((fields[3], fields[2].split(":")[0]))
    return sessions


# ---- multipath and LVM ----

def multipathd() -> Service:
    copy("lab/multipath.conf", "/etc/multipath.conf")
    return Service("multipathd", "multipathd", "-d", "-s")


def multipath_maps() -> dict[str, list[tuple[str, str]]]:
    """map name (the WWID) → [(path device, dm state)], from multipathd."""
    result = run("multipathd", "show", "maps", "json", check=False)
    if result.returncode != 0 or not result.stdout.strip().startswith("{"):
        return {}
    maps = {}
    for item in json.loads(result.stdout).get("maps", []):
        paths = [(path["dev"], path["dm_st"]) for group in item.get("path_groups", [])
                 for path in group.get("paths", [])]
        maps[item["name"]] = paths
    return maps


def lvm(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run("lvm", *args, **kwargs)


def lvm_report(command: str, *args: str) -> list[dict]:
    """Rows of an LVM report (`vgs`, `lvs`, `pvs`) in bytes, as JSON."""
    out = lvm(command, "--reportformat", "json", "--units", "b", "--nosuffix", *args).stdout
    report = json.loads(out)["report"][0]
    return next(iter(report.values()))


# ---- NFS ----

class NfsServer:
    def __init__(self) -> None:
        os.makedirs("/srv/nfs", exist_ok=True)
        run("mount", "-t", "tmpfs", "-o", "size=64m", "labnfs", "/srv/nfs")
        os.makedirs("/srv/nfs/export", exist_ok=True)
        Path("/srv/nfs/export/hello").write_text("from the lab's NFS server\n")
        self.services = [Service("rpcbind", "rpcbind", "-f", "-w")]
        wait_for(lambda: reachable("127.0.0.1", 111), "rpcbind")
        # A 90 s NFSv4 grace period would make every server start cost 90 s.
        for knob in ("nfsv4gracetime", "nfsv4leasetime"):
            Path(f"/proc/fs/nfsd/{knob}").write_text("10\n")
        Path("/etc/exports").write_text(
            "/srv/nfs        127.0.0.0/8(rw,no_root_squash,insecure,fsid=0,no_subtree_check)\n"
            "/srv/nfs/export 127.0.0.0/8(rw,no_root_squash,insecure,fsid=1,no_subtree_check)\n")
        run("exportfs", "-ra")
        self.services.append(Service("rpc.mountd", "rpc.mountd", "--foreground"))
        self.services.append(Service("rpc.statd", "rpc.statd", "--foreground"))
        run("rpc.nfsd", "4")
        wait_for(lambda: reachable(NFS_ADDRESS, 2049), "nfsd")

    def close(self) -> None:
        run("rpc.nfsd", "0", check=False)
        run("exportfs", "-ua", check=False)
        for service in reversed(self.services):
            service.stop()
        run("umount", "/srv/nfs", check=False)


def mounted(local_path: str) -> dict[str, str] | None:
    """The /proc/self/mountinfo entry for local_path: source, fstype, options."""
    # bytes: a mount point's name need not be UTF-8 (test_nfs.py makes one)
    table = Path("/proc/self/mountinfo").read_bytes().decode("utf-8", "surrogateescape")
    for line in table.splitlines():
        fields = line.split()
        if fields[4] == local_path:
            tail = fields[fields.index("-") + 1:]
            return {"fstype": tail[0], "source": tail[1], "options": fields[5] + "," + tail[2]}
    return None


# ---- the daemon ----

def exec_start() -> list[str]:
    """The unit's ExecStart, with the installed path mapped to this checkout's
    virtualenv (the guest does not install the package)."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(TOP / "systemd/solidice-storaged.service")
    command = unit["Service"]["ExecStart"].split()
    assert command[0] == "/usr/sbin/solidice-storaged", command
    return [str(Path(sys.executable).parent / "solidice-storaged"), *command[1:]]


def unit_umask() -> int:
    """The unit's UMask= (systemd's default, 0022, if it sets none)."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(TOP / "systemd/solidice-storaged.service")
    return int(unit["Service"].get("UMask", "0022"), 8)


DAEMON_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}   # what systemd gives


def start_daemon(*extra: str, env: dict | None = None) -> Service:
    # --debug: each command the daemon runs goes to its log, for a failed test
    service = Service("solidice-storaged", *exec_start(), "--debug", *extra,
                      env={**DAEMON_ENV, **(env or {})}, umask=unit_umask())
    try:
        wait_for(lambda: name_owner(BUS_NAME) == service.pid or not service.alive(),
                 "solidice-storaged to own its name", timeout=120)
    except LabError:
        service.stop(signal.SIGKILL)
        raise
    if not service.alive():
        raise LabError(f"solidice-storaged exited {service.proc.returncode}; see "
                       f"{service.log_path}")
    return service


# ---- all of it ----

class LabHost:
    """Everything above, up in dependency order; down in reverse, every step tried
    even when an earlier one failed."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.services: dict[str, Service] = {}

    def _service(self, service: Service, signum: int = signal.SIGTERM) -> Service:
        self.services[service.name] = service
        self._on_down(f"stop {service.name}",
                      lambda: self.services[service.name].stop(signum))
        return service

    def _on_down(self, what: str, step: Callable) -> None:
        """Register a teardown step; each is logged, so a hang or crash shows where."""
        def logged() -> None:
            with open(LOGS / "teardown.log", "a") as log:
                log.write(f"{time.strftime('%T')} {what}\n")
            step()
        self._stack.callback(logged)

    def up(self) -> "LabHost":
        try:
            base()
            self.firewall = Firewall()
            self._on_down("remove the nftables table", self.firewall.close)
            # udevd answers SIGTERM by killing every process in its cgroup, and in
            # the guest that is all of them, this suite included.
            self._service(udev(), signal.SIGKILL)
            self._service(system_bus())
            self._service(polkit())
            test_user()
            self.targets = IscsiTargets()
            self._on_down("clear the LIO targets", self.targets.close)
            self._service(multipathd())
            self._service(iscsid())
            self._on_down("log every iSCSI session out", self._logout_everything)
            for portal in PORTALS:
                iscsi_login(DATA_TARGET, portal)
            settle()
            wait_for(self.data_paths_ready, "every data LUN on two active paths", 120)
            self.nfs = NfsServer()
            self._on_down("stop the NFS server", self.nfs.close)
            self.restart_daemon()
            self._on_down("stop solidice-storaged",
                          lambda: self.services["solidice-storaged"].stop())
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        self._stack.close()

    def data_paths_ready(self) -> bool:
        maps = multipath_maps()
        return len(maps) == DATA_LUNS and all(
            len(paths) == 2 and all(state == "active" for _, state in paths)
            for paths in maps.values())

    def restart_daemon(self, signum: int = signal.SIGTERM,
                       env: dict | None = None) -> Service:
        """Stop the daemon (if running) with `signum` and start it as the unit does
        (`env`: added to the unit's environment)."""
        old = self.services.get("solidice-storaged")
        if old is not None:
            old.stop(signum)
        self.services["solidice-storaged"] = start_daemon(env=env)
        return self.services["solidice-storaged"]

    def _logout_everything(self) -> None:
        run("iscsiadm", "-m", "node", "--logoutall=all", check=False, timeout=90)
        run("multipath", "-F", check=False)


if __name__ == "__main__":
    if sys.argv[1:] == ["up"]:
        LabHost().up()

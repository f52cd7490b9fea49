# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run a command under the sandbox a systemd unit file asks for, without systemd.

The lab guest and the tier-2 host do not run systemd as PID 1, so the unit's
hardening cannot be had from `systemctl start`. This applies the parts of it that
the kernel enforces on the process itself, read from the unit file, as systemd
would (src/shared/seccomp-util.c), and then execs the command:

- CapabilityBoundingSet=, NoNewPrivileges= (by setpriv, with an empty inheritable
  set as systemd gives a root service), ProtectHostname= (unshare --uts), UMask=;
- SystemCallFilter= (groups resolved by `systemd-analyze syscall-filter`),
  SystemCallErrorNumber=, SystemCallArchitectures=native, RestrictAddressFamilies=,
  MemoryDenyWriteExecute=, RestrictNamespaces=, LockPersonality=, RestrictRealtime=,
  RestrictSUIDSGID= as seccomp filters (libseccomp through ctypes).

Not applied: the cgroup and namespace options (the unit sets none that matter
here) and KeyringMode=.

    python tools/unit_sandbox.py [--log-denials] UNIT -- COMMAND...
    sandbox_command(UNIT, COMMAND, log_denials=False)   # the argument list for that

--log-denials: every call a filter refuses is logged by the kernel (`audit:
type=1326 ... comm="lvm" ... syscall=N` in the kernel log, with no auditd running),
so a test can show that nothing it ran was refused, not only that it worked.
"""

import configparser
import ctypes
import errno
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_NE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_MASKED_EQ = 1, 4, 5, 7
SCMP_FLTATR_CTL_NNP = 3          # we set no_new_privs ourselves (setpriv)
SCMP_FLTATR_CTL_LOG = 6          # SECCOMP_FILTER_FLAG_LOG: denials to the audit log

CLONE_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
                    0x20000000, 0x40000000, 0x00000080)   # mnt cgroup uts ipc user pid net time
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
S_ISUID, S_ISGID = 0o4000, 0o2000
SCHED_FIFO, SCHED_RR, SCHED_DEADLINE = 1, 2, 6
AF_MAX = 46
PER_LINUX = 0


def ERRNO(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def service_section(unit: Path) -> dict[str, list[str]]:
    """Each key of [Service], every value it was given, in order."""
    values: dict[str, list[str]] = {}
    section = None
    for line in unit.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line:
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def yes(values: dict, key: str) -> bool:
    return values.get(key, ["no"])[-1].lower() in ("yes", "true", "1", "on")


@functools.cache
def syscall_group(name: str) -> frozenset[str]:
    """The system calls of a group like @system-service, nested groups resolved."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name],
                         capture_output=True, text=True, check=True).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= syscall_group(item) if item.startswith("@") else {item}
    return frozenset(calls)


def resolve_filter(lines: list[str]) -> set[str]:
    """systemd's rule: the first line decides allow- or deny-list; a later line of the
    other kind takes its calls out again. Only allow-lists are supported here."""
    allowed: set[str] = set()
    for index, line in enumerate(lines):
        deny = line.startswith("~")
        names = set()
        for item in line.lstrip("~").split():
            names |= syscall_group(item) if item.startswith("@") else {item}
        if index == 0 and deny:
            raise SystemExit("unit_sandbox: only an allow-list SystemCallFilter= is supported")
        allowed = allowed - names if deny else allowed | names
    # implicitly allowed by systemd, whatever the list says
    return allowed | {"execve", "exit", "exit_group", "getrlimit", "rt_sigreturn",
                      "sigreturn", "arch_prctl"}


def capability_names(values: dict) -> list[str]:
    caps = " ".join(values.get("CapabilityBoundingSet", [])).split()
    return [cap.removeprefix("CAP_").lower() for cap in caps]


def sandbox_command(unit: Path, command: list[str], python: str = sys.executable,
                    log_denials: bool = False) -> list[str]:
    """The argument list that runs `command` in `unit`'s sandbox (same PID: exec only)."""
    values = service_section(unit)
    prefix: list[str] = []
    if yes(values, "ProtectHostname"):
        prefix += ["unshare", "--uts", "--"]
    setpriv = ["setpriv", "--inh-caps=-all"]
    if "CapabilityBoundingSet" in values:
        setpriv.append("--bounding-set=-all," + ",".join(f"+{c}" for c in capability_names(values)))
    if yes(values, "NoNewPrivileges"):
        setpriv.append("--no-new-privs")
    return [*prefix, *setpriv, "--", python, str(Path(__file__).resolve()),
            *(["--log-denials"] if log_denials else []), str(unit), "--", *command]


class Filter:
    def __init__(self, lib, default_action: int, log: bool) -> None:
        self.lib = lib
        self.ctx = lib.seccomp_init(default_action)
        if not self.ctx:
            raise OSError("seccomp_init failed")
        lib.seccomp_attr_set(self.ctx, SCMP_FLTATR_CTL_NNP, 0)
        if log:
            lib.seccomp_attr_set(self.ctx, SCMP_FLTATR_CTL_LOG, 1)

    def rule(self, action: int, name: str, *conditions: tuple[int, int, int, int]) -> None:
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return                # not a system call of this architecture
        array = (ArgCmp * max(1, len(conditions)))(*[ArgCmp(*c) for c in conditions])
        result = self.lib.seccomp_rule_add_array(self.ctx, action, number, len(conditions),
                                                 array)
        if result != 0:
            raise OSError(-result, f"seccomp rule for {name}: {os.strerror(-result)}")

    def load(self) -> None:
        result = self.lib.seccomp_load(self.ctx)
        if result != 0:
            raise OSError(-result, f"seccomp_load: {os.strerror(-result)}")


def apply_seccomp(values: dict, log: bool = False) -> None:
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    filters = []
    if "SystemCallFilter" in values:
        number = values.get("SystemCallErrorNumber", [""])[-1]
        # systemd's default for a call outside the list is to kill the process
        action = ERRNO(getattr(errno, number)) if number else 0x80000000
        allow = Filter(lib, action, log)     # the native architecture only: others are killed
        for name in sorted(resolve_filter(values["SystemCallFilter"])):
            allow.rule(SCMP_ACT_ALLOW, name)
        filters.append(allow)
    deny = Filter(lib, SCMP_ACT_ALLOW, log)  # the argument checks, stacked on the list
    if "RestrictAddressFamilies" in values:
        families = {getattr(__import__("socket"), f) for f in
                    " ".join(values["RestrictAddressFamilies"]).split()}
        for family in set(range(AF_MAX)) - families:
            deny.rule(ERRNO(errno.EAFNOSUPPORT), "socket", (0, SCMP_CMP_EQ, family, 0))
        deny.rule(ERRNO(errno.EAFNOSUPPORT), "socket", (0, SCMP_CMP_GE, AF_MAX, 0))
    if yes(values, "MemoryDenyWriteExecute"):
        both = PROT_WRITE | PROT_EXEC
        for call in ("mmap", "mmap2"):
            deny.rule(ERRNO(errno.EPERM), call, (2, SCMP_CMP_MASKED_EQ, both, both))
        for call in ("mprotect", "pkey_mprotect"):
            deny.rule(ERRNO(errno.EPERM), call, (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        deny.rule(ERRNO(errno.EPERM), "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    if yes(values, "RestrictNamespaces"):
        deny.rule(ERRNO(errno.ENOSYS), "clone3")     # flags are out of reach: glibc falls back
        deny.rule(ERRNO(errno.EPERM), "setns")
        for flag in CLONE_NAMESPACES:
            deny.rule(ERRNO(errno.EPERM), "unshare", (0, SCMP_CMP_MASKED_EQ, flag, flag))
            deny.rule(ERRNO(errno.EPERM), "clone", (0, SCMP_CMP_MASKED_EQ, flag, flag))
    if yes(values, "LockPersonality"):
        # (stricter than systemd, which lets a query through: nothing here queries)
        deny.rule(ERRNO(errno.EPERM), "personality", (0, SCMP_CMP_NE, PER_LINUX, 0))
    if yes(values, "RestrictRealtime"):
        for policy in (SCHED_FIFO, SCHED_RR, SCHED_DEADLINE):
            deny.rule(ERRNO(errno.EPERM), "sched_setscheduler",
                      (1, SCMP_CMP_MASKED_EQ, 0xFF, policy))
    if yes(values, "RestrictSUIDSGID"):
        for bit in (S_ISUID, S_ISGID):
            for call, arg in (("chmod", 1), ("fchmod", 1), ("fchmodat", 2)):
                deny.rule(ERRNO(errno.EPERM), call, (arg, SCMP_CMP_MASKED_EQ, bit, bit))
    # the allow-list last: seccomp(2) itself is outside it
    for seccomp_filter in (deny, *filters):
        seccomp_filter.load()


def denials(kernel_log: str) -> list[tuple[str, str]]:
    """(command, system call) of each refusal logged with --log-denials."""
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_char_p
    lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
    found = []
    for line in kernel_log.splitlines():
        match = re.search(r'type=1326 .*comm="([^"]*)".* syscall=(\d+)', line)
        if match:
            name = lib.seccomp_syscall_resolve_num_arch(0, int(match.group(2)))
            found.append((match.group(1), name.decode() if name else match.group(2)))
    return found


def main(argv: list[str]) -> None:
    log = argv[:1] == ["--log-denials"]
    unit, separator, *command = argv[1:] if log else argv
    assert separator == "--" and command, "usage: unit_sandbox.py UNIT -- COMMAND..."
    values = service_section(Path(unit))
    if "UMask" in values:
        os.umask(int(values["UMask"][-1], 8))
    apply_seccomp(values, log)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])

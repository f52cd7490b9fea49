# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile input, generated: every method of every interface, called with arguments
hypothesis makes up (names with LVM's forbidden characters, leading `-`,
`--config`-like strings, control and Unicode line-separator characters, very long
strings, unicode; sizes 0, 1, 2^64-1; relative, `..`-laden and system paths; mount
options smuggled through commas; option dicts with unknown keys, wrong variant
types and values out of range; object paths that do not exist; now and then no
interface field at all). The standard Properties methods get hostile names too, and
every method a wrong signature and a missing object.

Each call ends in a named `org.solidice.Storage.Error.*` (exactly `InvalidArgument`
when an argument is malformed by construction; success only where every argument
may be valid), the reply and the daemon's log carry no traceback, the daemon stays
up, and `GetManagedObjects` after a failed call is what it was before.

One daemon (--sim) for the module, driven from one client connection on a loop
of the module's own, so hypothesis runs plain (synchronous) examples. Figures:
`HOSTILE_STATS=1` prints how many inputs each method was given.
"""

import asyncio
import collections
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from dbus_fast import DBusError, Message, Variant
from dbus_fast.aio import MessageBus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solidice_storage import options as typed_options, validation
from solidice_storage.errors import ALL as STORAGE_ERRORS
from storage import ERROR, HOST, ROOT, Storage

NAME = "org.solidice.Storage"
NAMED = {ERROR + cls.name for cls in STORAGE_ERRORS}
DBUS_ERROR = "org.freedesktop.DBus.Error."
INTERNAL_ERROR = "internal error in the storage service"   # dbus/errors.py, on a crash
CRASH_LOGGED = re.compile(r"internal error in [\w.<>]+$", re.M)   # its log line
GiB = 1024**3
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "200"))   # per method
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
TRIED: collections.Counter = collections.Counter()
OUTCOMES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

# the simulated host (engine/sim/seed.py)
PORTALS = ["192.0.2.10:3260", "192.0.2.11:3260"]
DATA = "iqn.2003-01.org.linux-iscsi.sim.example:data"
BACKUP = "iqn.2003-01.org.linux-iscsi.sim.example:backup"
LUN = "36001405d0e1f2a3b4c5d6e7f8091{:04x}".format
NVME = "eui.0025388b91c2d3e4"

# ---- argument strategies: each draws (value, kind) ----
# kind "bad": malformed by construction, whatever the host holds: InvalidArgument;
# "absent": well formed but naming nothing there is: some named error;
# "ok": may be valid: success or a named error.

BAD, ABSENT, OK = "bad", "absent", "ok"
# control characters, and the Unicode ones Python's str.splitlines() breaks at
SEPARATORS = ["\n", "\r", "\t", "\x01", "\x1b", "\x7f", "\x0b", "\x0c", "\x1c", "\x1e",
              "\x85", "\x9b", "\u2028", "\u2029"]
# characters LVM names cannot hold ([A-Za-z0-9+_.-] only)
FORBIDDEN = list("/ \\$;`*?[]{}\"',:=@!#%^&()<>|~") + ["é", "\u00a0", "\u200b",
                                                      "\ufeff", "中", "\U0001f4be"]
OPTION_LIKE = ["-", "--", "-f", "-ff", "-y", "--yes", "--force", "--config",
               '--config=devices{filter=["a|.*|"]}', "--devices=/dev/sda",
               "-o", "-oremount,suid", "--bind", "-T", "--login", "-p", "--help"]
LV_RESERVED = ["_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_imeta", "_iorig",
               "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta",
               "_vdata", "_vorigin", "_wcorig"]


def tagged(strategy, kind):
    return strategy.map(lambda value: (value, kind)), kind


class Arg:
    """An argument's strategies: `any` (hostile or not) and `ok` (may be valid)."""

    def __init__(self, *branches, ok=None) -> None:
        self.any = st.one_of([strategy for strategy, _ in branches])
        oks = [strategy for strategy, kind in branches if kind == OK]
        self.ok = ok if ok is not None else st.one_of(oks) if oks else None

    def filter(self, keep) -> "Arg":
        filtered = Arg()
        filtered.any = self.any.filter(keep)
        filtered.ok = None if self.ok is None else self.ok.filter(keep)
        return filtered


def _insert(text: str, piece: str, at: int) -> str:
    at = at % (len(text) + 1)
    return text[:at] + piece + text[at:]


def with_piece(base, pieces):
    """`base` with one of `pieces` put somewhere in it."""
    return st.builds(_insert, base, st.sampled_from(pieces), st.integers(0, 200))


LVM_NAME = st.from_regex(r"[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,40}", fullmatch=True).filter(
    lambda name: name not in (".", ".."))
LV_NAME = LVM_NAME.filter(lambda name: not name.startswith(("snapshot", "pvmove"))
                          and not any(part in name for part in LV_RESERVED))
# D-Bus strings cannot hold NUL (dbus-fast refuses to send one; see the last test)
CHARS = st.characters(codec="utf-8", exclude_characters="\0")
NON_ASCII = st.text(st.characters(min_codepoint=0x80, codec="utf-8"), min_size=1, max_size=30)


def bad_text(base):
    """Malformed as any argument's text: empty, a control character, too long."""
    return st.one_of(
        st.just(""),
        with_piece(base, SEPARATORS),
        st.integers(validation.MAX_STRING + 1, 3 * validation.MAX_STRING).map(
            lambda n: "x" * n),
        st.just("x" * 2**20))


def bad_lvm_name(valid):
    return st.one_of(
        bad_text(valid),
        with_piece(valid, FORBIDDEN),
        st.builds(lambda dash, rest: dash + rest, st.sampled_from(OPTION_LIKE), valid),
        st.sampled_from([".", "..", "-", "--", "--config"]),
        st.integers(128, 2000).map(lambda n: "v" * n),
        NON_ASCII)


def vg_names():
    return Arg(tagged(bad_lvm_name(LVM_NAME), BAD), tagged(LVM_NAME, OK),
                     tagged(st.just("vmstore"), OK))


def lv_names():
    reserved = st.one_of(
        st.builds(lambda prefix, rest: prefix + rest,
                  st.sampled_from(["snapshot", "pvmove"]), LV_NAME),
        st.builds(lambda a, part, b: a + part + b, LV_NAME, st.sampled_from(LV_RESERVED),
                  st.sampled_from(["", "x", "_1"])))
    return Arg(tagged(bad_lvm_name(LV_NAME), BAD), tagged(reserved, BAD),
                     tagged(LV_NAME, OK), tagged(st.just("templates"), OK))


def sizes():
    return Arg(
        tagged(st.sampled_from([0, 2**63, 2**64 - 2, 2**64 - 1]), BAD),
        tagged(st.integers(2**63, 2**64 - 1), BAD),
        tagged(st.sampled_from([1, 2, 4095, 4096, 4 * 1024**2 + 1, GiB]), OK),
        tagged(st.integers(1, 2 * GiB), OK),
        tagged(st.sampled_from([2**50, 2**63 - 1]), OK))      # too big: NoSpace


# LVM's tag syntax (validation.tag): [A-Za-z0-9._+/=!:&#-], not starting with '-'
TAG = st.from_regex(r"[A-Za-z0-9._+/=!:&#][A-Za-z0-9._+/=!:&#-]{0,30}", fullmatch=True)
TAG_FORBIDDEN = [c for c in FORBIDDEN if c not in "/=!:&#"]


def tag_lists():
    """AddTags' and RemoveTags' tags: a list of 1 to 64 tags, none twice, never the
    service's own tag."""
    bad_tag = st.one_of(
        bad_text(TAG), with_piece(TAG, TAG_FORBIDDEN),
        st.builds(lambda dash, rest: dash + rest, st.sampled_from(OPTION_LIKE), TAG),
        st.builds(lambda rest: "@" + rest, TAG), st.just("x" * 1025),
        st.just("org.solidice.storage"), NON_ASCII)
    return Arg(
        tagged(st.just([]), BAD),
        tagged(st.builds(lambda good, bad, at: good[:at] + [bad] + good[at:],
                         st.lists(TAG, max_size=3, unique=True), bad_tag,
                         st.integers(0, 3)), BAD),
        tagged(TAG.map(lambda tag: [tag, tag]), BAD),                       # twice
        tagged(st.lists(TAG, min_size=65, max_size=70, unique=True), BAD),  # too many
        tagged(st.lists(TAG, min_size=1, max_size=4, unique=True), OK))


def junk_paths():
    """Object paths of ours (or like ours) that name nothing."""
    kinds = ["Lun", "VolumeGroup", "PhysicalVolume", "LogicalVolume", "Mount",
             "IscsiSession", "Job", "Nothing", "Host/x", ""]
    element = st.from_regex(r"[A-Za-z0-9_]{1,30}", fullmatch=True)
    return st.builds(lambda kind, key: f"{ROOT}/{kind}/{key}".replace("//", "/"),
                     st.sampled_from(kinds), element)


TRAVERSALS = ["/dev/../etc/shadow", "/dev/../../etc/passwd", "../../etc/passwd",
              "/dev/disk/by-id/../../../etc/shadow", "/dev/./mapper/../../proc/1/mem",
              "/etc/shadow", "/proc/self/mem", "/dev/stdin", "/dev/fd/0", "/tmp/link",
              "vmstore/../templates", "vmstore/templates/../..", "*", "?", "vm*",
              "%s%s%n", "${IFS}", "$(reboot)", "`reboot`", "a;reboot", "a|b", "a b",
              "/dev/sda,/dev/sdb", "/dev/mapper/", "/", ".", ".."]


def references(real):
    """A VG, PV, LV, LUN or device named by the caller."""
    return Arg(
        tagged(bad_text(st.sampled_from(real)), BAD),
        tagged(st.builds(lambda dash, rest: dash + rest, st.sampled_from(OPTION_LIKE),
                         st.sampled_from(real + [""])), BAD),
        tagged(junk_paths(), ABSENT),
        tagged(st.sampled_from(TRAVERSALS), ABSENT),
        tagged(NON_ASCII, ABSENT),
        tagged(st.text(CHARS, min_size=1, max_size=60), OK),     # may happen to name something
        tagged(st.sampled_from(real), OK))


def device_lists(real):
    one = references(real)
    mixed = st.lists(one.any, min_size=1, max_size=4).map(
        lambda items: ([v for v, _ in items], _worst([k for _, k in items])))
    oks = st.lists(one.ok, min_size=1, max_size=3).map(
        lambda items: ([v for v, _ in items], _worst([k for _, k in items])))
    return Arg(tagged(st.just([]), BAD), (mixed, None),
               tagged(st.sampled_from(real).map(lambda d: [d, d]), BAD),  # twice
               ok=oks)


SYSTEM_DIRS = ["/", "/etc", "/etc/x", "/usr", "/usr/share/x", "/boot", "/dev/shm",
               "/proc", "/sys/kernel", "/bin", "/sbin/x", "/lib/modules", "/root",
               "/home", "/run", "/run/lvm/x", "/var", "/var/lib", "/var/log",
               "/var/lib/solidice-storage", "/var/lib/solidice-storage/x", "/tmp",
               "/run/dbus/x", "/var/run/x"]
DIR = st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True).filter(
    lambda name: name not in (".", ".."))


def local_paths():
    """Mount points: relative, not normalized, `..`-laden, system directories."""
    absolute = st.lists(DIR, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
    unnormal = st.one_of(
        absolute.map(lambda p: p + "/"), absolute.map(lambda p: "/" + p),
        absolute.map(lambda p: p.replace("/", "//", 1)),
        absolute.map(lambda p: p + "/."), absolute.map(lambda p: p + "/.."),
        absolute.map(lambda p: "/mnt/.." + p), absolute.map(lambda p: p + "/../etc"))
    return Arg(
        tagged(bad_text(absolute), BAD),
        tagged(absolute.map(lambda p: p[1:]), BAD),            # relative
        tagged(st.sampled_from(["mnt", "./mnt", "../mnt", "~root", "-o", "--bind"]), BAD),
        tagged(unnormal, BAD),
        tagged(st.sampled_from(SYSTEM_DIRS), BAD),
        tagged(st.sampled_from(["/mnt/../etc", "/srv/../etc/cron.d", "/mnt/./x",
                                "/mnt/x/../../root"]), BAD),
        tagged(absolute.map(lambda p: "/mnt" + p), OK),        # NotFound: no such dir
        tagged(st.sampled_from(["/mnt", "/srv", "/var/lib/images"]), BAD),  # not below a root
        tagged(st.sampled_from(["/srv/nfs", "/mnt/iso", "/mnt/new", "/srv/é",
                                "/mnt/a,suid", "/mnt/a b"]), OK))


def servers():
    return Arg(
        tagged(bad_text(st.just("nfs.example.com")), BAD),
        tagged(with_piece(st.just("nfs.example.com"), [",", ",suid", ",dev,exec", " ",
                                                       ":", "/", "@", "_", "%", "\\"]), BAD),
        tagged(st.sampled_from(["-oremount", "--bind", "-", "fd00::1", "[fd00::1",
                                "[::1]x", "[nothex]", "999.1.1.1", "1.2.3", "a..b",
                                "-a.example.com", "a-.example.com", "x" * 64 + ".com",
                                "é.example.com", "[::1%eth0,suid]"]), BAD),
        tagged(st.sampled_from(["nfs.example.com", "192.0.2.20", "[fd00::1]",
                                "[fe80::1%eth0]", "localhost"]), OK))


def remote_paths():
    return Arg(
        tagged(bad_text(st.just("/export")), BAD),
        tagged(st.sampled_from(["export", "./x", "/export/", "/a/../b", "//x", "/x/.",
                                "-o", "--bind"]), BAD),
        tagged(st.sampled_from(["/export", "/", "/export,suid", "/a b", "/é"]), OK))


def portals():
    return Arg(
        tagged(bad_text(st.sampled_from(PORTALS)), BAD),
        tagged(st.sampled_from(["192.0.2.10:0", "192.0.2.10:65536", "192.0.2.10:99999",
                                "192.0.2.10:-1", "192.0.2.10:x", "192.0.2.10:3260:1",
                                "fd00::1:3260", "[fd00::1", "[fd00::1]3260", "-p",
                                "--login", "-192.0.2.10", "a,b:3260",
                                "192.0.2.10 :3260", "host:3260/x"]), BAD),
        tagged(with_piece(st.just("192.0.2.10"), [",", " ", "/", "\\", ";", "'"]), BAD),
        tagged(st.sampled_from([*PORTALS, "192.0.2.10", "192.0.2.99", "[fd00::1]:3260",
                                "portal.example.com:3261"]), OK))


def targets(real):
    return Arg(
        tagged(bad_text(st.sampled_from(real)), BAD),
        tagged(with_piece(st.sampled_from(real), ["/", " ", "\\", ",", "é", "\u2028"]), BAD),
        tagged(st.sampled_from(["target1", "-T", "--login", "iqn", "iqn.2003-01",
                                "iqn.03-01.org.x:y", "eui.123", "naa.xyz", "IQN.2003-01.x",
                                "iqn.2003-01.org.x:../../etc", "iqn.2003-01.-org:x"]), BAD),
        tagged(st.sampled_from(real + ["iqn.2026-01.org.example:nothing",
                                       "eui.0123456789abcdef", "naa.0123456789abcdef"]), OK))


def _worst(kinds):
    return BAD if BAD in kinds else ABSENT if ABSENT in kinds else OK


# ---- the a{sv} options ----

SIGNATURES = [("s", "1"), ("b", True), ("u", 1), ("t", 1), ("q", 1), ("i", -1), ("y", 1),
              ("d", 1.0), ("x", -5), ("n", -1), ("as", ["a"]), ("a{sv}", {}),
              ("v", Variant("s", "x")), ("o", "/"), ("g", "s"), ("ay", b"\0")]
OUT_OF_RANGE = {
    "timeout": [("u", 0), ("u", 3601), ("u", 2**32 - 1)],
    "extent-size": [("t", 0), ("t", 1), ("t", 2048), ("t", 3 * 2**20), ("t", 2**35),
                    ("t", 2**64 - 1)],
    "expected-size": [("t", 0), ("t", 2**64 - 1)],
    "vers": [("s", "4,suid"), ("s", "4.2,exec"), ("s", "4 "), ("s", "2"), ("s", "")],
    "node-startup": [("s", "sometimes"), ("s", "manual,automatic"), ("s", "")],
    "username": [("s", ""), ("s", "a\nb"), ("s", "u\u2028node.startup = automatic"),
                 ("s", "x" * 256)],
    "password": [("s", ""), ("s", "p\nnode.startup = automatic"), ("s", "p\x85x"),
                 ("s", "x" * 256)],
    "timeo": [("u", 0), ("u", 6001)], "retrans": [("u", 101)], "retry": [("u", 10001)],
    "proto": [("s", "udp"), ("s", "tcp,suid"), ("s", "tcp,dev")],
    "sec": [("s", "none"), ("s", "sys,exec"), ("s", "krb5,suid")],
    "rsize": [("u", 1023), ("u", 2**21)], "wsize": [("u", 0), ("u", 2**21)],
}
UNKNOWN_KEYS = ["options", "o", "suid", "dev", "exec", "nosuid", "-o", "--config",
                "config", "wipe_all", "Force", "force ", " force", "auth", "",
                "auth.no_user_interaction\n", "move_data", "extent_size", "mountopts",
                "vers,suid", "username\0"[:-1] + "x"]
# an integer option takes any D-Bus integer type whose value fits its own type
# (docs/api.md, "Options"): those are not wrong types
INTEGER_RANGES = {"y": (0, 2**8 - 1), "n": (-2**15, 2**15 - 1), "q": (0, 2**16 - 1),
                  "i": (-2**31, 2**31 - 1), "u": (0, 2**32 - 1), "x": (-2**63, 2**63 - 1),
                  "t": (0, 2**64 - 1)}


def fits(pair: tuple[str, object], wanted: str) -> bool:
    given, value = pair
    if given not in INTEGER_RANGES or wanted not in INTEGER_RANGES:
        return False
    low, high = INTEGER_RANGES[wanted]
    return low <= value <= high


# harmless valid entries, mixed in with the bad one
HARMLESS = {"timeout": ("u", 5), "vers": ("s", "4.2"), "ro": ("b", True),
            "timeo": ("u", 50), "username": ("s", "backup"), "login": ("b", False),
            typed_options.AUTH_KEY: ("b", True)}


def options(method, bad_only=False):
    """{} (or harmless valid entries) or a dict with at least one entry the method
    must refuse; only the latter with `bad_only` (methods that would destroy the
    objects the other calls go to)."""
    table = typed_options.signatures(method)
    unknown = st.one_of(st.sampled_from(UNKNOWN_KEYS), st.text(CHARS, max_size=20)).filter(
        lambda key: key not in table)
    bad_entries = [st.tuples(unknown, st.sampled_from(SIGNATURES))]
    for key, want in table.items():
        bad_entries.append(st.tuples(st.just(key), st.sampled_from(
            [pair for pair in SIGNATURES if pair[0] != want and not fits(pair, want)])))
        if key in OUT_OF_RANGE:
            bad_entries.append(st.tuples(st.just(key), st.sampled_from(OUT_OF_RANGE[key])))
    harmless = {k: v for k, v in HARMLESS.items() if k in table}
    extra = st.dictionaries(st.sampled_from(sorted(harmless)), st.just(None), max_size=2) \
        if harmless else st.just({})

    def build(bad, more):
        given = {k: Variant(*harmless[k]) for k in more}
        key, (sig, value) = bad
        given[key] = Variant(sig, value)
        return given
    bad = tagged(st.builds(build, st.one_of(bad_entries), extra), BAD)
    if bad_only:
        return Arg(bad)
    fine = st.builds(lambda more: {k: Variant(*harmless[k]) for k in more}, extra)
    return Arg(tagged(st.just({}), OK), tagged(fine, OK), bad)


# ---- the daemon, one for the module ----

class Client:
    """Calls on the module's loop; the daemon's log read as it grows."""

    def __init__(self, proc, log, loop, storage) -> None:
        self.proc, self.log, self.loop, self.storage = proc, log, loop, storage
        self._log_at = 0
        self.paths: dict[str, str] = {}

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def objects(self) -> dict:
        return self.run(self.storage.objects())

    def new_log(self) -> str:
        with open(self.log) as handle:
            handle.seek(self._log_at)
            text = handle.read()
            self._log_at = handle.tell()
        return text

    def call(self, path, interface, member, signature, args):
        """(error name or None, reply text or value); no interface field when
        `interface` is None (D-Bus allows that: the member alone picks the method)."""
        if interface is None:
            reply = self.run(self.storage.bus.call(Message(
                destination=NAME, path=path, member=member, signature=signature,
                body=list(args))))
            if reply.error_name:
                return reply.error_name, reply.body[0] if reply.body else ""
            return None, reply.body
        try:
            return None, self.run(self.storage.call(path, interface, member, signature,
                                                    *args))
        except DBusError as error:
            return error.type, error.text

    def find(self, kind: str, **match) -> str:
        return self.run(self.storage.find(kind, **match))


def _wait_for_name(address: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owner = subprocess.run(
            ["busctl", f"--address={address}", "call", "org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", NAME],
            capture_output=True, text=True, timeout=30)
        if owner.stdout.strip() == "b true":
            return
        time.sleep(0.05)
    raise AssertionError(f"{NAME} did not appear on the bus")


@pytest.fixture(scope="module")
def client(system_bus, polkitd, tmp_path_factory):
    log = tmp_path_factory.mktemp("hostile") / "daemon.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "solidice_storage.daemon", "--polkit-timeout", "2",
             "--sim"], env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": system_bus},
            stdout=out, stderr=subprocess.STDOUT)
    loop = asyncio.new_event_loop()
    bus = None
    try:
        _wait_for_name(system_bus)

        async def connect() -> MessageBus:
            return await MessageBus(bus_address=system_bus).connect()
        bus = loop.run_until_complete(connect())
        client = Client(proc, log, loop, Storage(bus))
        _seed(client)
        yield client
    finally:
        if bus is not None:
            bus.disconnect()
            loop.run_until_complete(bus.wait_for_disconnect())
        loop.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if TRIED and os.environ.get("HOSTILE_STATS"):
            print("\nhostile inputs tried (total %d):" % sum(TRIED.values()), file=sys.stderr)
            for label, count in sorted(TRIED.items()):
                print(f"  {label:40} {count:5}  {dict(OUTCOMES.get(label, {}))}",
                      file=sys.stderr)
        output = log.read_text()
        assert status == 0, output
        assert "Traceback" not in output, output


def _seed(client: Client) -> None:
    """The objects the calls go to: the sim's own, a managed VG `hjob` for jobs, and
    `hren` with its LV for renames (their names change; nothing names them)."""
    client.run(client.storage.pool("CreateVolumeGroup", "sasa{sv}", "hjob",
                                   [LUN(3), LUN(4)], {}))
    hren = client.run(client.storage.pool("CreateVolumeGroup", "sasa{sv}", "hren",
                                          [NVME], {}))
    client.paths["hren"] = hren
    client.paths["hlv"] = client.run(client.storage.call(
        hren, "VolumeGroup", "CreateLogicalVolume", "sta{sv}", "hlv", GiB, {}))
    p = client.paths
    p["vg"] = client.find("VolumeGroup", Name="vmstore")
    p["lv"] = client.find("LogicalVolume", Name="templates")
    p["session"] = client.find("IscsiSession", Target=DATA, Portal=PORTALS[0])
    p["mount"] = client.find("Mount", LocalPath="/mnt/iso")
    p["hjob"] = client.find("VolumeGroup", Name="hjob")
    objects = client.objects()
    vg = objects[p["vg"]][iface("VolumeGroup")]
    p["pv"] = vg["PhysicalVolumes"][0]
    client.real = {
        "vg": ["vmstore", vg["Uuid"], p["vg"]],
        "pv": [*vg["PhysicalVolumes"], LUN(1), f"/dev/mapper/{LUN(1)}", LUN(2),
               *[objects[pv][iface("PhysicalVolume")]["Uuid"]
                 for pv in vg["PhysicalVolumes"]]],
        "device": [LUN(1), NVME, "35000c500a1b2c3d4", "pci-0000:00:04.0", "/dev/vda",
                   "/dev/sde", "/dev/nvme0n1", f"/dev/mapper/{LUN(5)}", "naa." + LUN(1)[1:],
                   f"{ROOT}/Lun/{LUN(2)}"],
        "block": ["vmstore/templates", "/dev/vmstore/templates", "sda", "/dev/sda", LUN(1),
                  "/dev/mapper/vmstore-templates", p["lv"], f"{ROOT}/Lun/{LUN(3)}"],
        "target": [DATA, BACKUP],
    }
    client.new_log()


def iface(kind: str) -> str:
    return "org.solidice.Storage." + kind


# ---- the property ----

def check(client: Client, label: str, path: str, interface: str, member: str,
          signature: str, args: list, kind: str, allowed: set[str] | None = None) -> None:
    """The call ends as the contract says; nothing else changed on a failure."""
    TRIED[label] += 1
    before = client.objects()
    error, reply = client.call(path, interface, member, signature, args)
    OUTCOMES[label][(error or "success").rsplit(".", 1)[-1]] += 1
    assert client.proc.poll() is None, "the daemon died"
    log = client.new_log()
    assert "Traceback" not in log and not CRASH_LOGGED.search(log), log
    if error is None:
        assert kind == OK, f"{member}{args!r} was accepted: {reply!r}"
        return
    assert reply and "Traceback" not in reply and 'File "' not in reply, reply
    if allowed is not None:
        assert error in allowed, (error, reply, args)
    elif kind == BAD:
        assert error == ERROR + "InvalidArgument", (error, reply, args)
    else:
        assert error in NAMED, (error, reply, args)
        assert not reply.startswith(INTERNAL_ERROR), reply
    assert client.objects() == before, f"{member}{args!r} failed ({error}) but changed state"


def draw(data, *args: Arg):
    """One argument hostile (or none), the others from what may be valid."""
    choices = [i for i, arg in enumerate(args) if arg.ok is not None]
    hostile = data.draw(st.sampled_from([None, *choices]) if choices else st.none())
    values, kinds = [], []
    for i, arg in enumerate(args):
        value, kind = data.draw(arg.any if arg.ok is None or i == hostile else arg.ok)
        values.append(value)
        kinds.append(kind)
    return values, _worst(kinds)


# (label, interface, member, signature, object, argument strategies (made late:
# they need the host's names))
def _methods():
    vg, lv = "vg", "lv"
    return [
        ("Host.EnumerateLuns", "Host", "EnumerateLuns", "a{sv}", HOST,
         lambda r: [options("EnumerateLuns")]),
        ("Host.EnumerateVolumeGroups", "Host", "EnumerateVolumeGroups", "a{sv}", HOST,
         lambda r: [options("EnumerateVolumeGroups")]),
        ("Host.GetBlockInfo", "Host", "GetBlockInfo", "sa{sv}", HOST,
         lambda r: [references(r["block"] + r["device"]), options("GetBlockInfo")]),
        ("Host.DiscoverIscsiTargets", "Host", "DiscoverIscsiTargets", "sa{sv}", HOST,
         lambda r: [portals(), options("DiscoverIscsiTargets")]),
        ("Host.LoginIscsi", "Host", "LoginIscsi", "ssa{sv}", HOST,
         lambda r: [portals(), targets(r["target"]), options("LoginIscsi")]),
        ("Host.LogoutIscsi", "Host", "LogoutIscsi", "ssa{sv}", HOST,    # never `data`:
         lambda r: [portals(), targets([BACKUP]), options("LogoutIscsi")]),  # keep it
        ("Host.EnumerateIscsiLuns", "Host", "EnumerateIscsiLuns", "ssa{sv}", HOST,
         lambda r: [portals(), targets(r["target"]), options("EnumerateIscsiLuns")]),
        ("Host.Rescan", "Host", "Rescan", "a{sv}", HOST, lambda r: [options("Rescan")]),
        ("StoragePool.CreateVolumeGroup", "StoragePool", "CreateVolumeGroup", "sasa{sv}",
         HOST, lambda r: [vg_names(), device_lists(r["device"]),
                          options("CreateVolumeGroup")]),
        ("StoragePool.RemoveVolumeGroup", "StoragePool", "RemoveVolumeGroup", "sa{sv}",
         HOST, lambda r: [references(r["vg"]), options("RemoveVolumeGroup")]),
        ("StoragePool.MountNfs", "StoragePool", "MountNfs", "sssa{sv}", HOST,
         lambda r: [servers(), remote_paths(), local_paths(), options("MountNfs")]),
        ("StoragePool.Unmount", "StoragePool", "Unmount", "sba{sv}", HOST,   # not /mnt/iso
         lambda r: [local_paths().filter(lambda t: t[0] != "/mnt/iso"),
                    Arg(tagged(st.booleans(), OK)), options("Unmount")]),
        ("VolumeGroup.ListPhysicalVolumes", "VolumeGroup", "ListPhysicalVolumes", "a{sv}",
         vg, lambda r: [options("ListPhysicalVolumes")]),
        ("VolumeGroup.ListLogicalVolumes", "VolumeGroup", "ListLogicalVolumes", "a{sv}",
         vg, lambda r: [options("ListLogicalVolumes")]),
        ("VolumeGroup.Extend", "VolumeGroup", "Extend", "asa{sv}", vg,
         lambda r: [device_lists(r["device"]), options("VolumeGroup.Extend")]),
        ("VolumeGroup.RemovePhysicalVolume", "VolumeGroup", "RemovePhysicalVolume",
         "sa{sv}", vg, lambda r: [references(r["pv"]), options("RemovePhysicalVolume")]),
        ("VolumeGroup.CreateLogicalVolume", "VolumeGroup", "CreateLogicalVolume", "sta{sv}",
         vg, lambda r: [lv_names(), sizes(), options("CreateLogicalVolume")]),
        ("VolumeGroup.Remove", "VolumeGroup", "Remove", "a{sv}", vg,
         lambda r: [options("VolumeGroup.Remove", bad_only=True)]),
        ("LogicalVolume.Extend", "LogicalVolume", "Extend", "ta{sv}", lv,
         lambda r: [sizes(), options("LogicalVolume.Extend")]),
        ("LogicalVolume.Remove", "LogicalVolume", "Remove", "a{sv}", lv,
         lambda r: [options("LogicalVolume.Remove", bad_only=True)]),
        ("LogicalVolume.Snapshot", "LogicalVolume", "Snapshot", "sta{sv}", lv,
         lambda r: [lv_names(), sizes(), options("Snapshot")]),
        ("LogicalVolume.Resize", "LogicalVolume", "Resize", "ta{sv}", lv,
         lambda r: [sizes(), options("LogicalVolume.Resize")]),
        ("LogicalVolume.Rename", "LogicalVolume", "Rename", "sa{sv}", "hlv",
         lambda r: [lv_names(), options("LogicalVolume.Rename")]),
        ("VolumeGroup.Rename", "VolumeGroup", "Rename", "sa{sv}", "hren",
         lambda r: [vg_names(), options("VolumeGroup.Rename")]),
        *((f"{kind}.{member}", kind, member, "asa{sv}", target,
           lambda r, member=member: [tag_lists(), options(member)])
          for kind, target in (("VolumeGroup", vg), ("LogicalVolume", lv),
                               ("PhysicalVolume", "pv"))
          for member in ("AddTags", "RemoveTags")),
        ("LogicalVolume.Activate", "LogicalVolume", "Activate", "a{sv}", lv,
         lambda r: [options("Activate", bad_only=True)]),
        ("LogicalVolume.Deactivate", "LogicalVolume", "Deactivate", "a{sv}", lv,
         lambda r: [options("Deactivate", bad_only=True)]),
        ("IscsiSession.Logout", "IscsiSession", "Logout", "a{sv}", "session",
         lambda r: [options("Logout", bad_only=True)]),
        ("Mount.Unmount", "Mount", "Unmount", "ba{sv}", "mount",
         lambda r: [Arg(tagged(st.booleans(), OK)),
                    options("Unmount", bad_only=True)]),
    ]


METHODS = _methods()


@pytest.mark.parametrize("method", METHODS, ids=[m[0] for m in METHODS])
@SETTINGS
@given(data=st.data())
def test_generated_arguments(client, method, data):
    label, interface, member, signature, target, make = method
    path = client.paths.get(target, target)
    args, kind = draw(data, *make(client.real))
    if data.draw(st.integers(0, 9)) == 0:      # now and then without an interface
        interface = None
    check(client, label, path, interface, member, signature, args, kind)


# Job.Cancel needs a job that runs: a pv-move in `hjob`, started again when it ends.

def _jobs(objects: dict) -> dict[str, dict]:
    return {path: interfaces[iface("Job")] for path, interfaces in objects.items()
            if iface("Job") in interfaces}


def _wait_for_no_jobs(client: Client, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _jobs(client.objects()):
        assert time.monotonic() < deadline, "a job did not end"
        client.run(asyncio.sleep(0.05))


def _running_job(client: Client) -> str:
    """A pv-move with most of its 3 s still to go: the one running, or a new one
    (the PV it emptied put back into `hjob` first)."""
    while True:
        jobs = _jobs(client.objects())
        fresh = [path for path, job in jobs.items() if job["Progress"] < 0.7]
        if fresh:
            return fresh[0]
        if not jobs:
            break
        client.run(asyncio.sleep(0.05))
    objects = client.objects()
    hjob = client.paths["hjob"]
    vg = objects[hjob][iface("VolumeGroup")]
    if len(vg["PhysicalVolumes"]) == 1:       # the last move took one PV out
        lun3 = objects[f"{ROOT}/Lun/{LUN(3)}"][iface("Lun")]
        free = LUN(3) if lun3["PhysicalVolume"] == "/" else LUN(4)
        client.run(client.storage.call(hjob, "VolumeGroup", "Extend", "asa{sv}", [free],
                                       {}))
        vg = client.objects()[hjob][iface("VolumeGroup")]
    if not client.run(client.storage.call(hjob, "VolumeGroup", "ListLogicalVolumes",
                                          "a{sv}", {})):
        client.run(client.storage.call(hjob, "VolumeGroup", "CreateLogicalVolume",
                                       "sta{sv}", "data", 8 * GiB, {}))
    for pv in vg["PhysicalVolumes"]:
        props = client.objects()[pv][iface("PhysicalVolume")]
        if props["FreeSize"] < props["Size"]:
            job = client.run(client.storage.call(hjob, "VolumeGroup", "RemovePhysicalVolume",
                                                 "sa{sv}", pv,
                                                 {"move-data": Variant("b", True)}))
            assert job != "/"
            client.moved.append(pv)
            return job
    raise AssertionError("no PV of hjob holds data")


def _stable(objects: dict) -> dict:
    """The tree without the progress of running jobs (it moves on by itself)."""
    out = {}
    for path, interfaces in objects.items():
        out[path] = {name: ({k: v for k, v in props.items() if k != "Progress"}
                            if name == iface("Job") else props)
                     for name, props in interfaces.items()}
    return out


def test_job_cancel(client):
    client.moved = []

    @SETTINGS
    @given(opts=options("Cancel", bad_only=True).any)
    def cancel(opts):
        job = _running_job(client)
        TRIED["Job.Cancel"] += 1
        before = _stable(client.objects())
        error, reply = client.call(job, "Job", "Cancel", "a{sv}", [opts[0]])
        OUTCOMES["Job.Cancel"][(error or "success").rsplit(".", 1)[-1]] += 1
        assert client.proc.poll() is None
        log = client.new_log()
        assert "Traceback" not in log and not CRASH_LOGGED.search(log), log
        assert error == ERROR + "InvalidArgument", (error, reply, opts)
        assert "Traceback" not in reply
        after = client.objects()
        if job in after:             # still running (not done meanwhile)
            assert _stable(after) == before

    cancel()
    _wait_for_no_jobs(client)
    # no move was cancelled: each took its PV out of the VG
    assert client.moved
    vg = client.objects()[client.paths["hjob"]][iface("VolumeGroup")]
    assert client.moved[-1] not in vg["PhysicalVolumes"]


# The standard interfaces on our objects: Properties with hostile names.

NAMES = st.one_of(st.sampled_from(["", "org.solidice.Storage.Nothing", "Name", "Size",
                                   "org.freedesktop.DBus.Properties", "..", "\u2028"]),
                  st.text(CHARS, max_size=40), bad_text(st.just("Name")))
IFACES = st.sampled_from(["org.solidice.Storage." + k for k in (
    "Host", "StoragePool", "VolumeGroup", "LogicalVolume", "PhysicalVolume", "Lun",
    "IscsiSession", "Mount", "Job")])


@SETTINGS
@given(data=st.data())
def test_properties(client, data):
    path = data.draw(st.sampled_from(sorted(client.objects())))
    member, signature, args = data.draw(st.one_of(
        st.tuples(st.just("Get"), st.just("ss"), st.tuples(st.one_of(IFACES, NAMES),
                                                           NAMES).map(list)),
        st.tuples(st.just("GetAll"), st.just("s"), NAMES.map(lambda n: [n])),
        st.tuples(st.just("Set"), st.just("ssv"), st.tuples(
            st.one_of(IFACES, NAMES), st.one_of(NAMES, st.sampled_from(["Name", "Size"])),
            st.sampled_from(SIGNATURES).map(lambda p: Variant(*p))).map(list))))
    TRIED["Properties." + member] += 1
    before = client.objects()
    error, reply = client.call(path, "org.freedesktop.DBus.Properties", member, signature,
                               args)
    OUTCOMES["Properties." + member][(error or "success").rsplit(".", 1)[-1]] += 1
    assert client.proc.poll() is None
    assert "Traceback" not in client.new_log()
    if error is not None:
        assert error.startswith(DBUS_ERROR), (error, reply)
    else:
        assert member != "Set", "a property was set"
    assert client.objects() == before


# Calls to objects that are not there, and with the wrong signature.

BODIES = {"a{sv}": [{}], "sa{sv}": ["x", {}], "ssa{sv}": ["x", "y", {}],
          "sasa{sv}": ["x", ["y"], {}], "sssa{sv}": ["x", "/y", "/z", {}],
          "sba{sv}": ["/x", False, {}], "asa{sv}": [["x"], {}], "sta{sv}": ["x", 1, {}],
          "ta{sv}": [1, {}], "ba{sv}": [False, {}]}

@SETTINGS
@given(data=st.data())
def test_missing_objects_and_wrong_signatures(client, data):
    label, interface, member, signature, target, _ = data.draw(st.sampled_from(METHODS))
    wrong = data.draw(st.sampled_from(["", "s", "a{sv}", "ss", "as", "t", "sta{sv}", "i",
                                       "a{ss}", "v"]).filter(lambda s: s != signature))
    body = {"": [], "s": ["vmstore"], "a{sv}": [{}], "ss": ["a", "b"], "as": [["a"]],
            "t": [1], "sta{sv}": ["a", 1, {}], "i": [-1], "a{ss}": [{"a": "b"}],
            "v": [Variant("s", "x")]}[wrong]
    missing = data.draw(junk_paths().filter(lambda p: p not in client.objects()))
    TRIED["missing object / wrong signature"] += 2
    before = client.objects()
    error, reply = client.call(missing, interface, member, signature, BODIES[signature])
    assert error in (DBUS_ERROR + "UnknownObject", DBUS_ERROR + "UnknownMethod",
                     DBUS_ERROR + "InvalidArgs"), (error, reply)
    path = client.paths.get(target, target)
    error, reply = client.call(path, interface, member, wrong, body)
    assert error in (DBUS_ERROR + "InvalidArgs", DBUS_ERROR + "UnknownMethod",
                     DBUS_ERROR + "InvalidSignature"), (error, reply)
    assert client.proc.poll() is None
    assert "Traceback" not in client.new_log()
    assert client.objects() == before


# What the bus itself refuses: a NUL or bad UTF-8 in a string never reaches the
# daemon (the bus drops the sender); the daemon stays up and nothing changes.

@pytest.mark.parametrize("poison", [b"\0", b"\xff", b"\xed\xa0\x80"],
                         ids=["nul", "bad-utf8", "surrogate"])
def test_strings_the_bus_refuses(client, system_bus, poison):
    before = client.objects()
    marker = "vg" + "Q" * len(poison) + "x"

    async def send() -> tuple[Message | None, bool]:
        bus = await MessageBus(bus_address=system_bus).connect()
        try:
            call = Message(destination=NAME, path=HOST, interface=IFACE_POOL,
                           member="CreateVolumeGroup", signature="sasa{sv}",
                           body=[marker, [LUN(5)], {}], serial=bus.next_serial())
            wire = bytes(call._marshall(False))
            wire = wire.replace(("Q" * len(poison)).encode(), poison, 1)
            reply = asyncio.get_running_loop().create_future()
            bus._method_return_handlers[call.serial] = \
                lambda message, error: reply.done() or reply.set_result(message)
            bus._sock.send(wire)
            try:
                answer = await asyncio.wait_for(reply, 5)
            except asyncio.TimeoutError:
                answer = None
            await asyncio.sleep(0.1)
            return answer, bus.connected
        finally:
            bus.disconnect()
            try:
                await bus.wait_for_disconnect()
            except Exception:       # the bus dropped us: that is the point
                pass
    TRIED["raw strings the bus refuses"] += 1
    reply, connected = client.run(send())
    # the bus drops the sender of a malformed message: no reply, no connection
    assert reply is None and not connected, reply
    assert client.proc.poll() is None
    assert "Traceback" not in client.new_log()
    assert client.objects() == before


IFACE_POOL = "org.solidice.Storage.StoragePool"


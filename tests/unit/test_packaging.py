# SPDX-License-Identifier: LGPL-2.1-or-later
"""The unit, activation and bus policy files say what the design needs."""

import configparser
import xml.etree.ElementTree as ET
import sys
from importlib.machinery import PathFinder
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(TOP / "systemd/solidice-storaged.service")
    return parser


def test_unit_is_a_dbus_service_wanted_at_boot_after_its_dependencies():
    service = unit()
    assert service["Service"]["Type"] == "dbus"
    assert service["Service"]["BusName"] == "org.solidice.Storage"
    assert service["Install"]["WantedBy"] == "multi-user.target"
    after = (TOP / "systemd/solidice-storaged.service").read_text()
    for dependency in ("multipathd.service", "iscsid.service", "network-online.target"):
        assert dependency in after


def test_unit_has_no_mount_namespace_sandboxing():
    keys = {line.split("=")[0].strip() for line in
            (TOP / "systemd/solidice-storaged.service").read_text().splitlines()
            if "=" in line and not line.lstrip().startswith("#")}
    forbidden = {"ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                 "PrivateMounts", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths",
                 "TemporaryFileSystem", "BindPaths", "MountFlags", "RootDirectory"}
    assert not keys & forbidden


def test_activation_file_points_at_the_unit():
    service = configparser.ConfigParser(interpolation=None)
    service.optionxform = str
    service.read(TOP / "dbus-conf/org.solidice.Storage.service")
    section = service["D-BUS Service"]
    assert section["Name"] == "org.solidice.Storage"
    assert section["SystemdService"] == "solidice-storaged.service"
    assert section["User"] == "root"


def test_bus_policy_lets_only_root_own_and_anyone_call():
    root = ET.parse(TOP / "dbus-conf/org.solidice.Storage.conf").getroot()
    policies = {(p.get("user"), p.get("context")): p for p in root.iter("policy")}
    assert policies[("root", None)].find("allow").get("own") == "org.solidice.Storage"
    default = policies[(None, "default")]
    assert {"own": "org.solidice.Storage"} in [dict(d.attrib) for d in default.iter("deny")]
    assert {"send_destination": "org.solidice.Storage"} in \
        [dict(a.attrib) for a in default.iter("allow")]


def _import_name(path: Path) -> str:
    """The name pytest imports a test file as: its basename, under the packages of
    the directories above it that have an __init__.py."""
    parts = [path.stem]
    parent = path.parent
    while (parent / "__init__.py").exists():
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts)


def test_no_two_test_modules_share_a_name_across_the_fast_tiers():
    """`make check` collects tests/unit and tests/dbus in one pytest run (rootdir
    imports by basename, or by package for a directory with an __init__.py): two
    files of one import name stop it at collection, and a test package must not
    take the name of a module the code imports."""
    tests = Path(__file__).parents[1]
    files = [path for tier in ("unit", "dbus") for path in (tests / tier).rglob("test_*.py")]
    names = [_import_name(path) for path in files]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
    packages = {name.split(".")[0] for name in names if "." in name}
    outside = [entry for entry in sys.path if not entry.startswith(str(tests))]
    taken = {name for name in packages
             if name in sys.builtin_module_names or PathFinder.find_spec(name, outside)}
    assert taken == set()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/rules.py: the NFS option string and WWID spellings both engines use."""

import pytest

from solidice_storage import validation  # noqa: F401  (before options.py: they import each other)
from solidice_storage import options
from solidice_storage.engine.rules import nfs_mount_options, resize_extents, wwid_candidates
from solidice_storage.errors import Busy, InvalidArgument, NotSupported
from solidice_storage.models import LogicalVolume
from solidice_storage.options import MountNfsOptions, ResizeLogicalVolumeOptions


def mount_options(**given):
    """nfs_mount_options of options checked the way the bus layer checks them."""
    signatures = options.signatures("MountNfs")
    return nfs_mount_options(options.parse(
        "MountNfs", {key.replace("_", "-"): (signatures[key.replace("_", "-")], value)
                     for key, value in given.items()}))


def test_defaults():
    assert mount_options() == "nosuid,nodev,rw,soft,timeo=100,retrans=3,retry=1"


@pytest.mark.parametrize("given", [
    pytest.param({}, id="defaults"),
    pytest.param({"hard": True, "ro": True, "vers": "3"}, id="hard-ro"),
    pytest.param({"sec": "krb5p", "proto": "rdma", "port": 20049}, id="all-strings"),
])
def test_always_starts_nosuid_nodev(given):
    assert mount_options(**given).split(",")[:2] == ["nosuid", "nodev"]


@pytest.mark.parametrize("given,present,absent", [
    pytest.param({"hard": True}, "hard", "soft", id="hard"),
    pytest.param({"hard": False}, "soft", "hard", id="hard-false"),
    pytest.param({"ro": True}, "ro", "rw", id="ro"),
    pytest.param({"ro": False}, "rw", "ro", id="ro-false"),
    pytest.param({"nolock": True}, "nolock", "lock", id="nolock"),
])
def test_flags(given, present, absent):
    parts = mount_options(**given).split(",")
    assert present in parts
    assert absent not in parts


@pytest.mark.parametrize("key,value", [
    pytest.param("vers", "4.1", id="vers"),
    pytest.param("proto", "tcp", id="proto"),
    pytest.param("port", 2049, id="port"),
    pytest.param("sec", "krb5i", id="sec"),
    pytest.param("rsize", 65536, id="rsize"),
    pytest.param("wsize", 131072, id="wsize"),
    pytest.param("timeo", 600, id="timeo"),
    pytest.param("retrans", 6, id="retrans"),
    pytest.param("retry", 0, id="retry"),
])
def test_given_keys_are_included(key, value):
    parts = mount_options(**{key: value}).split(",")
    assert f"{key}={value}" in parts
    assert sum(part.startswith(key + "=") for part in parts) == 1


@pytest.mark.parametrize("key", ["persistent", "create_mountpoint", "timeout"])
def test_service_options_are_not_mount_options(key):
    value = 30 if key == "timeout" else True
    assert mount_options(**{key: value}) == mount_options()


def test_no_suid_exec_or_dev_whatever_is_given():
    parts = mount_options(vers="4.2", proto="tcp", sec="sys", port=2049, hard=True,
                          ro=False, nolock=True, rsize=4096, wsize=4096).split(",")
    assert not {"suid", "exec", "dev"} & set(parts)


@pytest.mark.parametrize("key,value", [
    pytest.param("vers", "4,suid", id="vers"),
    pytest.param("proto", "tcp,exec", id="proto"),
    pytest.param("sec", "sys,suid,dev", id="sec"),
])
def test_a_comma_cannot_smuggle_options_in(key, value):
    # values are typed and checked before they reach the option string
    with pytest.raises(InvalidArgument, match="must be one of"):
        mount_options(**{key: value})


# ---- WWID spellings ----

@pytest.mark.parametrize("ref,expected", [
    pytest.param("36001405abcdef", ["36001405abcdef"], id="scsi-id-form"),
    pytest.param("naa.6001405abcdef",
                 ["naa.6001405abcdef", "naa.6001405abcdef", "36001405abcdef"],
                 id="naa"),
    pytest.param("NAA.6001405ABCDEF",
                 ["NAA.6001405ABCDEF", "naa.6001405abcdef", "36001405abcdef"],
                 id="naa-uppercase"),
    pytest.param("0x6001405abcdef",
                 ["0x6001405abcdef", "0x6001405abcdef", "36001405abcdef"], id="0x"),
    pytest.param("eui.0025388b91c2d3e4",
                 ["eui.0025388b91c2d3e4", "eui.0025388b91c2d3e4", "20025388b91c2d3e4"],
                 id="eui"),
    pytest.param("/dev/sda", ["/dev/sda"], id="device-node"),
])
def test_wwid_candidates(ref, expected):
    assert wwid_candidates(ref) == expected


def test_wwid_candidates_always_include_the_reference_first():
    assert wwid_candidates("whatever")[0] == "whatever"


def test_mount_options_take_the_defaults_they_are_given():
    from solidice_storage.config import NfsDefaults
    defaults = NfsDefaults(timeo=600, retrans=6, retry=2, hard=True, mount_timeout=10)
    assert nfs_mount_options(MountNfsOptions(), defaults) == \
        "nosuid,nodev,rw,hard,timeo=600,retrans=6,retry=2"
    assert nfs_mount_options(MountNfsOptions(hard=False, retrans=1), defaults) == \
        "nosuid,nodev,rw,soft,timeo=600,retrans=1,retry=2"
    assert nfs_mount_options(MountNfsOptions()) == \
        "nosuid,nodev,rw,soft,timeo=100,retrans=3,retry=1"


MiB = 1 << 20


def _lv(attributes: str, size: int = 8 * MiB) -> LogicalVolume:
    return LogicalVolume(uuid="u", name="lv", volume_group="vg", size=size, path="/dev/vg/lv",
                         active=attributes[4] == "a", attributes=attributes)


@pytest.mark.parametrize("attributes, size, shrink, wanted", [
    ("-wi-a-----", 8 * MiB, False, None),             # the same size: nothing to do
    ("-wi-a-----", 8 * MiB - 1, True, None),          # rounded up to the same extents
    ("-wi-a-----", 9 * MiB, False, 3),                # up to whole extents
    ("-wi-ao----", 4 * MiB, True, 1),                 # open: the engine's question
    ("swi-a-s---", 12 * MiB, False, 3),               # a snapshot's space for changes
    ("owi---s---", 12 * MiB, False, 3),               # an inactive origin grows
])
def test_resize_extents(attributes, size, shrink, wanted):
    opts = ResizeLogicalVolumeOptions(shrink=shrink)
    assert resize_extents(_lv(attributes), size, 4 * MiB, opts) == wanted


@pytest.mark.parametrize("attributes, size, opts, error, words", [
    ("-wi-a-----", 4 * MiB, {}, InvalidArgument, "shrink=true"),
    ("-wi-a-----", 12 * MiB, {"expected_size": 4 * MiB}, InvalidArgument, "expected"),
    ("-wi-a-----", 2**63, {}, InvalidArgument, "8 EiB"),
    ("owi-a-s---", 12 * MiB, {}, Busy, "inactive"),
    ("owi---s---", 4 * MiB, {"shrink": True}, NotSupported, "origin"),
    ("Vwi-a-tz--", 12 * MiB, {}, NotSupported, "thin logical volume"),
    ("twi-a-tz--", 12 * MiB, {}, NotSupported, "thin pool"),
    ("rwi-a-r---", 12 * MiB, {}, NotSupported, "RAID"),
])
def test_resize_extents_refuses(attributes, size, opts, error, words):
    with pytest.raises(error, match=words):
        resize_extents(_lv(attributes), size, 4 * MiB, ResizeLogicalVolumeOptions(**opts))

# SPDX-License-Identifier: LGPL-2.1-or-later
"""validation.py: every argument a caller can send, checked once for both engines."""

import pytest

from solidice_storage import validation
from solidice_storage.errors import InvalidArgument


def param(value, *rest, id):
    return pytest.param(value, *rest, id=id)


# ---- LVM names ----

VALID_NAMES = [
    param("vg0", id="plain"),
    param("a+b_c.d-e", id="every-allowed-punctuation"),
    param("x" * 127, id="127-chars"),
    param("_x", id="leading-underscore"),
    param("...", id="three-dots"),
]

INVALID_NAMES = [
    param("", "empty", id="empty"),
    param("-vg", "'-'", id="leading-dash"),
    param(".", "not valid", id="dot"),
    param("..", "not valid", id="dotdot"),
    param("vg/x", "not valid", id="slash"),
    param("vg x", "not valid", id="space"),
    param("vg\nx", "control", id="newline"),
    param("vg\0x", "control", id="nul"),
    param("vgé", "not valid", id="unicode"),
    param("x" * 128, "127", id="128-chars"),
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_vg_name_accepts(name):
    assert validation.vg_name(name) == name


@pytest.mark.parametrize("name", VALID_NAMES)
def test_lv_name_accepts(name):
    assert validation.lv_name(name) == name


@pytest.mark.parametrize("name,word", INVALID_NAMES)
def test_vg_name_rejects(name, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.vg_name(name)
    assert "volume group name" in str(info.value)


@pytest.mark.parametrize("name,word", INVALID_NAMES + [
    param("snapshot1", "reserves", id="snapshot-prefix"),
    param("pvmove0", "reserves", id="pvmove-prefix"),
    param("x_tmeta", "_tmeta", id="tmeta-part"),
    param("x_rimage_0", "_rimage", id="rimage-part"),
    param("a_cdata", "_cdata", id="cdata-part"),
])
def test_lv_name_rejects(name, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.lv_name(name)
    assert "logical volume name" in str(info.value)


def test_lv_reserved_names_are_fine_for_volume_groups():
    assert validation.vg_name("snapshot1") == "snapshot1"


@pytest.mark.parametrize("value", [42, b"vg0", None], ids=["int", "bytes", "none"])
def test_name_must_be_a_string(value):
    with pytest.raises(InvalidArgument, match="string"):
        validation.vg_name(value)


# ---- sizes ----

@pytest.mark.parametrize("value", [
    param(1, id="one"),
    param(4096, id="4k"),
    param(2**63 - 1, id="lvm-max"),
])
def test_size_accepts(value):
    assert validation.size(value) == value


@pytest.mark.parametrize("value,word", [
    param(0, "more than 0", id="zero"),
    param(-1, "more than 0", id="negative"),
    param(True, "number", id="bool"),
    param(1.5, "number", id="float"),
    param("1", "number", id="string"),
    param(2**63, "8 EiB", id="2^63"),
    param(2**64 - 1, "8 EiB", id="dbus-t-max"),
])
def test_size_rejects(value, word):
    with pytest.raises(InvalidArgument, match=word):
        validation.size(value)


def test_size_names_the_argument():
    with pytest.raises(InvalidArgument, match="expected-size"):
        validation.size(0, "expected-size")


@pytest.mark.parametrize("value", [4096, 4 * 1024**2, 2**34],
                         ids=["4KiB", "4MiB", "16GiB"])
def test_extent_size_accepts(value):
    assert validation.extent_size(value) == value


@pytest.mark.parametrize("value,word", [
    param(0, "more than 0", id="zero"),
    param(2048, "power of two", id="below-4KiB"),
    param(4095, "power of two", id="4095"),
    param(3 * 4096, "power of two", id="not-power-of-two"),
    param(2**35, "power of two", id="above-16GiB"),
    param(True, "number", id="bool"),
])
def test_extent_size_rejects(value, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.extent_size(value)
    assert "extent-size" in str(info.value)


# ---- references and device lists ----

@pytest.mark.parametrize("value", [
    param("vmstore", id="name"),
    param("vmstore/lv-1", id="vg-lv"),
    param("/dev/mapper/36001405abc", id="dev-path"),
    param("/org/solidice/Storage/VolumeGroup/abc", id="object-path"),
    param("a-b", id="inner-dash"),
])
def test_reference_accepts(value):
    assert validation.reference(value, "volume group") == value


@pytest.mark.parametrize("value,word", [
    param("-vg", "'-'", id="leading-dash"),
    param("--config=x", "'-'", id="option-injection"),
    param("vg\n", "control", id="newline"),
    param("vg\x7f", "control", id="del"),
    param("vg\x1b[0m", "control", id="escape"),
    param("", "empty", id="empty"),
    param("x" * 4097, "longer", id="too-long"),
])
def test_reference_rejects(value, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.reference(value, "volume group")
    assert "volume group" in str(info.value)


@pytest.mark.parametrize("value", [
    param("/dev/../etc/passwd", id="dotdot-out-of-dev"),
    param("/dev/../mnt/nfs/x", id="dotdot-into-a-mount"),
    param("/dev/disk/by-id/../../../proc/1/mem", id="dotdot-deep"),
    param("/dev/./sda", id="dot-component"),
    param("/dev//sda", id="double-slash"),
    param("//dev/sda", id="leading-double-slash"),
    param("/dev/mapper/", id="trailing-slash"),
    param("/dev/", id="dev-itself"),
    param("/dev", id="dev-without-slash"),
    param("/etc/passwd", id="outside-dev"),
    param("/mnt/fuse/x", id="a-fuse-mount"),
    param("/", id="root"),
])
def test_reference_refuses_filesystem_paths_outside_dev(value):
    with pytest.raises(InvalidArgument, match="under /dev") as info:
        validation.reference(value, "name or UUID")
    assert "name or UUID" in str(info.value)


@pytest.mark.parametrize("value", [
    param("/dev/sda", id="kernel-node"),
    param("/dev/mapper/36001405abc", id="map-node"),
    param("/dev/disk/by-id/wwn-0x6001405abc", id="udev-link"),
    param("/dev/vmstore/lv-1", id="vg-lv-node"),
    param("/dev/mapper/a..b", id="dots-inside-a-name"),
])
def test_reference_accepts_normalized_dev_paths(value):
    assert validation.reference(value, "device") == value


UUID = "Fwx8ij-Jkde-xft9-I7a2-I40o-4zPu-V5ViaD"


@pytest.mark.parametrize("name", [
    param(UUID, id="dashed"),
    param(UUID.replace("-", ""), id="undashed"),
    param(UUID.lower(), id="lowercase"),
])
@pytest.mark.parametrize("check", [validation.vg_name, validation.lv_name],
                         ids=["vg", "lv"])
def test_names_shaped_like_an_lvm_uuid_are_refused(check, name):
    with pytest.raises(InvalidArgument, match="LVM UUID"):
        check(name)


@pytest.mark.parametrize("name", [
    param(UUID[:-1], id="one-short"),
    param(UUID + "x", id="one-long"),
    param(UUID.replace("-", "_"), id="underscores"),
    param("x" * 31, id="31-letters"),
    param("x" * 33, id="33-letters"),
])
def test_names_near_the_uuid_shape_are_fine(name):
    assert validation.vg_name(name) == name
    assert validation.is_lvm_uuid(name) is False


def test_the_uuid_shape_is_what_the_resolver_takes_as_a_uuid():
    assert validation.is_lvm_uuid(UUID) and validation.is_lvm_uuid(UUID.replace("-", ""))
    assert validation.lvm_uuid(UUID.replace("-", "")) == UUID


def test_devices_accepts_a_list():
    assert validation.devices(["/dev/sda", "36001405x"]) == ["/dev/sda", "36001405x"]


@pytest.mark.parametrize("values,word", [
    param([], "empty", id="empty"),
    param(["/dev/sda", "/dev/sda"], "twice", id="duplicate"),
    param(["/dev/sda", "--force"], "'-'", id="bad-member"),
])
def test_devices_rejects(values, word):
    with pytest.raises(InvalidArgument, match=word):
        validation.devices(values)


# ---- local paths (mount points) ----

# (where mount points may be: tests/unit/test_mount_points.py)
@pytest.mark.parametrize("value", [
    param("/mnt/x", id="below-mnt"),
    param("/srv/nfs/a", id="below-srv"),
])
def test_local_path_accepts(value):
    assert validation.local_path(value) == value


@pytest.mark.parametrize("value,word", [
    param("mnt/x", "absolute", id="relative"),
    param("/mnt/../etc", "normalized", id="dotdot"),
    param("/mnt/./x", "normalized", id="dot"),
    param("//x", "normalized", id="double-slash"),
    param("/mnt//x", "normalized", id="inner-double-slash"),
    param("/mnt/x/", "normalized", id="trailing-slash"),
    param("/", "allowed", id="root"),
    param("/etc", "system", id="etc"),
    param("/etc/x", "system", id="below-etc"),
    param("/usr/local/x", "system", id="below-usr"),
    param("/proc/1", "system", id="below-proc"),
    param("/var", "allowed", id="var"),
    param("/var/lib", "allowed", id="var-lib"),
    param("/var/lib/solidice-storage/x", "system", id="own-state"),
    # /var/run is a symlink to /run on every current distribution: mounting on it
    # hides /run, which the table refuses by its own name.
    param("/var/run", "system", id="var-run-symlink"),
    param("/mnt/x\n", "control", id="newline"),
    param("", "empty", id="empty"),
])
def test_local_path_rejects(value, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.local_path(value)
    assert "local path" in str(info.value)


def test_local_path_suggests_the_normal_form():
    with pytest.raises(InvalidArgument, match="did you mean '/mnt/x'"):
        validation.local_path("/mnt/x/")


# ---- hosts, remote paths, portals ----

@pytest.mark.parametrize("value", [
    param("nfs.example.com", id="hostname"),
    param("nfs", id="single-label"),
    param("nfs.example.com.", id="fqdn-dot"),
    param("a-b.example", id="inner-dash"),
    param("192.0.2.1", id="ipv4"),
    param("[::1]", id="ipv6-brackets"),
    param("[2001:db8::1]", id="ipv6-doc"),
])
def test_host_accepts(value):
    assert validation.host(value) == value


@pytest.mark.parametrize("value,word", [
    param("::1", "brackets", id="bare-ipv6"),
    param("[::1", "']'", id="unclosed-bracket"),
    param("[nope]", "IPv6", id="bracketed-non-ipv6"),
    param("-bad", "hostname", id="leading-dash"),
    param("bad-.example", "hostname", id="label-ends-dash"),
    param("a..b", "hostname", id="empty-label"),
    param("bad_host", "hostname", id="underscore"),
    param("a,b", "hostname", id="comma"),
    param("a b", "hostname", id="space"),
    param("x" * 64 + ".example", "hostname", id="label-64-chars"),
    param("x" * 256, "255", id="too-long"),
    param("", "empty", id="empty"),
    # a scope id is free text to ipaddress; commas and spaces must not ride in on it
    param("[fe80::1%eth0,ro]", "server", id="ipv6-scope-comma"),
    param("[fe80::1%a b]", "server", id="ipv6-scope-space"),
])
def test_host_rejects(value, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.host(value)
    assert "server" in str(info.value)


@pytest.mark.parametrize("value", ["/", "/export", "/export/vm-images"],
                         ids=["root", "export", "nested"])
def test_remote_path_accepts(value):
    assert validation.remote_path(value) == value


@pytest.mark.parametrize("value,word", [
    param("export", "absolute", id="relative"),
    param("/export/", "normalized", id="trailing-slash"),
    param("/export/../etc", "normalized", id="dotdot"),
    param("/export\n", "control", id="newline"),
    param("", "empty", id="empty"),
])
def test_remote_path_rejects(value, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.remote_path(value)
    assert "remote path" in str(info.value)


@pytest.mark.parametrize("value,canonical", [
    param("192.0.2.1", "192.0.2.1:3260", id="default-port"),
    param("192.0.2.1:3261", "192.0.2.1:3261", id="ipv4-port"),
    param("target.example", "target.example:3260", id="hostname"),
    param("[::1]", "[::1]:3260", id="ipv6-default-port"),
    param("[::1]:3261", "[::1]:3261", id="ipv6-port"),
    param("host:03260", "host:3260", id="leading-zero"),
])
def test_portal_canonical_form(value, canonical):
    assert validation.portal(value) == canonical


@pytest.mark.parametrize("value,word", [
    param("host:0", "port", id="port-0"),
    param("host:65536", "port", id="port-65536"),
    param("host:99999", "port", id="port-99999"),
    param("host:x", "port", id="port-not-number"),
    param("host:-1", "port", id="port-negative"),
    param("a:b:c", "portal", id="two-colons"),
    param("[::1]x", "host\\[:port\\]", id="junk-after-bracket"),
    param("bad_host:3260", "portal", id="bad-host"),
    param("", "empty", id="empty"),
    # str.isdigit() is true for superscripts, which int() refuses: this must be
    # InvalidArgument, not a ValueError the bus layer reports as an internal error
    param("host:\u00b2", "port", id="port-superscript-digit"),
])
def test_portal_rejects(value, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        validation.portal(value)
    assert "portal" in str(info.value)


# ---- iSCSI names ----

@pytest.mark.parametrize("value", [
    param("iqn.2003-01.org.linux-iscsi.sim.example:data", id="iqn"),
    param("iqn.1993-08.org.debian", id="iqn-no-suffix"),
    param("eui.0123456789ABCDEF", id="eui"),
    param("naa.52004567BA64678D", id="naa-16"),
    param("naa.6001405d0e1f2a3b4c5d6e7f80910001", id="naa-32"),
])
def test_iscsi_target_accepts(value):
    assert validation.iscsi_target(value) == value


@pytest.mark.parametrize("value", [
    param("target0", id="no-prefix"),
    param("iqn.03-01.org.x:a", id="short-year"),
    param("iqn.2003-01.ORG.x:a", id="uppercase-domain"),
    param("iqn.2003-01.org.x:a b", id="space"),
    param("iqn.2003-01.org.x:a,b", id="comma"),
    param("eui.0123", id="short-eui"),
    param("naa.0123456789abcdef0", id="naa-17"),
    param("-iqn.2003-01.org.x", id="leading-dash"),
])
def test_iscsi_target_rejects(value):
    with pytest.raises(InvalidArgument, match="iSCSI name"):
        validation.iscsi_target(value)


def test_iscsi_target_length_limit():
    with pytest.raises(InvalidArgument, match="223"):
        validation.iscsi_target("iqn.2003-01.org.x:" + "a" * 210)


# ---- LVM tags (lib/misc/lvm-string.c, validate_tag) ----

@pytest.mark.parametrize("tag", ["site=paris", "backup/daily", "a.b_c+d-e", "x:y&z#1!",
                                 "A9", "t" * 1024, "org.solidice.storage.other"])
def test_tag_accepts(tag):
    assert validation.tag(tag) == tag


@pytest.mark.parametrize("tag, word", [
    param("", "empty", id="empty"),
    param("-x", "'-'", id="leading-dash"),
    param("--addtag", "'-'", id="an-option"),
    param("@x", "not valid", id="at-sign: LVM strips it"),
    param("a,b", "not valid", id="comma: the report's separator"),
    param("a b", "not valid", id="space"),
    param("a\nb", "control", id="newline"),
    param("a\u2028b", "line break", id="line-separator"),
    param("a\0b", "control", id="nul"),
    param("café", "not valid", id="non-ascii-letter"),
    param("٣", "not valid", id="non-ascii-digit"),
    param("a$b", "not valid", id="dollar"),
    param("a'b", "not valid", id="quote"),
    param("t" * 1025, "1024", id="1025-chars"),
])
def test_tag_rejects(tag, word):
    with pytest.raises(InvalidArgument, match=word):
        validation.tag(tag)


def test_tags_a_list_of_one_to_64_without_twice_nor_the_reserved_one():
    assert validation.tags(["b", "a"], "own") == ["b", "a"]
    assert len(validation.tags([f"t{i}" for i in range(64)], "own")) == 64
    for values, word in (([], "empty"), ([f"t{i}" for i in range(65)], "64"),
                         (["a", "a"], "twice"), (["a", "own"], "service's own"),
                         ("ab", "empty"), (["a", 1], "string")):
        with pytest.raises(InvalidArgument, match=word):
            validation.tags(values, "own")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""options.py: every method's a{sv} options as a frozen dataclass, checked once."""

import pytest
from pytest import param

from solidice_storage import options
from solidice_storage.errors import InvalidArgument


def test_options_unknown_key_is_named():
    with pytest.raises(InvalidArgument, match="'wipe'") as info:
        options.parse("CreateLogicalVolume", {"wipe": ("b", True)})
    assert "unknown option" in str(info.value)


def test_options_unknown_key_lists_the_known_ones():
    with pytest.raises(InvalidArgument, match="activate"):
        options.parse("CreateLogicalVolume", {"nope": ("b", True)})


@pytest.mark.parametrize("method,key,signature,value", [
    param("CreateVolumeGroup", "wipe", "s", "true", id="wipe-as-s"),
    param("CreateVolumeGroup", "wipe", "u", 1, id="wipe-as-u"),
    param("CreateVolumeGroup", "extent-size", "s", "4096", id="extent-size-as-s"),
    param("CreateVolumeGroup", "extent-size", "b", True, id="extent-size-as-b"),
    param("CreateVolumeGroup", "extent-size", "d", 4096.0, id="extent-size-as-d"),
    param("MountNfs", "timeo", "h", 3, id="timeo-as-fd"),
    param("EnumerateLuns", options.AUTH_KEY, "s", "true", id="auth-as-s"),
])
def test_options_wrong_signature(method, key, signature, value):
    with pytest.raises(InvalidArgument, match="type") as info:
        options.parse(method, {key: (signature, value)})
    assert repr(key) in str(info.value)


# gdbus, GJS and most dynamic bindings send a bare integer as int32 (`i`): an integer
# of any D-Bus integer type is taken for an integer option when its value fits the
# option's documented type
@pytest.mark.parametrize("method,key,signature,value,name", [
    param("MountNfs", "timeout", "i", 5, "timeout", id="u-as-i"),
    param("MountNfs", "timeo", "t", 100, "timeo", id="u-as-t"),
    param("MountNfs", "retrans", "y", 2, "retrans", id="u-as-y"),
    param("MountNfs", "port", "i", 2049, "port", id="q-as-i"),
    param("MountNfs", "port", "u", 65535, "port", id="q-as-u-top"),
    param("CreateVolumeGroup", "extent-size", "i", 4 * 1024**2, "extent_size",
          id="t-as-i"),
    param("CreateVolumeGroup", "extent-size", "u", 4096, "extent_size", id="t-as-u"),
    param("LogicalVolume.Extend", "expected-size", "x", 2**40, "expected_size",
          id="t-as-x"),
    param("LoginIscsi", "timeout", "n", 30, "timeout", id="u-as-n"),
    param("DiscoverIscsiTargets", "timeout", "q", 30, "timeout", id="u-as-q"),
])
def test_options_integer_of_another_type_that_fits(method, key, signature, value, name):
    checked = options.parse(method, {key: (signature, value)})
    assert getattr(checked, name) == value
    assert type(getattr(checked, name)) is int
    assert checked.record() == {key: value}     # kept as the documented type would be


@pytest.mark.parametrize("method,key,signature,value", [
    param("MountNfs", "timeout", "i", -5, id="u-as-negative-i"),
    param("MountNfs", "timeout", "x", 2**32, id="u-as-x-over-u"),
    param("MountNfs", "port", "i", 65536, id="q-as-i-over-q"),
    param("MountNfs", "port", "n", -1, id="q-as-negative-n"),
    param("CreateVolumeGroup", "extent-size", "i", -4096, id="t-as-negative-i"),
    param("LogicalVolume.Extend", "expected-size", "x", -1, id="t-as-negative-x"),
])
def test_options_integer_that_does_not_fit(method, key, signature, value):
    wanted = options.signatures(method)[key]
    with pytest.raises(InvalidArgument, match=f"does not fit type '{wanted}'") as info:
        options.parse(method, {key: (signature, value)})
    assert repr(key) in str(info.value) and str(value) in str(info.value)


def test_options_integer_that_fits_is_still_range_checked():
    with pytest.raises(InvalidArgument, match="between 1 and 3600"):
        options.parse("MountNfs", {"timeout": ("i", 0)})
    with pytest.raises(InvalidArgument, match="power of two"):
        options.parse("CreateVolumeGroup", {"extent-size": ("i", 5000)})


@pytest.mark.parametrize("method", [*options.OPTIONS, "EnumerateLuns"])
def test_options_auth_key_on_every_method(method):
    checked = options.parse(method, {options.AUTH_KEY: ("b", True)})
    assert checked.no_user_interaction is True
    assert not checked.interactive
    assert checked.record() == {}            # never kept in a record


def test_options_empty_is_empty():
    checked = options.parse("MountNfs", {})
    assert checked == options.MountNfsOptions()
    assert checked.record() == {}


def test_options_create_volume_group_values():
    checked = options.parse("CreateVolumeGroup", {
        "wipe": ("b", True), "extent-size": ("t", 8 * 1024**2)})
    assert checked == options.CreateVolumeGroupOptions(wipe=True, extent_size=8 * 1024**2)
    assert checked.record() == {"wipe": True, "extent-size": 8 * 1024**2}


def test_options_extent_size_value_is_checked():
    with pytest.raises(InvalidArgument, match="power of two"):
        options.parse("CreateVolumeGroup", {"extent-size": ("t", 5000)})


def test_options_extent_size_only_on_create():
    with pytest.raises(InvalidArgument, match="unknown option 'extent-size'"):
        options.parse("VolumeGroup.Extend", {"extent-size": ("t", 4096)})


def test_options_expected_size_value_is_checked():
    with pytest.raises(InvalidArgument, match="expected-size"):
        options.parse("LogicalVolume.Extend", {"expected-size": ("t", 0)})


def test_options_mount_nfs_accepts_the_whole_table():
    given = {
        "vers": ("s", "4.2"), "timeo": ("u", 600), "retrans": ("u", 2),
        "retry": ("u", 0), "hard": ("b", True), "ro": ("b", True),
        "proto": ("s", "tcp"), "port": ("q", 2049), "sec": ("s", "krb5p"),
        "rsize": ("u", 65536), "wsize": ("u", 65536), "nolock": ("b", True),
        "persistent": ("b", False), "create-mountpoint": ("b", True),
        "timeout": ("u", 30), options.AUTH_KEY: ("b", False),
    }
    checked = options.parse("MountNfs", given)
    fields = options.fields_of("MountNfs")
    assert {key: getattr(checked, fields[key].name) for key in given} == {
        key: value for key, (_, value) in given.items()}
    assert checked.interactive


@pytest.mark.parametrize("key,signature,value,word", [
    param("vers", "s", "5", "must be one of", id="vers-5"),
    param("vers", "s", "4,suid", "must be one of", id="vers-injection"),
    param("sec", "s", "none", "must be one of", id="sec-none"),
    param("proto", "s", "udp", "must be one of", id="proto-udp"),
    param("timeo", "u", 0, "between", id="timeo-0"),
    param("timeo", "u", 6001, "between", id="timeo-too-big"),
    param("retrans", "u", 101, "between", id="retrans-too-big"),
    param("rsize", "u", 512, "between", id="rsize-too-small"),
    param("timeout", "u", 0, "between", id="timeout-0"),
])
def test_options_mount_nfs_rejects(key, signature, value, word):
    with pytest.raises(InvalidArgument, match=word) as info:
        options.parse("MountNfs", {key: (signature, value)})
    assert repr(key) in str(info.value)


@pytest.mark.parametrize("key,value,word", [
    param("node-startup", "onboot", "must be one of", id="node-startup"),
    param("timeout", 0, "between", id="timeout-0"),
    param("username", "", "empty", id="empty-username"),
    param("password", "a\nb", "control", id="password-newline"),
])
def test_options_login_iscsi_rejects(key, value, word):
    signature = "u" if isinstance(value, int) else "s"
    with pytest.raises(InvalidArgument, match=word):
        options.parse("LoginIscsi", {key: (signature, value)})


def test_options_login_only_for_enumerate():
    assert options.parse("EnumerateIscsiLuns", {"login": ("b", False)}).login is False
    with pytest.raises(InvalidArgument, match="unknown option 'login'"):
        options.parse("LoginIscsi", {"login": ("b", False)})


@pytest.mark.parametrize("given,interactive", [
    param({}, True, id="absent"),
    param({options.AUTH_KEY: False}, True, id="false"),
    param({options.AUTH_KEY: True}, False, id="true"),
])
def test_options_interactive(given, interactive):
    checked = options.parse("EnumerateLuns", {k: ("b", v) for k, v in given.items()})
    assert checked.interactive is interactive


def test_secrets_stay_out_of_the_repr():
    checked = options.parse("LoginIscsi", {"username": ("s", "u"), "password": ("s", "s3cr3t")})
    assert "s3cr3t" not in repr(checked) and checked.chap == ("u", "s3cr3t")


def test_a_record_reads_back_as_it_was_given():
    given = options.parse("MountNfs", {"vers": ("s", "4.2"), "persistent": ("b", True)})
    assert options.from_record("MountNfs", given.record()) == given
    with pytest.raises(InvalidArgument, match="stored option"):
        options.from_record("MountNfs", {"vers": 4})


def test_options_resize_takes_shrink_and_expected_size():
    assert options.parse("LogicalVolume.Resize", {}) == options.ResizeLogicalVolumeOptions()
    checked = options.parse("LogicalVolume.Resize", {"shrink": ("b", True),
                                                     "expected-size": ("t", 4096)})
    assert (checked.shrink, checked.expected_size) == (True, 4096)
    with pytest.raises(InvalidArgument, match="expected-size"):
        options.parse("LogicalVolume.Resize", {"expected-size": ("t", 0)})
    with pytest.raises(InvalidArgument, match="type 'b'"):
        options.parse("LogicalVolume.Resize", {"shrink": ("s", "yes")})
    for method in ("LogicalVolume.Rename", "VolumeGroup.Rename", "AddTags", "RemoveTags"):
        with pytest.raises(InvalidArgument, match="unknown option 'shrink'"):
            options.parse(method, {"shrink": ("b", True)})

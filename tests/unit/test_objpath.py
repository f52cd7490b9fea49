# SPDX-License-Identifier: LGPL-2.1-or-later
"""objpath.py: stable object paths, escaped keys, and parsing them back."""

import re

import pytest

from solidice_storage import objpath

KEYS = [
    pytest.param("36001405d0e1f2a3b4c5d6e7f80910001", id="wwid"),
    pytest.param("eui.0025388b91c2d3e4", id="eui-wwid"),
    pytest.param("pci-0000:00:04.0", id="id-path"),
    pytest.param("Xk3Pq1-aB2c-dE3f-gH4i-jK5l-mN6o-pQ7rS8", id="lvm-uuid"),
    pytest.param("/mnt/nfs/images", id="local-path"),
    pytest.param("/", id="slash"),
    pytest.param("iqn.2003-01.org.x:data@192.0.2.10:3260", id="iscsi-session"),
    pytest.param("[::1]:3260", id="ipv6-portal"),
    pytest.param("/mnt/bilder-über", id="unicode"),
    pytest.param("a_b", id="underscore"),
    pytest.param("_2f", id="looks-escaped"),
    pytest.param("42", id="job-number"),
    pytest.param("ünï ☃", id="non-ascii"),
]


@pytest.mark.parametrize("key", KEYS)
def test_escape_round_trip(key):
    assert objpath.unescape(objpath.escape(key)) == key


@pytest.mark.parametrize("key", KEYS)
def test_escape_uses_only_path_characters(key):
    assert re.fullmatch(r"[A-Za-z0-9_]+", objpath.escape(key))


@pytest.mark.parametrize("key,escaped", [
    pytest.param("abc123", "abc123", id="plain"),
    pytest.param("a-b", "a_2db", id="dash"),
    pytest.param("--", "_2d_2d", id="dashes-only"),
    pytest.param("a_b", "a_5fb", id="underscore"),
    pytest.param("/", "_2f", id="slash"),
    pytest.param("ü", "_c3_bc", id="utf8-bytes"),
])
def test_escape_form(key, escaped):
    assert objpath.escape(key) == escaped


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("kind", objpath.KINDS)
def test_path_parse_round_trip(kind, key):
    built = objpath.path(kind, key)
    assert built.startswith(objpath.ROOT + "/" + kind + "/")
    assert objpath.parse(built) == (kind, key)


def test_path_of_no_object():
    assert objpath.path("VolumeGroup", None) == "/"


@pytest.mark.parametrize("element", [
    pytest.param("_zz", id="non-hex"),
    pytest.param("_4", id="short-escape"),
    pytest.param("abc_", id="trailing-underscore"),
    pytest.param("_2F", id="uppercase-hex"),
    pytest.param("_ff", id="invalid-utf8"),
    pytest.param("", id="empty"),
])
def test_unescape_rejects(element):
    assert objpath.unescape(element) is None


@pytest.mark.parametrize("object_path", [
    pytest.param("/", id="no-object"),
    pytest.param("/org/freedesktop/DBus", id="foreign"),
    pytest.param("/org/solidice/StorageX/Lun/abc", id="prefix-lookalike"),
    pytest.param(objpath.ROOT, id="root"),
    pytest.param(objpath.HOST, id="host"),
    pytest.param(objpath.ROOT + "/Disk/abc", id="unknown-kind"),
    pytest.param(objpath.ROOT + "/lun/abc", id="kind-wrong-case"),
    pytest.param(objpath.ROOT + "/Lun/_zz", id="bad-escape"),
    pytest.param(objpath.ROOT + "/Lun/_4", id="short-escape"),
    pytest.param(objpath.ROOT + "/Lun/abc/def", id="extra-element"),
    pytest.param(objpath.ROOT + "/Lun/", id="empty-element"),
    pytest.param(objpath.ROOT + "/Lun", id="kind-only"),
])
def test_parse_rejects(object_path):
    assert objpath.parse(object_path) is None

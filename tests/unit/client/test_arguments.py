# SPDX-License-Identifier: LGPL-2.1-or-later
"""client/arguments.py and the options' types (client/convert.py): what the wire
could not carry, or no value could mean, is the caller's InvalidArgumentError,
naming the argument, before anything is sent."""

import pytest

from solidice_storage.client import arguments as check
from solidice_storage.client.convert import options
from solidice_storage.client.errors import InvalidArgumentError


@pytest.mark.parametrize("value", [1.5, -1, True, 2**64, "1G", None])
def test_a_size_is_a_whole_number_of_bytes_the_wire_carries(value):
    with pytest.raises(InvalidArgumentError, match="size"):
        check.size(value, "size")


def test_good_values_pass_as_they_are():
    assert check.size(0, "size") == 0 and check.size(2**64 - 1, "size") == 2**64 - 1
    assert check.texts(("a", "b"), "devices") == ["a", "b"]
    assert check.flag(False, "force") is False and check.text("vg0", "name") == "vg0"


@pytest.mark.parametrize("value", ["36001405", [1], None, {"a"}])
def test_a_list_of_names_is_a_list_of_str(value):
    with pytest.raises(InvalidArgumentError, match="devices"):
        check.texts(value, "devices")


@pytest.mark.parametrize("keyword, value", [
    ("timeout", 2.5), ("timeout", -1), ("timeout", 2**32), ("timeout", True),
    ("username", True), ("username", b"x"), ("no_user_interaction", 1)])
def test_options_are_checked_against_their_type(keyword, value):
    with pytest.raises(InvalidArgumentError, match=keyword):
        options("LoginIscsi", **{keyword: value})


def test_an_option_of_the_right_type_is_sent_typed():
    sent = options("LoginIscsi", timeout=30, username="backup")
    assert (sent["timeout"].signature, sent["timeout"].value) == ("u", 30)
    assert sent["username"].value == "backup"

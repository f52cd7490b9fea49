# SPDX-License-Identifier: LGPL-2.1-or-later
"""client/lookups.py: choosing the one iSCSI session a target and portal name."""

import pytest

from solidice_storage import models, objpath
from solidice_storage.client.errors import InvalidArgumentError, NotFoundError
from solidice_storage.client.lookups import pick_session
from solidice_storage.client.objects import IscsiSession
from solidice_storage.client.transport import Transport

TARGET = "iqn.2003-01.org.example:data"


def session(portal: str, target: str = TARGET) -> IscsiSession:
    state = models.IscsiSession(target=target, portal=portal)
    return IscsiSession(Transport(), objpath.path("IscsiSession", state.key), state)


def test_the_only_session_to_a_target_needs_no_portal():
    one = session("192.0.2.10:3260")
    assert pick_session([one, session("192.0.2.11:3260", "iqn.other")], TARGET, None) is one


def test_a_portal_without_a_port_means_3260():
    first, second = session("192.0.2.10:3260"), session("192.0.2.11:3260")
    assert pick_session([first, second], TARGET, "192.0.2.11") is second


def test_none_or_several_are_errors_that_say_what_to_do():
    with pytest.raises(NotFoundError, match="no iSCSI session to .* through 192.0.2.9"):
        pick_session([session("192.0.2.10:3260")], TARGET, "192.0.2.9")
    with pytest.raises(InvalidArgumentError, match="name the portal"):
        pick_session([session("192.0.2.10:3260"), session("192.0.2.11:3260")], TARGET, None)

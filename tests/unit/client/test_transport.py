# SPDX-License-Identifier: LGPL-2.1-or-later
"""client/transport.py: the timeouts a call waits, and calls before connecting."""

import pytest

from solidice_storage.client import StorageClient
from solidice_storage.client.errors import ServiceUnavailableError
from solidice_storage.client.transport import TIMEOUT_MARGIN, Transport


def test_a_call_bounded_by_its_own_timeout_option_waits_longer_than_it():
    transport = Transport(change_timeout=300)
    assert transport.long(None, None) is None                  # the defaults apply
    assert transport.long(5.0, 900) == 5.0                     # the caller's word
    assert transport.long(None, 60) == 300                     # never below a change's
    assert transport.long(None, 900) == 900 + TIMEOUT_MARGIN


async def test_calls_before_connecting_say_how_to_connect():
    transport = Transport()
    assert transport.unique_name is None
    with pytest.raises(ServiceUnavailableError, match="not connected"):
        await transport.call("/org/solidice/Storage/Host", "Host", "Rescan", "a{sv}", {})


def test_the_client_s_settings_are_its_transport_s():
    client = StorageClient.connect(session=True, read_timeout=5, change_timeout=50)
    assert (client.session, client.read_timeout, client.change_timeout) == (True, 5, 50)
    client.read_timeout = 7
    assert client.transport.read_timeout == 7 and client.address is None

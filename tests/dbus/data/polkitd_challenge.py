# SPDX-License-Identifier: LGPL-2.1-or-later
"""python-dbusmock's polkitd template, plus answers that need authentication.

`SetChallenge(as)` makes CheckAuthorization answer (false, true) for those actions:
what polkitd says when an admin password would allow it. The stock template never
does, and NotAuthorizedCanObtain depends on it.
"""

import time

import dbus

from dbusmock import MOCK_IFACE
from dbusmock.templates.polkitd import *  # noqa: F401,F403  (BUS_NAME, MAIN_OBJ, ...)
from dbusmock.templates.polkitd import MAIN_IFACE
from dbusmock.templates.polkitd import load as _load


def load(mock, parameters):
    _load(mock, parameters)
    mock.challenge = []


@dbus.service.method(MAIN_IFACE, in_signature="(sa{sv})sa{ss}us", out_signature="(bba{ss})",
                     async_callbacks=("ok_cb", "_err_cb"))
def CheckAuthorization(self, _subject, action_id, _details, _flags, _cancellation_id,
                       ok_cb, _err_cb):
    time.sleep(self.delay)
    allowed = action_id in self.allowed or self.allow_unknown
    ret = (allowed, not allowed and action_id in self.challenge, {})
    if self.simulate_hang or action_id in self.hanging_actions:
        self.hanging_calls.append((ok_cb, ret))
    else:
        ok_cb(ret)


@dbus.service.method(MAIN_IFACE, in_signature="s", out_signature="")
def CancelCheckAuthorization(self, _cancellation_id):
    pass


@dbus.service.method(MOCK_IFACE, in_signature="as", out_signature="")
def SetChallenge(self, actions):
    self.challenge = actions

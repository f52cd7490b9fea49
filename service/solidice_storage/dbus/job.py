# SPDX-License-Identifier: LGPL-2.1-or-later
"""org.solidice.Storage.Job at /org/solidice/Storage/Job/<n>: a long operation while
it runs. It disappears after `Completed`. n counts from a random start at each
start of the service (engine/jobs.py), so a path never names two jobs."""

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import dbus_property, dbus_signal

from .. import actions
from .base import Context, ObjectInterface, arg_names, check_options, path
from .errors import storage_method
from ..errors import NotSupported


class JobInterface(ObjectInterface):
    def __init__(self, ctx: Context, model) -> None:
        super().__init__("Job", ctx, model)

    @dbus_property(access=PropertyAccess.READ)
    def Operation(self) -> "s":
        return self.model.operation

    @dbus_property(access=PropertyAccess.READ)
    def Progress(self) -> "d":
        return self.model.progress

    @dbus_property(access=PropertyAccess.READ)
    def Objects(self) -> "ao":
        return [path(kind, key) for kind, key in self.model.objects]

    @dbus_property(access=PropertyAccess.READ)
    def StartedByUid(self) -> "u":
        return self.model.started_by_uid

    @dbus_property(access=PropertyAccess.READ)
    def Cancelable(self) -> "b":
        return self.model.cancelable

    @arg_names("success", "message")
    @dbus_signal()
    def Completed(self, success: bool, message: str) -> "bs":
        return [success, message]

    @storage_method()
    async def Cancel(self, options: "a{sv}") -> None:
        opts = check_options("Cancel", options)
        uid = await self.ctx.auth.uid()
        action = (actions.CANCEL_JOB if uid == self.model.started_by_uid
                  else actions.CANCEL_JOB_OTHER_USER)
        await self.ctx.auth.check(action, {"job": self.model.operation}, opts.interactive)
        if not self.model.cancelable:
            raise NotSupported(f"job {self.model.id} ({self.model.operation}) "
                               "cannot be cancelled")
        self.ctx.engine.cancel_job(self.model.id)

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The engine's errors: one class per named D-Bus error of the contract.

The engine raises these; `dbus/errors.py` maps each to
`org.solidice.Storage.Error.<Name>` in one place. Messages are for the caller: say
what went wrong and what to do, never a traceback.
"""


class StorageError(Exception):
    """Base of every error a caller may see. `name` is the D-Bus error's last part."""

    name = "Failed"


class InvalidArgument(StorageError):
    name = "InvalidArgument"


class NotFound(StorageError):
    name = "NotFound"


class AlreadyExists(StorageError):
    name = "AlreadyExists"


class Busy(StorageError):
    name = "Busy"


class NoSpace(StorageError):
    name = "NoSpace"


class Timeout(StorageError):
    name = "Timeout"


class Cancelled(StorageError):
    name = "Cancelled"


class NotSupported(StorageError):
    name = "NotSupported"


class Failed(StorageError):
    name = "Failed"


class NotAuthorized(StorageError):
    name = "NotAuthorized"


class NotAuthorizedCanObtain(StorageError):
    name = "NotAuthorizedCanObtain"


ALL = (
    InvalidArgument, NotFound, AlreadyExists, Busy, NoSpace, Timeout, Cancelled,
    NotSupported, Failed, NotAuthorized, NotAuthorizedCanObtain,
)

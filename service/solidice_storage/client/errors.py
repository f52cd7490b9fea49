# SPDX-License-Identifier: LGPL-2.1-or-later
"""The exceptions a client sees: one per named error of the service, in one place.

Every `org.solidice.Storage.Error.<Name>` becomes `<Name>Error` with the service's
message, which says what went wrong and what to do. The bus's own errors that mean
"nobody answers" become `ServiceUnavailableError`. Names avoid Python's built-ins
(`TimedOutError`, not `TimeoutError`; `OperationCancelledError`, not
`CancelledError`), so catching one never catches the other by accident.
"""

from dbus_fast import DBusError

SERVICE_PREFIX = "org.solidice.Storage.Error."


class StorageClientError(Exception):
    """Base of every error the client raises. `dbus_name` is the D-Bus error's name
    (empty when the client itself found the problem); `message` is for people."""

    def __init__(self, message: str, dbus_name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.dbus_name = dbus_name


class InvalidArgumentError(StorageClientError):
    """An argument or option was refused: fix it and call again."""


class NotFoundError(StorageClientError):
    """The named object, device or path does not exist."""


class AlreadyExistsError(StorageClientError):
    """Something of that name already exists."""


class BusyError(StorageClientError):
    """The object is in use (open, mounted, holding data); free it first."""


class NoSpaceError(StorageClientError):
    """The volume group lacks the free space asked for."""


class TimedOutError(StorageClientError):
    """The host's tools gave up (a silent portal or NFS server, say)."""


class OperationCancelledError(StorageClientError):
    """The operation was cancelled (its job was cancelled)."""


class NotSupportedError(StorageClientError):
    """This host cannot do that (a tool or kernel feature is missing)."""


class FailedError(StorageClientError):
    """The operation failed; the message carries the tool's own words."""


class NotAuthorizedError(StorageClientError):
    """polkit (or the bus policy) does not allow this caller to do that."""


class NotAuthorizedCanObtainError(NotAuthorizedError):
    """Not allowed now, but would be after authenticating (pass
    `no_user_interaction=False`, from a session with a polkit agent)."""


class ServiceUnavailableError(StorageClientError):
    """The service is not running, or the bus cannot be reached."""


class NoReplyError(ServiceUnavailableError):
    """The service did not answer within the call's timeout."""


class JobFailedError(StorageClientError):
    """A job the client was following completed without success."""


_SERVICE_ERRORS = {
    "InvalidArgument": InvalidArgumentError, "NotFound": NotFoundError,
    "AlreadyExists": AlreadyExistsError, "Busy": BusyError, "NoSpace": NoSpaceError,
    "Timeout": TimedOutError, "Cancelled": OperationCancelledError,
    "NotSupported": NotSupportedError, "Failed": FailedError,
    "NotAuthorized": NotAuthorizedError,
    "NotAuthorizedCanObtain": NotAuthorizedCanObtainError,
}

_BUS_ERRORS = {
    "org.freedesktop.DBus.Error.ServiceUnknown": ServiceUnavailableError,
    "org.freedesktop.DBus.Error.NameHasNoOwner": ServiceUnavailableError,
    "org.freedesktop.DBus.Error.NoServer": ServiceUnavailableError,
    "org.freedesktop.DBus.Error.Disconnected": ServiceUnavailableError,
    "org.freedesktop.DBus.Error.NoReply": NoReplyError,
    "org.freedesktop.DBus.Error.Timeout": NoReplyError,
    "org.freedesktop.DBus.Error.TimedOut": NoReplyError,
    "org.freedesktop.DBus.Error.AccessDenied": NotAuthorizedError,
    "org.freedesktop.DBus.Error.InvalidArgs": InvalidArgumentError,
    # An object that has left the bus (a removed LV, a finished job).
    "org.freedesktop.DBus.Error.UnknownObject": NotFoundError,
}


def from_dbus(name: str, message: str) -> StorageClientError:
    """The client exception for D-Bus error `name` with `message`."""
    if name.startswith(SERVICE_PREFIX):
        cls = _SERVICE_ERRORS.get(name[len(SERVICE_PREFIX):], StorageClientError)
    elif name.startswith("org.freedesktop.systemd1.") or ".Spawn." in name:
        cls = ServiceUnavailableError      # D-Bus activation could not start it
    else:
        cls = _BUS_ERRORS.get(name, StorageClientError)
    if cls is ServiceUnavailableError and name != "org.freedesktop.DBus.Error.Disconnected":
        message = ("the storage service (org.solidice.Storage) is not running: "
                   f"start solidice-storaged ({message})")
    return cls(message or name, name)


def from_dbus_error(error: DBusError) -> StorageClientError:
    return from_dbus(error.type, error.text)

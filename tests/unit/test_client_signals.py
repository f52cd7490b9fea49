"""Which signals the client takes (client/core.py): only those the service's current
owner broadcast; what it remembers of jobs goes when the owner changes or a new
job object takes the path."""

from dbus_fast import Message, MessageType

from solidice_storage.client.core import OWNER_CHANGED, StorageClient

JOB = "/org/solidice/Storage/Job/123456789"
SERVICE, OTHER, ME = ":1.10", ":1.66", ":1.20"


def signal(sender, path, interface, member, signature, body, destination=None):
    message = Message(message_type=MessageType.SIGNAL, path=path, interface=interface,
                      member=member, signature=signature, body=body,
                      destination=destination)
    message.sender = sender
    return message


def completed(sender, success=True, destination=None):
    return signal(sender, JOB, "org.solidice.Storage.Job", "Completed", "bs",
                  [success, "" if success else "failed"], destination)


def owner_changed(old, new):
    return signal("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "NameOwnerChanged", "sss", ["org.solidice.Storage", old, new])


def client_owned_by(owner):
    client = StorageClient()
    client._on_message(owner_changed("", owner))
    return client


def test_completed_is_taken_only_when_the_owner_broadcast_it():
    client = client_owned_by(SERVICE)
    client._on_message(completed(OTHER))
    client._on_message(completed(SERVICE, False, destination=ME))   # unicast to us
    client._on_message(completed(OTHER, False, destination=ME))
    forged_owner = owner_changed("", OTHER)
    forged_owner.sender = OTHER                                 # not the bus's
    client._on_message(forged_owner)
    client._on_message(completed(OTHER))
    assert client._completed == {}
    client._on_message(completed(SERVICE))
    assert client._completed == {JOB: (True, "")}


def test_job_outcomes_are_forgotten_when_the_owner_changes():
    client = client_owned_by(SERVICE)
    client._on_message(completed(SERVICE))
    queue = []
    client._queues.append(type("Q", (), {"put_nowait": queue.append})())
    client._on_message(owner_changed(SERVICE, ""))
    assert client._completed == {} and queue == [OWNER_CHANGED]
    client._on_message(completed(SERVICE))            # the old owner's, late
    assert client._completed == {}


def test_a_new_job_object_at_a_path_forgets_the_earlier_outcome():
    client = client_owned_by(SERVICE)
    client._on_message(completed(SERVICE))
    client._on_message(signal(SERVICE, "/org/solidice/Storage",
                              "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                              "oa{sa{sv}}", [JOB, {}]))
    assert client._completed == {}


def test_the_owner_comes_from_get_name_owner_s_reply():
    client = StorageClient()
    client._owner_query = 7
    reply = Message(message_type=MessageType.METHOD_RETURN, reply_serial=7,
                    signature="s", body=[SERVICE])
    client._on_message(reply)
    assert client._owner == SERVICE and client._owner_query == 0
    client._on_message(completed(SERVICE))
    assert JOB in client._completed

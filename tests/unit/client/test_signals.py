# SPDX-License-Identifier: LGPL-2.1-or-later
"""Which signals the client takes (client/signals.py): only those the service's current
owner broadcast; what it remembers of jobs goes when the owner changes or a new
job object takes the path."""

from dbus_fast import Message, MessageType

from solidice_storage.client.signals import OWNER_CHANGED, Signals

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


def signals_owned_by(owner):
    signals = Signals()
    signals.on_message(owner_changed("", owner))
    return signals


def test_completed_is_taken_only_when_the_owner_broadcast_it():
    signals = signals_owned_by(SERVICE)
    signals.on_message(completed(OTHER))
    signals.on_message(completed(SERVICE, False, destination=ME))   # unicast to us
    signals.on_message(completed(OTHER, False, destination=ME))
    forged_owner = owner_changed("", OTHER)
    forged_owner.sender = OTHER                                 # not the bus's
    signals.on_message(forged_owner)
    signals.on_message(completed(OTHER))
    assert signals.outcome(JOB) is None and signals.owner == SERVICE
    signals.on_message(completed(SERVICE))
    assert signals.outcome(JOB) == (True, "")


def test_job_outcomes_are_forgotten_when_the_owner_changes():
    signals = signals_owned_by(SERVICE)
    signals.on_message(completed(SERVICE))
    queue = []
    with signals.subscribe(type("Q", (), {"put_nowait": queue.append})()):
        signals.on_message(owner_changed(SERVICE, ""))
    assert signals.outcome(JOB) is None and queue == [OWNER_CHANGED]
    signals.on_message(completed(SERVICE))            # the old owner's, late
    assert signals.outcome(JOB) is None and signals.owner is None


def test_a_new_job_object_at_a_path_forgets_the_earlier_outcome():
    signals = signals_owned_by(SERVICE)
    signals.on_message(completed(SERVICE))
    signals.on_message(signal(SERVICE, "/org/solidice/Storage",
                              "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                              "oa{sa{sv}}", [JOB, {}]))
    assert signals.outcome(JOB) is None


def test_the_owner_comes_from_get_name_owner_s_reply():
    signals = Signals()
    signals.expect_owner_reply(7)
    reply = Message(message_type=MessageType.METHOD_RETURN, reply_serial=7,
                    signature="s", body=[SERVICE])
    signals.on_message(reply)
    assert signals.owner == SERVICE
    signals.on_message(completed(SERVICE))
    assert signals.outcome(JOB) == (True, "")
    signals.on_message(Message(message_type=MessageType.METHOD_RETURN, reply_serial=7,
                               signature="s", body=[OTHER]))   # answered once only
    assert signals.owner == SERVICE


def test_subscribers_get_the_service_s_signals_and_replies_in_order():
    signals = signals_owned_by(SERVICE)
    queue = []
    reply = Message(message_type=MessageType.METHOD_RETURN, reply_serial=3)
    with signals.subscribe(type("Q", (), {"put_nowait": queue.append})()):
        signals.on_message(completed(OTHER))
        signals.on_message(reply)
        signals.on_message(completed(SERVICE))
    signals.on_message(completed(SERVICE))            # after the block: not seen
    assert [m.message_type for m in queue] == [MessageType.METHOD_RETURN,
                                              MessageType.SIGNAL]
    assert queue[0] is reply and queue[1].sender == SERVICE


def test_only_so_many_job_outcomes_are_remembered():
    signals = signals_owned_by(SERVICE)
    for number in range(300):
        signals.on_message(signal(SERVICE, f"/org/solidice/Storage/Job/{number}",
                                  "org.solidice.Storage.Job", "Completed", "bs",
                                  [True, ""]))
    assert signals.outcome("/org/solidice/Storage/Job/0") is None
    assert signals.outcome("/org/solidice/Storage/Job/299") == (True, "")

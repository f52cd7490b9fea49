# SPDX-License-Identifier: LGPL-2.1-or-later
"""cli/changes.py: how `monitor` tells each change: a line naming the object as a
person does, and JSON of one schema for every event."""

from dataclasses import dataclass

import pytest

from solidice_storage import models, objpath
from solidice_storage.cli import changes
from solidice_storage.cli.changes import describe
from solidice_storage.client import events
from solidice_storage.client.objects import Job, LogicalVolume, VolumeGroup
from solidice_storage.client.transport import Transport

VG_PATH = objpath.path("VolumeGroup", "vg-uuid-1")
LV_PATH = objpath.path("LogicalVolume", "lv-uuid-1")
COMMON = ["event", "kind", "object_path", "key"]


def vg(free: int) -> VolumeGroup:
    return VolumeGroup(Transport(), VG_PATH, models.VolumeGroup(
        uuid="vg-uuid-1", name="vg0", size=100, free_size=free, extent_size=4))


def lv() -> LogicalVolume:
    return LogicalVolume(Transport(), LV_PATH, models.LogicalVolume(
        uuid="lv-uuid-1", name="disk0", volume_group="vg-uuid-1", size=2048,
        path="/dev/vg0/disk0", active=True))


@dataclass(frozen=True)
class ServiceLost:
    """Stands for the client's event where the client does not have it yet."""


@dataclass(frozen=True)
class ServiceBack:
    """Stands for the client's event where the client does not have it yet."""


@pytest.fixture
def service_events(monkeypatch):
    lost = getattr(events, "ServiceLost", None)
    back = getattr(events, "ServiceBack", None)
    if lost is None or back is None:
        lost, back = ServiceLost, ServiceBack
        monkeypatch.setattr(changes, "SERVICE_LOST", lost)
        monkeypatch.setattr(changes, "SERVICE_BACK", back)
    return lost(), back()


def every_event(service_events) -> list:
    before = vg(60)
    return [events.ObjectAdded(VG_PATH, vg(60)),
            events.ObjectChanged(VG_PATH, vg(20), before.state, frozenset({"free_size"})),
            events.ObjectRemoved(VG_PATH, "VolumeGroup", "vg-uuid-1", vg(20)),
            events.ObjectRemoved(LV_PATH, "LogicalVolume", "lv-uuid-1", None),
            events.JobCompleted("/j/3", 3, False, "cancelled"),
            events.HostChanged({"luns": ("w1", "w2"), "mounts": ()}),
            *service_events]


def test_every_event_has_the_same_four_keys_first(service_events):
    seen = set()
    for event in every_event(service_events):
        data, _ = describe(event)
        assert list(data)[:4] == COMMON, data
        seen.add(data["event"])
    assert seen == {"added", "changed", "removed", "completed", "host-changed",
                    "service-lost", "service-back"}


def test_an_object_s_events_carry_its_path_key_and_properties():
    added, _ = describe(events.ObjectAdded(VG_PATH, vg(60)))
    assert (added["object_path"], added["key"], added["name"]) == (VG_PATH, "vg-uuid-1",
                                                                   "vg0")
    removed, _ = describe(events.ObjectRemoved(VG_PATH, "VolumeGroup", "vg-uuid-1", vg(60)))
    assert {k: removed[k] for k in COMMON} == {
        "event": "removed", "kind": "VolumeGroup", "object_path": VG_PATH,
        "key": "vg-uuid-1"}
    assert removed["name"] == "vg0"
    gone, _ = describe(events.ObjectRemoved(LV_PATH, "LogicalVolume", "lv-uuid-1", None))
    assert gone == {"event": "removed", "kind": "LogicalVolume", "object_path": LV_PATH,
                    "key": "lv-uuid-1"}
    done, _ = describe(events.JobCompleted("/j/3", 3, True, ""))
    assert (done["kind"], done["object_path"], done["key"], done["id"]) == (
        "Job", "/j/3", "3", 3)


def test_text_names_objects_as_people_do():
    assert describe(events.ObjectAdded(VG_PATH, vg(60)))[1] == "added    VolumeGroup vg0"
    assert describe(events.ObjectAdded(LV_PATH, lv()))[1] == \
        "added    LogicalVolume /dev/vg0/disk0"
    assert describe(events.ObjectRemoved(VG_PATH, "VolumeGroup", "vg-uuid-1", vg(6)))[1] \
        == "removed  VolumeGroup vg0"
    assert describe(events.ObjectRemoved(LV_PATH, "LogicalVolume", "lv-uuid-1", None))[1] \
        == "removed  LogicalVolume lv-uuid-1"          # nothing known but its key
    job = Job(Transport(), "/j/3", models.Job(id=3, operation="pv-move"))
    assert describe(events.ObjectAdded("/j/3", job))[1] == "added    Job 3 (pv-move)"


def test_changed_lists_the_new_values_sizes_human():
    before = vg(60 * 1024**3)
    data, text = describe(events.ObjectChanged(VG_PATH, vg(20 * 1024**3), before.state,
                                               frozenset({"free_size"})))
    assert text == "changed  VolumeGroup vg0 free_size=20.0 GiB"
    assert data["changed"] == ["free_size"] and data["free_size"] == 20 * 1024**3


def test_jobs_and_the_host():
    assert describe(events.JobCompleted("/j", 3, False, "cancelled"))[1] == \
        "job 3 failed: cancelled"
    assert describe(events.JobCompleted("/j", 3, True, ""))[1] == "job 3 succeeded"
    data, text = describe(events.HostChanged({"luns": ("w1",), "mounts": ()}))
    assert text == "changed  Host luns mounts"
    assert (data["event"], data["kind"], data["object_path"], data["key"]) == (
        "host-changed", "Host", objpath.HOST, None)
    assert data["changed"] == ["luns", "mounts"] and data["luns"] == ["w1"]


def test_the_service_going_and_coming_back(service_events):
    lost, back = service_events
    assert describe(lost) == ({"event": "service-lost", "kind": None, "object_path": None,
                               "key": None}, "service stopped")
    assert describe(back) == ({"event": "service-back", "kind": None, "object_path": None,
                               "key": None}, "service back")


def test_no_property_of_any_model_hides_the_common_keys():
    for model in (models.Lun, models.VolumeGroup, models.PhysicalVolume,
                  models.LogicalVolume, models.Mount, models.IscsiSession, models.Job):
        assert not set(model.model_fields) & {*COMMON, "changed", "success", "message"}

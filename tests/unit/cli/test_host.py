"""cli/host.py: how `monitor` tells each change, for people and as JSON."""

from solidice_storage import models, objpath
from solidice_storage.cli.host import describe
from solidice_storage.client import events
from solidice_storage.client.objects import VolumeGroup
from solidice_storage.client.transport import Transport

VG_PATH = objpath.path("VolumeGroup", "vg-uuid-1")


def vg(free: int) -> VolumeGroup:
    return VolumeGroup(Transport(), VG_PATH, models.VolumeGroup(
        uuid="vg-uuid-1", name="vg0", size=100, free_size=free, extent_size=4))


def test_added_and_removed():
    data, text = describe(events.ObjectAdded(VG_PATH, vg(60)))
    assert text == "added    VolumeGroup vg-uuid-1"
    assert data["event"] == "added" and data["object_path"] == VG_PATH and data["name"] == "vg0"
    data, text = describe(events.ObjectRemoved(VG_PATH, "VolumeGroup", "vg-uuid-1", None))
    assert text == "removed  VolumeGroup vg-uuid-1" and data["key"] == "vg-uuid-1"


def test_changed_lists_the_new_values():
    before = vg(60)
    data, text = describe(events.ObjectChanged(VG_PATH, vg(20), before.state,
                                               frozenset({"free_size"})))
    assert text == "changed  VolumeGroup vg-uuid-1 free_size=20"
    assert data["changed"] == ["free_size"] and data["free_size"] == 20


def test_jobs_and_the_host():
    assert describe(events.JobCompleted("/j", 3, False, "cancelled"))[1] == \
        "job 3 failed: cancelled"
    assert describe(events.JobCompleted("/j", 3, True, ""))[1] == "job 3 succeeded"
    data, text = describe(events.HostChanged({"luns": (), "mounts": ()}))
    assert text == "changed  Host luns mounts" and data["event"] == "host-changed"

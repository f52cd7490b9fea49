# SPDX-License-Identifier: LGPL-2.1-or-later
"""client/objects.py: handles built from the service's properties read through to
their models; paths that are not the service's objects give no handle."""

from dbus_fast import Variant

from solidice_storage import models, objpath
from solidice_storage.client.objects import Job, VolumeGroup, handle, job_at
from solidice_storage.client.transport import Transport

IFACE = "org.solidice.Storage."
VG = objpath.path("VolumeGroup", "vg-uuid-1")
PROPERTIES = {"Uuid": Variant("s", "vg-uuid-1"), "Name": Variant("s", "vg0"),
              "Size": Variant("t", 100), "FreeSize": Variant("t", 60),
              "ExtentSize": Variant("t", 4)}


def test_a_handle_reads_through_to_its_model():
    vg = handle(Transport(), VG, {IFACE + "VolumeGroup": PROPERTIES})
    assert isinstance(vg, VolumeGroup) and vg.object_path == VG
    assert (vg.name, vg.free_size) == ("vg0", 60) and vg.state.key == "vg-uuid-1"
    again = handle(Transport(), VG, {IFACE + "VolumeGroup": dict(PROPERTIES)})
    assert vg == again and hash(vg) == hash(again) and "vg-uuid-1" in repr(vg)


def test_no_handle_for_other_paths_or_interfaces():
    transport = Transport()
    assert handle(transport, "/org/example/Thing", {IFACE + "VolumeGroup": PROPERTIES}) is None
    assert handle(transport, VG, {"org.example.Other": {}}) is None


def test_a_job_handle_needs_no_read():
    job = job_at(Transport(), objpath.path("Job", "7"))
    assert isinstance(job, Job) and job.state == models.Job(id=7, operation="")

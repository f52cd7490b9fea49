# SPDX-License-Identifier: LGPL-2.1-or-later
"""Job numbers: in order within one start, not the same after a restart."""

from solidice_storage import objpath
from solidice_storage.engine.store import StateStore
from solidice_storage.engine.jobs import Jobs


def test_job_paths_do_not_come_again_after_a_restart():
    first = Jobs(StateStore())
    ids = [first.start("pv-move", [], 0).id for _ in range(3)]
    assert ids == list(range(ids[0], ids[0] + 3))
    restarted = Jobs(StateStore())
    again = restarted.start("pv-move", [], 0).id
    assert again not in ids
    assert all(len(str(i)) == 9 for i in ids + [again])
    path = objpath.path("Job", str(again))
    assert objpath.parse(path) == ("Job", str(again))

# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/host/nfs/config.py: the persistent mounts' records, root's only, checked
on reading as a caller's arguments are, and readable as an older daemon wrote them."""

import json
import stat

import pytest

from solidice_storage import options
from solidice_storage.engine.host.nfs.config import MountConfig, Wanted
from solidice_storage.errors import InvalidArgument
from solidice_storage.options import MountNfsOptions

# as the daemon before issue 17 wrote it: every option the caller gave, by its key
OLDER_RECORD = {"mounts": [{
    "local-path": "/mnt/a", "options": {"create-mountpoint": True, "persistent": True,
                                        "ro": False, "timeo": 50, "vers": "4.2"},
    "remote-path": "/export", "server": "nfs.example.com"}]}


def test_records_are_root_only_and_round_trip(tmp_path):
    config = MountConfig(tmp_path / "state")
    wanted = {"/mnt/a": Wanted("nfs.example.com", "/export", "/mnt/a",
                               MountNfsOptions(vers="4.2", persistent=True, timeo=50))}
    config.save(wanted)
    assert stat.S_IMODE(config.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.path.parent.stat().st_mode) == 0o700
    assert config.load() == wanted
    assert not list(config.path.parent.glob("*.tmp"))


def test_a_bad_record_is_skipped_and_an_unreadable_file_kept(tmp_path):
    config = MountConfig(tmp_path)
    good = Wanted("10.0.0.1", "/x", "/mnt/x", MountNfsOptions(persistent=True)).to_json()
    bad = [{**good, "local-path": "/etc"},                     # a system directory
           {**good, "local-path": "/mnt/y", "options": {"vers": "9"}},
           {**good, "local-path": "/mnt/z", "options": {"port": 70000}},
           {**good, "local-path": "/mnt/w", "options": {"mount-opts": "exec"}},
           {"server": "10.0.0.1"}]
    config.path.write_text(json.dumps({"mounts": [good, *bad]}))
    assert list(config.load()) == ["/mnt/x"]
    config.path.write_text("{not json")
    assert config.load() == {}
    assert config.path.with_suffix(".unreadable").read_text() == "{not json"


def test_stored_options_are_checked_like_a_callers():
    assert options.from_record("MountNfs", {"vers": "3", "hard": True}) == \
        options.MountNfsOptions(vers="3", hard=True)
    for bad in ({"hard": 1}, {"timeo": True}, {"timeo": 0}, {"retry": -1},
                {"nosuch": "x"}):
        with pytest.raises(InvalidArgument):
            options.from_record("MountNfs", bad)


def test_a_record_an_older_daemon_wrote_reads_back_the_same(tmp_path):
    config = MountConfig(tmp_path)
    config.path.write_text(json.dumps(OLDER_RECORD, indent=1, sort_keys=True))
    (wanted,) = config.load().values()
    assert wanted == Wanted("nfs.example.com", "/export", "/mnt/a", MountNfsOptions(
        create_mountpoint=True, persistent=True, timeo=50, vers="4.2"))
    record = wanted.to_json()
    assert record == {**OLDER_RECORD["mounts"][0], "options": {
        "create-mountpoint": True, "persistent": True, "timeo": 50, "vers": "4.2"}}
    config.save({wanted.local_path: wanted})
    assert config.load() == {wanted.local_path: wanted}


def test_a_record_keeps_the_keys_and_json_values_of_the_options():
    options = MountNfsOptions(vers="3", hard=False, port=2049, nolock=True, persistent=True)
    assert Wanted("10.0.0.1", "/x", "/mnt/x", options).to_json()["options"] == {
        "vers": "3", "hard": False, "port": 2049, "nolock": True, "persistent": True}

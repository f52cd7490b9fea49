# SPDX-License-Identifier: LGPL-2.1-or-later
"""The configuration file: defaults when missing, every key read, a malformed file
refused with its line named."""

from pathlib import Path

import pytest

from solidice_storage import config
from solidice_storage.config import Config, ConfigError, NfsDefaults

EXAMPLE = Path(__file__).parents[2] / "etc" / "storage.conf"


def test_a_missing_file_gives_the_built_in_defaults(tmp_path):
    assert config.load(tmp_path / "absent.conf") == Config()


def test_the_shipped_example_is_all_defaults():
    loaded = config.load(EXAMPLE)
    assert loaded == Config(source=EXAMPLE)


def test_every_key_is_read(tmp_path):
    path = tmp_path / "storage.conf"
    path.write_text("""
[mounts]
allowed-roots = ["/rhev/data-center/mnt", "/var/lib/libvirt/images/"]
[nfs]
timeo = 50
retrans = 2
retry = 0
hard = true
mount-timeout = 30
[lvm]
concurrency = 2
[polkit]
timeout = 10
pending-per-caller = 2
pending-total = 20
""")
    loaded = config.load(path)
    assert loaded.mount_roots == config.DEFAULT_MOUNT_ROOTS + (
        "/rhev/data-center/mnt", "/var/lib/libvirt/images")
    assert loaded.nfs == NfsDefaults(timeo=50, retrans=2, retry=0, hard=True,
                                     mount_timeout=30)
    assert (loaded.lvm_concurrency, loaded.polkit_timeout) == (2, 10.0)
    assert (loaded.polkit_pending_per_caller, loaded.polkit_pending_total) == (2, 20)


@pytest.mark.parametrize("text, line, words", [
    ("[nfs]\ntimeo = 50\nretrans = \n", 3, "Invalid value"),
    ("[nfs]\ntimeo = 50\n\nretrans = -1\n", 4, "retrans must be an integer"),
    ("[lvm]\nconcurrency = true\n", 2, "concurrency must be an integer"),
    ("[lvm]\nconcurency = 2\n", 2, "unknown key 'concurency'"),
    ("# a comment\n[nsf]\ntimeo = 1\n", 2, "unknown section [nsf]"),
    ("[mounts]\nallowed-roots = [\"/home/vm\"]\n", 2, "outside system and home"),
    ("[mounts]\nallowed-roots = [\"/srv/../etc\"]\n", 2, "normalised"),
    ("[mounts]\nallowed-roots = \"/srv\"\n", 2, "a list"),
    ("[polkit]\ntimeout = 0\n", 2, "timeout must be a number"),
])
def test_a_malformed_file_is_refused_naming_the_line(tmp_path, text, line, words):
    path = tmp_path / "storage.conf"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        config.load(path)
    assert f"line {line}" in str(error.value)
    assert words in str(error.value)
    assert str(path) in str(error.value)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "storage.conf"
    path.write_bytes(b"[nfs]\ntimeo = 1 # \xff\n")
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(path)

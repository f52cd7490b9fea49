# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon and its configuration file: read at start, a malformed one refused."""

from conftest import NAME, _wait_for_name


def test_a_malformed_configuration_stops_the_daemon_naming_the_line(start_daemon, tmp_path):
    conf = tmp_path / "storage.conf"
    conf.write_text("[nfs]\ntimeo = 100\nretrans = \"three\"\n")
    daemon = start_daemon("--config", str(conf), wait=False)
    daemon.expected_status = 2
    assert daemon.proc.wait(30) == 2
    output = daemon.output()
    assert f"{conf}, line 3: [nfs] retrans must be an integer" in output
    assert "Traceback" not in output


def test_a_valid_configuration_is_read_and_named_in_the_log(start_daemon, tmp_path, system_bus):
    conf = tmp_path / "storage.conf"
    conf.write_text("[polkit]\ntimeout = 5\n[mounts]\nallowed-roots = [\"/rhev/data-center/mnt\"]\n")
    daemon = start_daemon("--config", str(conf))
    _wait_for_name(system_bus, NAME)
    assert f"configuration read from {conf}" in daemon.output()


def test_without_a_file_the_defaults_apply(start_daemon, tmp_path):
    daemon = start_daemon("--config", str(tmp_path / "absent.conf"))
    assert "configuration read from" not in daemon.output()
    assert daemon.proc.poll() is None

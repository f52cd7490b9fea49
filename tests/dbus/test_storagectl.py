"""solidice-storagectl against the daemon: what it prints is the tree's truth."""

import json
import subprocess
import sys

from storage import IFACE


def ctl(address, *args):
    return subprocess.run([sys.executable, "-m", "solidice_storage.cli", "--address",
                           address, *args], capture_output=True, text=True, timeout=30)


async def test_lun_list_json_matches_the_tree(storage, system_bus):
    result = ctl(system_bus, "--json", "lun", "list")
    assert result.returncode == 0, result.stderr
    listed = {lun["Uuid"] for lun in json.loads(result.stdout)}
    tree = {i[IFACE + "Lun"]["Uuid"] for i in (await storage.objects()).values()
            if IFACE + "Lun" in i}
    assert listed == tree and len(listed) == 7


async def test_lv_list_table_and_errors(storage, system_bus):
    result = ctl(system_bus, "lv", "list", "vmstore")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["VG", "NAME", "SIZE", "ACTIVE", "ATTR"]
    assert "templates" in result.stdout and "8.0 GiB" in result.stdout
    missing = ctl(system_bus, "lv", "list", "nosuch")
    assert missing.returncode == 1 and "no volume group named nosuch" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_service_not_running_is_one_sentence(system_bus):
    result = ctl(system_bus, "status")
    assert result.returncode == 3 and "not running" in result.stderr
    assert "Traceback" not in result.stderr

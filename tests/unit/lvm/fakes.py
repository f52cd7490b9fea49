# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the LVM engine's tests build it from: LVM's captured output, a stand-in
`lvm`, and a LUN index over a fixed set of device nodes."""

from pathlib import Path

from solidice_storage.engine.host.lvm.engine import LvmEngine
from solidice_storage.engine.host.lvm.report import parse_report
from solidice_storage.engine.host.runner import Result, Runner
from solidice_storage.engine.intents import Intents
from solidice_storage.engine.jobs import Jobs
from solidice_storage.engine.store import StateStore
from solidice_storage.errors import NotFound

DATA = Path(__file__).parents[1] / "data/lab"
VG_UUID = "Fwx8ij-Jkde-xft9-I7a2-I40o-4zPu-V5ViaD"


def captured(name: str) -> Result:
    """A command's result as the lab captured it (tests/unit/data/lab)."""
    text = (DATA / name).read_text()
    head, rest = text.split("# stdout:\n", 1)
    out, err = rest.split("# stderr:\n", 1)
    return Result(int(head.split("# exit ")[1].split()[0]), out, err)


def pv_devices(name: str) -> list[str]:
    """The PV device nodes of a captured report, as it lists them."""
    return [row["pv_name"] for row in parse_report(captured(name).stdout).pvs]


class Luns:
    """A LUN index (engine.LunIndex): device node → WWID; counts the scans asked for."""

    def __init__(self, nodes: dict[str, str] | None = None) -> None:
        self.nodes = dict(nodes or {})
        self.scans = 0

    @classmethod
    def named_by_wwid(cls, devices: list[str]) -> "Luns":
        """The lab's maps: /dev/mapper/<WWID>."""
        return cls({device: device.rsplit("/", 1)[1] for device in devices})

    def lun_for_device(self, device: str) -> str | None:
        return self.nodes.get(device)

    def device_for_wwid(self, wwid: str) -> str:
        for node, found in self.nodes.items():
            if found == wwid:
                return node
        raise NotFound(f"no LUN {wwid}")

    async def scan(self) -> None:
        self.scans += 1


def script(path: Path, text: str) -> str:
    """An executable stand-in at `path`; its path."""
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def lvm_engine(tmp_path: Path, lvm: str | None = None, luns: Luns | None = None,
               intents: Intents | None = None, **kwargs) -> LvmEngine:
    """An LvmEngine over a stand-in `lvm` (None: none), with no dmsetup or udevadm
    unless `tools` names them; LVM's hints file and the intent records in tmp_path."""
    tools = {"lvm": lvm} if lvm else {}
    tools.update(kwargs.pop("tools", {}))
    store = StateStore()
    kwargs.setdefault("hints_file", str(tmp_path / "hints"))
    return LvmEngine(Runner(tools), store, Jobs(store),
                     intents or Intents(tmp_path / "state"), luns or Luns(), **kwargs)

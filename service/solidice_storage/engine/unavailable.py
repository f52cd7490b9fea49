"""What the real host engine cannot do yet, said plainly.

`HostEngine` builds on this: each operation whose engine has not landed answers
`NotSupported`, saying what is missing and what to use meanwhile.
"""

from .. import __version__
from ..errors import NotSupported
from .store import StateStore

MESSAGE = ("{what} on this host is not available in this build of solidice-storage "
           "yet; run solidice-storaged --sim for the simulated host")


def _missing(what: str):
    async def operation(self, *args, **kwargs):
        raise NotSupported(MESSAGE.format(what=what))
    return operation


def _missing_read(what: str):
    def read(self, *args, **kwargs):
        raise NotSupported(MESSAGE.format(what=what))
    return read


class UnavailableEngine:
    description = f"real host, no engine available (solidice-storage {__version__})"
    multipath = False
    iscsi_initiator_name = ""

    def __init__(self) -> None:
        self.store = StateStore()

    async def start(self) -> None:
        pass

    def serving(self) -> None:
        pass

    async def close(self) -> None:
        pass

    enumerate_luns = _missing_read("LUN discovery")
    enumerate_volume_groups = _missing_read("LVM")
    list_physical_volumes = _missing_read("LVM")
    list_logical_volumes = _missing_read("LVM")
    get_block_info = _missing("block device information")
    discover_iscsi_targets = _missing("iSCSI")
    login_iscsi = _missing("iSCSI")
    logout_iscsi = _missing("iSCSI")
    enumerate_iscsi_luns = _missing("iSCSI")
    rescan = _missing("Rescanning storage")
    create_volume_group = _missing("LVM")
    remove_volume_group = _missing("LVM")
    extend_volume_group = _missing("LVM")
    remove_physical_volume = _missing("LVM")
    create_logical_volume = _missing("LVM")
    extend_logical_volume = _missing("LVM")
    remove_logical_volume = _missing("LVM")
    snapshot_logical_volume = _missing("LVM")
    activate_logical_volume = _missing("LVM")
    deactivate_logical_volume = _missing("LVM")
    mount_nfs = _missing("NFS")
    unmount = _missing("NFS")

    def cancel_job(self, job_id: int) -> None:
        pass


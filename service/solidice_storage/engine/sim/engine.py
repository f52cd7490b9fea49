"""The simulated host: every operation of the contract, in memory.

For trying the service and for the fast D-Bus tier; never proof that a real feature
works. It uses the same validation and resolver as the real engine, never touches
the filesystem or the network, and starts from `sim_host`'s believable host. In it
every valid NFS server exports every absolute path, except `unreachable.invalid`,
which never answers (so clients can test their timeouts). Changes on the array
(`grow_lun`, `map_lun`, and those `sim_host` starts with) reach the host only when
it rescans.
"""

import asyncio
import contextlib
import logging

from ... import __version__, objpath, validation
from ...errors import AlreadyExists, Busy, Failed, InvalidArgument, NotFound, Timeout
from ...models import IscsiSession, Lun, LogicalVolume, Mount, PhysicalVolume, VolumeGroup
from ...validation import Options
from .. import resolve, sim_host
from ..protocol import BlockInfo
from ...config import NfsDefaults
from ..rules import DISCOVERY_TIMEOUT, ISCSI_TIMEOUT, nfs_mount_options
from ..sim_lvm import PE_START, STEP, SimLvm
from ..store import StateStore
from ..jobs import Jobs

log = logging.getLogger(__name__)
# The simulated host's directories beyond sim_host's: one with contents (a mount
# there is Busy) and one a user owns (no mount point in or below it, as on a real
# host: engine/nfs.py).
MORE_DIRS = {"/mnt/archive", "/mnt/archive/2025"}
USER_DIRS = {"/srv/upload": 1000}



class SimEngine(resolve.Resolver, SimLvm):
    description = f"simulated host (solidice-storage {__version__})"
    multipath = True
    iscsi_initiator_name = sim_host.INITIATOR

    def __init__(self, bulk_lvs: int = 0, faults: frozenset[str] = frozenset()) -> None:
        self.store = StateStore()
        self.jobs = Jobs(self.store)
        self.new_uuid = sim_host.UuidSource()
        self.system_disk = sim_host.SYSTEM_DISK
        self._bulk_lvs = bulk_lvs
        self._armed_faults = faults
        self._faults: frozenset[str] = frozenset()   # armed once the host is seeded
        self.targets = sim_host.targets()
        self.sessions: set[tuple[str, str]] = set()   # (target, portal)
        self.node_startup: dict[tuple[str, str], str] = {}
        # the node records' CHAP credentials, as a login stored them
        self.node_chap: dict[tuple[str, str], tuple[str, str]] = {}
        self.dirs = set(sim_host.EXISTING_DIRS) | MORE_DIRS | set(USER_DIRS)
        self.busy_mounts: set[str] = set()
        self._mounting: set[str] = set()
        self._init_lvm()

    def _fault(self, operation: str) -> None:
        """--sim-fault: make an operation fail as a bug would, to test the bus layer."""
        if operation in self._faults:
            raise RuntimeError(f"injected fault in {operation}")

    async def start(self) -> None:
        for key, device, size, vendor, model, serial, transport, status in sim_host.LOCAL_DISKS:
            self.store.publish([Lun(wwid=key, device=device, size=size, vendor=vendor,
                                    model=model, serial=serial, transport=transport,
                                    status=status)])
        for portal in sim_host.PORTALS:
            self._set_session(sim_host.DATA_TARGET, portal, True)
        await self._seed_vmstore()
        if self._bulk_lvs:
            await self._seed_bulk(self._bulk_lvs)
        server, remote, local, options = sim_host.EXISTING_MOUNT
        self.store.publish([Mount(server=server, remote_path=remote, local_path=local,
                                  options=options)])
        self.busy_mounts.add(local)
        self._faults = self._armed_faults

    async def _seed_vmstore(self) -> None:
        seed = sim_host.VMSTORE
        uuid = await self.create_volume_group(seed["name"], seed["pvs"], Options())
        vg = self.store.get(VolumeGroup, uuid)
        self.store.publish([vg.model_copy(update={"managed": False, "tags": ()})])
        by_name = {}
        for name, size, active, is_open, origin in seed["lvs"]:
            if origin is None:
                lv = await self.create_logical_volume(uuid, name, size,
                                                      Options(activate=active))
            else:
                lv = await self._snapshot(self.store.get(LogicalVolume, by_name[origin]),
                                          vg, name, size, _NoJob())
            by_name[name] = lv
            if is_open:
                model = self.store.get(LogicalVolume, lv)
                attrs = model.attributes
                self.store.publish([model.model_copy(
                    update={"attributes": attrs[:5] + "o" + attrs[6:]})])

    async def _seed_bulk(self, count: int) -> None:
        """--sim-lvs N: a VG `bulk` on the NVMe disk with N small LVs."""
        uuid = await self.create_volume_group("bulk", ["eui.0025388b91c2d3e4"], Options())
        for number in range(count):
            await self.create_logical_volume(uuid, f"lv{number:05d}", 4 * sim_host.MiB,
                                             Options())

    def serving(self) -> None:
        pass

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # ---- LUNs ----

    def enumerate_luns(self) -> list[str]:
        return list(self.store.all(Lun))

    def _set_session(self, target: str, portal: str, present: bool) -> None:
        """Add or drop a session and republish the LUNs behind its target."""
        (self.sessions.add if present else self.sessions.discard)((target, portal))
        self._publish_target(target)
        if not present:
            session = IscsiSession(target=target, portal=portal)
            self.store.publish(removals=[("IscsiSession", session.key)])

    def _publish_target(self, target: str) -> None:
        """Republish the LUNs behind `target` and its sessions, as the host has
        found them: a LUN's paths are those of the sessions there are."""
        updates, removals = [], []
        for sim_lun in self.targets[target].luns:
            paths = tuple((device, "failed" if device in sim_lun.failed_paths else "active")
                          for p, device in sim_lun.path_devices.items()
                          if (target, p) in self.sessions)
            known = self.store.get(Lun, sim_lun.wwid)
            if not paths:
                removals.append(("Lun", sim_lun.wwid))
            elif known is not None:
                updates.append(known.model_copy(update={"paths": paths,
                                                        "size": sim_lun.size}))
            else:
                updates.append(Lun(
                    wwid=sim_lun.wwid, device=f"/dev/mapper/{sim_lun.wwid}",
                    size=sim_lun.size, vendor="LIO-ORG", model=sim_lun.model,
                    serial=sim_lun.serial, transport="iscsi", multipath=True,
                    paths=paths))
        wwids = tuple(lun.wwid for lun in self.targets[target].luns)
        self.store.publish(updates, removals)
        self.store.publish([IscsiSession(target=target, portal=p, luns=wwids)
                            for t, p in sorted(self.sessions) if t == target])

    async def get_block_info(self, name_or_uuid: str) -> BlockInfo:
        ref = validation.reference(name_or_uuid, "name or UUID")   # as the host's
        finders = {"Lun": self._lun_info, "PhysicalVolume": self._pv_info,
                   "LogicalVolume": self._lv_info}
        if ref.startswith("/org/"):
            kind = (objpath.parse(ref) or ("", ""))[0]
            if kind not in finders:
                raise InvalidArgument(f"{ref} is not the object path of a device")
            return finders[kind](ref)
        for lun in self.store.all(Lun).values():
            for device, _ in lun.paths:
                if ref in (device, f"/dev/{device}"):
                    return BlockInfo(uuid=lun.wwid, size=lun.size, path=f"/dev/{device}",
                                     type="disk", used_by=f"multipath:{lun.device}",
                                     name=device)
        lv_ref = ref
        if ref.startswith("/dev/mapper/") and "-" in ref[12:].replace("--", ""):
            vg, _, lv = ref[12:].replace("--", "\0").partition("-")
            lv_ref = f"{vg}/{lv}".replace("\0", "-")
        elif ref.startswith("/dev/") and ref.count("/") == 3:
            lv_ref = ref[5:]
        for finder, key in ((self._lun_info, ref), (self._pv_info, ref),
                            (self._lv_info, lv_ref)):
            try:
                return finder(key)
            except NotFound:
                continue
        raise NotFound(f"no device, LUN or volume {name_or_uuid!r}")

    def _lun_info(self, ref: str) -> BlockInfo:
        lun = resolve.lun(self.store, ref)
        used_by = {"free": "", "pv": "pv", "partitioned": "partition-table"}.get(
            lun.status, lun.status)
        if pv := self.store.get(PhysicalVolume, lun.physical_volume):
            vg = self.store.get(VolumeGroup, pv.volume_group)
            used_by = f"pv:{vg.name}" if vg else "pv"
        return BlockInfo(uuid=lun.wwid, size=lun.size, path=lun.device,
                         type="multipath" if lun.multipath else "disk",
                         used_by=used_by, name=lun.device.rsplit("/", 1)[-1])

    def _pv_info(self, ref: str) -> BlockInfo:
        pv = resolve.physical_volume(self.store, ref)
        info = self._lun_info(pv.lun)
        return info.model_copy(update={"uuid": pv.uuid, "size": pv.size})

    def _lv_info(self, ref: str) -> BlockInfo:
        lv = resolve.logical_volume(self.store, ref)
        return BlockInfo(uuid=lv.uuid, size=lv.size, path=lv.path, type="lvm",
                         used_by="open" if lv.is_open else "", name=lv.name)

    # ---- iSCSI ----

    async def _reach(self, portal: str, timeout: float) -> None:
        host = portal.rsplit(":", 1)[0]
        if host == sim_host.UNREACHABLE:
            await asyncio.sleep(timeout)
            raise Timeout(f"portal {portal} did not answer within {timeout:g} s")
        if portal not in sim_host.PORTALS:
            raise Failed(f"cannot connect to portal {portal}: connection refused")

    async def discover_iscsi_targets(self, portal: str, opts: Options,
                                     uid: int = 0) -> list[tuple[str, str]]:
        await self._reach(portal, opts.get("timeout", DISCOVERY_TIMEOUT))
        return [(name, p) for name, target in self.targets.items()
                if portal in target.portals for p in target.portals]

    async def login_iscsi(self, portal: str, target: str, opts: Options, uid: int) -> str:
        if (target, portal) in self.sessions:
            given = _chap(opts)
            if given is not None and given != self.node_chap.get((target, portal)):
                raise Busy(f"a session to {target} through {portal} is logged in "
                           "already, with other CHAP credentials; log out first to "
                           "change them")
            if "node-startup" not in opts:
                return IscsiSession(target=target, portal=portal).key
        job = self.jobs.start("iscsi-login", [], uid, cancelable=False)
        return await self.jobs.run(job, self._login(portal, target, opts))

    async def _login(self, portal: str, target: str, opts: Options) -> str:
        await self._reach(portal, opts.get("timeout", ISCSI_TIMEOUT))
        sim_target = self.targets.get(target)
        if sim_target is None or portal not in sim_target.portals:
            raise NotFound(f"portal {portal} offers no target {target}")
        chap = _chap(opts) or self.node_chap.get((target, portal))    # else the record's
        if sim_target.chap and chap != sim_target.chap:
            raise Failed(f"login to {target} through {portal} failed: authorization "
                         "failure; check the CHAP username and password")
        if "node-startup" in opts:
            self.node_startup[(target, portal)] = opts["node-startup"]
        if chap is not None:
            self.node_chap[(target, portal)] = chap
        if (target, portal) not in self.sessions:
            await asyncio.sleep(STEP)
            self._set_session(target, portal, True)
        return IscsiSession(target=target, portal=portal).key

    async def logout_iscsi(self, portal: str, target: str, opts: Options,
                           uid: int = 0) -> None:
        if (target, portal) not in self.sessions:
            raise NotFound(f"no session to {target} through {portal}")
        others = {p for t, p in self.sessions if t == target and p != portal}
        for sim_lun in self.targets[target].luns:
            lun = self.store.get(Lun, sim_lun.wwid)
            if lun and lun.status == "pv" and not others & set(sim_lun.path_devices):
                raise Busy(f"LUN {lun.wwid} behind {target} holds a physical volume; "
                           "remove it from its volume group first")
        self._set_session(target, portal, False)

    async def enumerate_iscsi_luns(self, portal: str, target: str, opts: Options,
                                   uid: int | None) -> list[str]:
        if (target, portal) not in self.sessions:
            if not opts.get("login", True):
                raise NotFound(f"no session to {target} through {portal}; "
                               "log in first or leave login true")
            if uid is None:                   # not authorized: no login
                raise NotFound(f"no session to {target} through {portal} any more")
            await self.login_iscsi(portal, target, opts, uid)
        return [lun.wwid for lun in self.targets[target].luns]

    # ---- rescanning: what changed on the array ----

    def grow_lun(self, wwid: str, size: int) -> None:
        """The array grows iSCSI LUN `wwid` to `size` bytes; the host sees it on a
        rescan. ValueError unless it is such a LUN and `size` is larger."""
        sim_lun = next((lun for t in self.targets.values() for lun in t.luns + t.unscanned
                        if lun.wwid == wwid), None)
        if sim_lun is None or size <= (sim_lun.grown_to or sim_lun.size):
            raise ValueError(f"the simulated array cannot grow {wwid} to {size} bytes")
        sim_lun.grown_to = size

    def map_lun(self, target: str, size: int) -> str:
        """The array maps a new LUN of `size` bytes on `target`; returns its WWID.
        The host finds it on a rescan when it has a session to `target`."""
        return sim_host.map_new_lun(self.targets, target, size).wwid

    async def rescan(self, opts: Options) -> None:
        await asyncio.sleep(STEP)
        for target in sorted({t for t, _ in self.sessions}):
            sim_target = self.targets[target]
            sim_target.luns += sim_target.unscanned
            sim_target.unscanned = []
            grown = [lun for lun in sim_target.luns if lun.grown_to is not None]
            for sim_lun in grown:
                sim_lun.size, sim_lun.grown_to = sim_lun.grown_to, None
            self._publish_target(target)
            for sim_lun in grown:
                await self._resize_pv(sim_lun.wwid)

    async def _resize_pv(self, wwid: str) -> None:
        """pvresize: a PV on LUN `wwid` takes up the LUN's new size."""
        lun = self.store.get(Lun, wwid)
        pv = self.store.get(PhysicalVolume, lun.physical_volume if lun else None)
        if pv is None:
            return
        with contextlib.suppress(NotFound):        # the VG went away meanwhile
            async with self._locked(pv.volume_group) as vg:
                pv, lun = self.store.get(PhysicalVolume, pv.uuid), self.store.get(Lun, wwid)
                if pv is None or lun is None or pv.uuid not in vg.physical_volumes:
                    return                         # gone from the VG meanwhile
                size = (lun.size - PE_START) // vg.extent_size * vg.extent_size
                self.store.publish([pv.model_copy(update={"size": size})])
                self._publish_vg(vg)

    # ---- NFS ----

    async def mount_nfs(self, server: str, remote_path: str, local_path: str,
                        opts: Options, uid: int) -> str:
        if local_path in self._mounting:
            raise Busy(f"a mount on {local_path} is in progress")
        if existing := self.store.get(Mount, local_path):
            if (existing.server, existing.remote_path) == (server, remote_path):
                raise AlreadyExists(f"{server}:{remote_path} is mounted on {local_path}")
            raise Busy(f"{existing.server}:{existing.remote_path} is mounted on "
                       f"{local_path}")
        created = self._mountpoint(local_path, opts.get("create-mountpoint", False))
        job = self.jobs.start("nfs-mount", [], uid, cancelable=False)
        self._mounting.add(local_path)
        try:
            return await self.jobs.run(job, self._mount(server, remote_path, local_path, opts))
        except BaseException:
            self.dirs -= created
            raise
        finally:
            self._mounting.discard(local_path)

    def _mountpoint(self, path: str, create: bool) -> set[str]:
        for directory, uid in USER_DIRS.items():
            if path == directory or path.startswith(directory + "/"):
                raise InvalidArgument(
                    f"{directory} may be changed by users other than root (owner uid "
                    f"{uid}, mode 0755): a mount point, and every directory on the way "
                    "to it below its root, must be root's and writable by root only")
        if path in self.dirs:
            if any(d.startswith(path + "/") for d in self.dirs):
                raise Busy(f"{path} is not empty; mounting there would hide its files")
            return set()
        if not create:
            raise NotFound(f"{path} does not exist; pass create-mountpoint=true")
        created, parent = set(), path
        while parent not in self.dirs and parent != "/":
            created.add(parent)
            parent = parent.rsplit("/", 1)[0] or "/"
        self.dirs |= created
        return created

    async def _mount(self, server: str, remote_path: str, local_path: str,
                     opts: Options) -> str:
        timeout = opts.get("timeout", NfsDefaults().mount_timeout)
        if server == sim_host.UNREACHABLE:
            await asyncio.sleep(timeout)
            raise Timeout(f"NFS server {server} did not answer within {timeout} s")
        await asyncio.sleep(STEP)
        options = nfs_mount_options(opts)
        if "vers" not in opts:
            options += ",vers=4.2"
        self.store.publish([Mount(server=server, remote_path=remote_path,
                                  local_path=local_path, options=options,
                                  persistent=opts.get("persistent", False))])
        return local_path

    async def unmount(self, local_path: str, force: bool, opts: Options) -> None:
        if self.store.get(Mount, local_path) is None:
            raise NotFound(f"no NFS mount on {local_path}")
        if local_path in self.busy_mounts and not force:
            raise Busy(f"{local_path} is in use; pass force to detach it anyway")
        self.busy_mounts.discard(local_path)
        self.store.publish(removals=[("Mount", local_path)])

    def cancel_job(self, job_id: int) -> None:
        self.jobs.cancel(job_id)


def _chap(opts: Options) -> tuple[str, str] | None:
    """The CHAP credentials a login was given, or None."""
    if "username" not in opts and "password" not in opts:
        return None
    return opts.get("username", ""), opts.get("password", "")


class _NoJob:
    """Stands in for a job while seeding."""

    def progress(self, fraction: float) -> None:
        pass

    def check(self) -> None:
        pass


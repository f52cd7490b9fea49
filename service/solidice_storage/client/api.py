# SPDX-License-Identifier: LGPL-2.1-or-later
"""StorageClient: the asyncio client of org.solidice.Storage, on dbus-fast.

Every method of the contract as a Python method; models back, not variants; named
errors as exceptions (`errors.py`). The connection, the calls and the signals are
the transport's (`transport.py`); finding one object is `lookups.py`, following
the tree's changes `watching.py`.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from .. import models, objpath
from . import arguments as check
from . import convert, events, lookups, watching
from . import objects as handles
from .errors import InvalidArgumentError
from .transport import CHANGE_TIMEOUT, READ_TIMEOUT, Transport

# The Host's methods that only read (the others change the host).
_HOST_READS = {"EnumerateLuns", "EnumerateVolumeGroups"}


class _TransportSetting:
    """An attribute of the client that is its transport's attribute of the same name
    (the client's settings live where the calls are made)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, client: Any, owner: type | None = None) -> Any:
        return self if client is None else getattr(client.transport, self.name)

    def __set__(self, client: Any, value: Any) -> None:
        setattr(client.transport, self.name, value)


class HostInfo(BaseModel):
    """The Host object's properties; lists hold keys (WWIDs, UUIDs, local paths,
    `target@portal`)."""

    model_config = ConfigDict(frozen=True)
    version: str
    multipath: bool
    iscsi_initiator_name: str
    luns: tuple[str, ...]
    volume_groups: tuple[str, ...]
    mounts: tuple[str, ...]
    iscsi_sessions: tuple[str, ...]


class DiscoveredTarget(BaseModel):
    """A target a portal offers, and a portal to reach it through."""

    model_config = ConfigDict(frozen=True)
    target: str
    portal: str


class StorageClient:
    """A connection to org.solidice.Storage.

        async with StorageClient.connect() as storage:          # the system bus
            for vg in await storage.volume_groups():
                print(vg.name, vg.free_size)

    Handles stay current: the client keeps the service's tree from its signals
    (see `objects.py`). `session=True` uses the session bus (a `--sim --session`
    service), `address` any bus. Every method takes `call_timeout` (seconds) to override the defaults,
    `read_timeout` for reads and `change_timeout` for changes. Errors are
    `StorageClientError`s (see `solidice_storage.client.errors`). `transport` is
    the connection underneath.
    """

    def __init__(self, *, session: bool = False, address: str | None = None,
                 read_timeout: float = READ_TIMEOUT,
                 change_timeout: float = CHANGE_TIMEOUT) -> None:
        self.transport = Transport(session=session, address=address,
                                   read_timeout=read_timeout,
                                   change_timeout=change_timeout)

    session = _TransportSetting()
    address = _TransportSetting()
    read_timeout = _TransportSetting()
    change_timeout = _TransportSetting()

    # ---- connection ----

    @classmethod
    def connect(cls, *, session: bool = False, address: str | None = None,
                read_timeout: float = READ_TIMEOUT,
                change_timeout: float = CHANGE_TIMEOUT) -> "StorageClient":
        """A client to use as `async with StorageClient.connect() as storage:` (or
        `storage = await StorageClient.connect()`, then `await storage.close()`)."""
        return cls(session=session, address=address, read_timeout=read_timeout,
                   change_timeout=change_timeout)

    def __await__(self):
        return self.open().__await__()

    async def __aenter__(self) -> "StorageClient":
        return await self.open()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def open(self) -> "StorageClient":
        """Connect to the bus and subscribe to the service's signals.
        ServiceUnavailableError when the bus cannot be reached."""
        await self.transport.open()
        return self

    async def close(self) -> None:
        """Disconnect; the client can't be used afterwards."""
        await self.transport.close()

    # ---- the Host: reads ----

    async def host(self, *, call_timeout: float | None = None) -> HostInfo:
        """The Host object's properties, read now: version, multipath, initiator
        name, and the keys of its LUNs, VGs, mounts and iSCSI sessions."""
        props = await self.transport.get_all(objpath.HOST, "Host", call_timeout)
        values = {convert.snake(name): convert._field_value("Host", name, value)
                  for name, value in props.items()}
        return HostInfo.model_validate(
            {k: v for k, v in values.items() if k in HostInfo.model_fields})

    async def enumerate_luns(self, **call: Any) -> list[handles.Lun]:
        """The host's LUNs: multipath maps, never their path devices; local disks."""
        paths = await self._host_call("Host", "EnumerateLuns", "a{sv}", {}, **call)
        return await handles.objects_at(self.transport, paths)

    async def enumerate_volume_groups(self, **call: Any) -> list[handles.VolumeGroup]:
        """The host's volume groups."""
        paths = await self._host_call("Host", "EnumerateVolumeGroups", "a{sv}", {}, **call)
        return await handles.objects_at(self.transport, paths)

    async def get_block_info(self, name_or_uuid: str, *,
                             call_timeout: float | None = None) -> models.BlockInfo:
        """What a device is (UUID, size, path, type, used-by), named by WWID (any
        spelling), UUID, `vg/lv`, object path or /dev path."""
        return await lookups.block_info(self.transport, check.text(name_or_uuid, "name"),
                                        call_timeout=call_timeout)

    async def objects(self, kind: str | None = None, *,
                      call_timeout: float | None = None) -> list[handles.StorageObject]:
        """Every object (of `kind`, e.g. "LogicalVolume"), read in one call,
        sorted by path."""
        if kind is not None and kind not in handles.HANDLES:
            raise InvalidArgumentError(f"no kind of object {kind!r}: the kinds are "
                                       f"{', '.join(sorted(handles.HANDLES))}")
        tree = await handles.managed_objects(self.transport, call_timeout)
        return [handle for handle in tree.values() if kind is None or handle.KIND == kind]

    async def luns(self) -> list[handles.Lun]:
        """Every LUN."""
        return await self.objects("Lun")

    async def volume_groups(self) -> list[handles.VolumeGroup]:
        """Every volume group."""
        return await self.objects("VolumeGroup")

    async def physical_volumes(self) -> list[handles.PhysicalVolume]:
        """Every physical volume, in a VG or not."""
        return await self.objects("PhysicalVolume")

    async def logical_volumes(self) -> list[handles.LogicalVolume]:
        """Every logical volume of every VG."""
        return await self.objects("LogicalVolume")

    async def mounts(self) -> list[handles.Mount]:
        """Every NFS mount, made by the service or not."""
        return await self.objects("Mount")

    async def iscsi_sessions(self) -> list[handles.IscsiSession]:
        """Every iSCSI session (one per target and portal)."""
        return await self.objects("IscsiSession")

    async def jobs(self) -> list[handles.Job]:
        """The jobs running now."""
        return await self.objects("Job")

    # ---- finding one object ----

    async def lun(self, ref: str) -> handles.Lun:
        """The LUN named by WWID (any spelling), device or object path."""
        return await self._find("Lun", "LUN", ref, lambda m: (m.wwid, m.device))

    async def volume_group(self, ref: str) -> handles.VolumeGroup:
        """The VG named by name, UUID or object path."""
        return await self._find("VolumeGroup", "volume group", ref,
                                lambda m: (m.name, m.uuid))

    async def physical_volume(self, ref: str) -> handles.PhysicalVolume:
        """The PV named by UUID, device, its LUN's WWID or object path."""
        return await self._find("PhysicalVolume", "physical volume", ref,
                                lambda m: (m.uuid, m.device, m.lun))

    async def logical_volume(self, ref: str) -> handles.LogicalVolume:
        """The LV named `vg/lv`, by UUID, /dev path or object path."""
        return await lookups.find_logical_volume(self.transport, check.text(ref, "ref"))

    async def mount(self, local_path: str) -> handles.Mount:
        """The NFS mount on `local_path`."""
        return await self._find("Mount", "NFS mount on", local_path,
                                lambda m: (m.local_path,))

    async def iscsi_session(self, target: str, portal: str | None = None
                            ) -> handles.IscsiSession:
        """The session to `target` (through `portal`, needed if there are several)."""
        return lookups.pick_session(await self.iscsi_sessions(), target, portal)

    async def job(self, ref: str | int) -> handles.Job:
        """The running job number `ref` (or its object path)."""
        return await self._find("Job", "running job", str(ref), lambda m: (str(m.id),))

    # ---- iSCSI ----

    async def discover_iscsi_targets(
            self, portal: str, *, username: str | None = None,
            password: str | None = None, timeout: int | None = None,
            no_user_interaction: bool | None = None,
            call_timeout: float | None = None) -> list[DiscoveredTarget]:
        """The targets `portal` offers (SendTargets), each with each of its portals;
        `username`/`password` for discovery CHAP, `timeout` seconds (service default
        30)."""
        opts = convert.options("DiscoverIscsiTargets", username=username, password=password,
                             timeout=timeout, no_user_interaction=no_user_interaction)
        pairs = await self._host_call("Host", "DiscoverIscsiTargets", "sa{sv}",
                                      check.text(portal, "portal"),
                                      opts, call_timeout=self._long(call_timeout, timeout))
        return [DiscoveredTarget(target=t, portal=p) for t, p in pairs]

    async def login_iscsi(self, portal: str, target: str, *,
                          username: str | None = None, password: str | None = None,
                          node_startup: str | None = None, timeout: int | None = None,
                          no_user_interaction: bool | None = None,
                          call_timeout: float | None = None) -> handles.IscsiSession:
        """Log in to `target` through `portal` (CHAP with `username`/`password`);
        `node_startup="automatic"` logs in again at boot. Returns the session."""
        opts = convert.options("LoginIscsi", username=username, password=password,
                             node_startup=node_startup, timeout=timeout,
                             no_user_interaction=no_user_interaction)
        path = await self._host_call("Host", "LoginIscsi", "ssa{sv}",
                                     check.text(portal, "portal"),
                                     check.text(target, "target"), opts,
                                     call_timeout=self._long(call_timeout, timeout))
        return await handles.object_at(self.transport, path)

    async def logout_iscsi(self, portal: str, target: str, *,
                           no_user_interaction: bool | None = None,
                           call_timeout: float | None = None) -> None:
        """Log out of `target` through `portal` (BusyError while a LUN only reached
        that way holds a PV)."""
        opts = convert.options("LogoutIscsi", no_user_interaction=no_user_interaction)
        await self._host_call("Host", "LogoutIscsi", "ssa{sv}", check.text(portal, "portal"),
                              check.text(target, "target"), opts,
                              call_timeout=call_timeout)

    async def enumerate_iscsi_luns(
            self, portal: str, target: str, *, username: str | None = None,
            password: str | None = None, node_startup: str | None = None,
            login: bool | None = None, timeout: int | None = None,
            no_user_interaction: bool | None = None,
            call_timeout: float | None = None) -> list[handles.Lun]:
        """The LUNs behind `target`, logging in first unless `login=False`."""
        opts = convert.options("EnumerateIscsiLuns", username=username, password=password,
                             node_startup=node_startup, login=login, timeout=timeout,
                             no_user_interaction=no_user_interaction)
        paths = await self._host_call("Host", "EnumerateIscsiLuns", "ssa{sv}",
                                      check.text(portal, "portal"),
                                      check.text(target, "target"), opts,
                                      call_timeout=self._long(call_timeout, timeout))
        return await handles.objects_at(self.transport, paths)

    async def rescan(self, *, no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Find LUNs newly mapped on the existing sessions and LUNs that grew."""
        opts = convert.options("Rescan", no_user_interaction=no_user_interaction)
        await self._host_call("Host", "Rescan", "a{sv}", opts, call_timeout=call_timeout)

    # ---- the StoragePool: VGs and NFS ----

    async def create_volume_group(self, name: str, devices: list[str], *,
                                  wipe: bool | None = None, extent_size: int | None = None,
                                  no_user_interaction: bool | None = None,
                                  call_timeout: float | None = None
                                  ) -> handles.VolumeGroup:
        """Create VG `name` on `devices` (WWIDs, /dev paths or object paths; pvcreate
        where needed). `wipe=True` allows devices holding a signature;
        `extent_size` in bytes. Returns the VG, on the bus."""
        opts = convert.options("CreateVolumeGroup", wipe=wipe, extent_size=extent_size,
                             no_user_interaction=no_user_interaction)
        path = await self._host_call("StoragePool", "CreateVolumeGroup", "sasa{sv}",
                                     check.text(name, "name"),
                                     check.texts(devices, "devices"), opts,
                                     call_timeout=call_timeout)
        return await handles.object_at(self.transport, path)

    async def remove_volume_group(self, vg: str, *, force: bool | None = None,
                                  no_user_interaction: bool | None = None,
                                  call_timeout: float | None = None) -> None:
        """Remove VG `vg` (name, UUID or path), its LVs and its PV labels; one the
        service did not create needs `force=True`."""
        opts = convert.options("RemoveVolumeGroup", force=force,
                             no_user_interaction=no_user_interaction)
        await self._host_call("StoragePool", "RemoveVolumeGroup", "sa{sv}",
                              check.text(vg, "vg"), opts,
                              call_timeout=call_timeout)

    async def mount_nfs(
            self, server: str, remote_path: str, local_path: str, *,
            vers: str | None = None, timeo: int | None = None, retrans: int | None = None,
            retry: int | None = None, hard: bool | None = None, ro: bool | None = None,
            proto: str | None = None, port: int | None = None, sec: str | None = None,
            rsize: int | None = None, wsize: int | None = None, nolock: bool | None = None,
            persistent: bool | None = None, create_mountpoint: bool | None = None,
            timeout: int | None = None, no_user_interaction: bool | None = None,
            call_timeout: float | None = None) -> handles.Mount:
        """Mount `server:remote_path` on `local_path` (always nosuid,nodev; soft,
        timeo=100,retrans=3 unless asked otherwise). The keywords are nfs(5)'s
        options; `persistent=True` keeps it across restarts and reboots,
        `create_mountpoint=True` makes the directory, `timeout` bounds the whole
        call (service default 90 s). Returns the mount."""
        opts = convert.options(
            "MountNfs", vers=vers, timeo=timeo, retrans=retrans, retry=retry, hard=hard,
            ro=ro, proto=proto, port=port, sec=sec, rsize=rsize, wsize=wsize,
            nolock=nolock, persistent=persistent, create_mountpoint=create_mountpoint,
            timeout=timeout, no_user_interaction=no_user_interaction)
        path = await self._host_call("StoragePool", "MountNfs", "sssa{sv}",
                                     check.text(server, "server"),
                                     check.text(remote_path, "remote_path"),
                                     check.text(local_path, "local_path"), opts,
                                     call_timeout=self._long(call_timeout, timeout or 90))
        return await handles.object_at(self.transport, path)

    async def unmount(self, local_path: str, force: bool = False, *,
                      no_user_interaction: bool | None = None,
                      call_timeout: float | None = None) -> None:
        """Unmount the NFS mount on `local_path`; `force=True` detaches it even
        while in use or its server is dead."""
        opts = convert.options("Unmount", no_user_interaction=no_user_interaction)
        await self._host_call("StoragePool", "Unmount", "sba{sv}",
                              check.text(local_path, "local_path"),
                              check.flag(force, "force"), opts,
                              call_timeout=call_timeout)

    # ---- changes ----

    async def watch(self, ready: asyncio.Event | None = None, *, resume: bool = False
                    ) -> AsyncIterator[events.Event]:
        """Yield the object tree's changes as they happen: ObjectAdded,
        ObjectRemoved, ObjectChanged (with the full new model), HostChanged and
        JobCompleted. Changes from before the call are not replayed; `ready` is
        set once every later change will be. Runs until the caller stops
        iterating.

        When the service's owner goes (stopped, killed, replaced) or the
        connection to the bus is lost: with `resume=False`, ServiceUnavailableError
        at once (as when the service is not running at the call). With
        `resume=True`, ServiceLost; then, when the service is back (the client
        connects to the bus again if it must), ServiceBack, followed by the
        changes between what the caller saw and the service's tree now, as
        ObjectAdded, ObjectRemoved and ObjectChanged (read with one
        GetManagedObjects), then the live changes again: nothing is missed.
        Jobs that were running are not resumed: their followers got
        ServiceUnavailableError."""
        async for event in watching.watch(self.transport, ready, resume):
            yield event

    # ---- calls ----

    def _long(self, call_timeout: float | None, option_timeout: int | None) -> float | None:
        return self.transport.long(call_timeout, option_timeout)

    async def _find(self, kind: str, what: str, ref: str,
                    names: lookups.Names) -> handles.StorageObject:
        return await lookups.find(self.transport, kind, what, check.text(ref, "ref"),
                                  names)

    async def _host_call(self, interface: str, member: str, signature: str, *args: Any,
                         call_timeout: float | None = None) -> Any:
        change = member not in _HOST_READS
        return await self.transport.call(objpath.HOST, interface, member, signature,
                                         *args, call_timeout=call_timeout, change=change)

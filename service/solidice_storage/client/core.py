"""StorageClient: the asyncio client of org.solidice.Storage, on dbus-fast.

One connection; every method of the contract as a Python method; models back, not
variants; named errors as exceptions (`errors.py`). The client subscribes to the
service's signals once, at connect, so a job it starts can't complete unseen
before it starts following it.

Signals are taken only from the service: broadcast (not unicast to this client) by
the unique name that owns org.solidice.Storage now, followed through the bus's
NameOwnerChanged. Any local user may send a signal with our path and interface,
and the bus delivers one addressed to us whatever our match rules say; a forged
`Job.Completed` must not end a data move the client is waiting on. What the client
remembers of jobs is forgotten when the owner changes (a restarted service starts
new jobs) and when a new job object appears at a path.
"""

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import AuthError, InvalidAddressError
from pydantic import BaseModel, ConfigDict

from .. import models, objpath
from . import convert, events
from . import objects as handles
from .errors import (InvalidArgumentError, NoReplyError, NotFoundError,
                     ServiceUnavailableError, StorageClientError, JobFailedError,
                     from_dbus)

SERVICE = "org.solidice.Storage"
INTERFACE = convert.INTERFACE
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
BUS = "org.freedesktop.DBus"
BUS_PATH = "/org/freedesktop/DBus"
OWNER_CHANGED = object()
"""Queued to the subscriptions when the service's owner changes (or goes)."""

READ_TIMEOUT = 30.0
"""Seconds a read may take by default: the service answers reads from memory."""
CHANGE_TIMEOUT = 300.0
"""Seconds a change may take by default: polkit may wait up to 120 s for a password,
then LVM, a login or a mount runs."""
TIMEOUT_MARGIN = 30.0
"""Seconds beyond a call's own `timeout` option, so the service's `TimedOutError`
reaches the caller before the client gives up waiting."""

HANDLES: dict[str, type[handles.StorageObject]] = {
    cls.KIND: cls for cls in (handles.Lun, handles.PhysicalVolume, handles.VolumeGroup,
                              handles.LogicalVolume, handles.Mount, handles.IscsiSession,
                              handles.Job)}


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

    `session=True` uses the session bus (a `--sim --session` service), `address`
    any bus. Every method takes `call_timeout` (seconds) to override the defaults,
    `read_timeout` for reads and `change_timeout` for changes. Errors are
    `StorageClientError`s (see `solidice_storage.client.errors`).
    """

    def __init__(self, *, session: bool = False, address: str | None = None,
                 read_timeout: float = READ_TIMEOUT,
                 change_timeout: float = CHANGE_TIMEOUT) -> None:
        self.session = session
        self.address = address
        self.read_timeout = read_timeout
        self.change_timeout = change_timeout
        self._bus: MessageBus | None = None
        self._queues: list[asyncio.Queue] = []
        # Outcomes of recently completed jobs, by path, for a follower that comes late.
        self._completed: collections.OrderedDict[str, tuple[bool, str]] = \
            collections.OrderedDict()
        self._owner: str | None = None       # the service's unique name, if running
        self._owner_query = 0                # the serial of our GetNameOwner call

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
        if self.address:
            bus, where = MessageBus(bus_address=self.address), self.address
        else:
            bus_type = BusType.SESSION if self.session else BusType.SYSTEM
            bus, where = MessageBus(bus_type=bus_type), f"the {bus_type.name.lower()} bus"
        try:
            await bus.connect()
        except (OSError, EOFError, AuthError, InvalidAddressError, ValueError) as error:
            raise ServiceUnavailableError(
                f"cannot reach {where} ({error}); is D-Bus running?") from error
        self._bus = bus
        bus.add_message_handler(self._on_message)
        for rule in (f"type='signal',sender='{SERVICE}',path_namespace='{objpath.ROOT}'",
                     f"type='signal',sender='{BUS}',path='{BUS_PATH}',interface='{BUS}',"
                     f"member='NameOwnerChanged',arg0='{SERVICE}'"):
            await self._raw_call(BUS, BUS_PATH, BUS, "AddMatch", "s", [rule],
                                 self.read_timeout)
        # Its reply is taken in _on_message, in order among the NameOwnerChanged
        # signals: the owner's changes from then on come after it.
        query = Message(destination=BUS, path=BUS_PATH, interface=BUS,
                        member="GetNameOwner", signature="s", body=[SERVICE])
        query.serial = self._owner_query = bus.next_serial()
        with contextlib.suppress(StorageClientError):    # not running: no owner
            await self._send(query, self.read_timeout)
        return self

    async def close(self) -> None:
        """Disconnect; the client can't be used afterwards."""
        if self._bus is not None:
            self._bus.disconnect()
            with contextlib.suppress(Exception):
                await self._bus.wait_for_disconnect()
            self._bus = None

    # ---- the Host: reads ----

    async def host(self, *, call_timeout: float | None = None) -> HostInfo:
        """The Host object's properties: version, multipath, initiator name, and the
        keys of its LUNs, VGs, mounts and iSCSI sessions."""
        props = await self._get_all(objpath.HOST, "Host", call_timeout)
        values = {convert.snake(name): convert._field_value("Host", name, value)
                  for name, value in props.items()}
        return HostInfo.model_validate(
            {k: v for k, v in values.items() if k in HostInfo.model_fields})

    async def enumerate_luns(self, **call: Any) -> list[handles.Lun]:
        """The host's LUNs: multipath maps, never their path devices; local disks."""
        paths = await self._host_call("Host", "EnumerateLuns", "a{sv}", {}, **call)
        return await self._objects_at(paths)

    async def enumerate_volume_groups(self, **call: Any) -> list[handles.VolumeGroup]:
        """The host's volume groups."""
        paths = await self._host_call("Host", "EnumerateVolumeGroups", "a{sv}", {}, **call)
        return await self._objects_at(paths)

    async def get_block_info(self, name_or_uuid: str, *,
                             call_timeout: float | None = None) -> models.BlockInfo:
        """What a device is (UUID, size, path, type, used-by), named by WWID (any
        spelling), UUID, `vg/lv`, object path or /dev path."""
        info = await self._host_call("Host", "GetBlockInfo", "sa{sv}", name_or_uuid, {},
                                     call_timeout=call_timeout)
        return convert.block_info(info)

    async def objects(self, kind: str | None = None, *,
                      call_timeout: float | None = None) -> list[handles.StorageObject]:
        """Every object (of `kind`, e.g. "LogicalVolume"), read in one call,
        sorted by path."""
        tree = await self._managed_objects(call_timeout)
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
        tree = await self._managed_objects()
        vg_names = {h.state.uuid: h.state.name for h in tree.values()
                    if h.KIND == "VolumeGroup"}
        return await self._find("LogicalVolume", "logical volume", ref, lambda m: (
            m.uuid, m.path, f"{vg_names.get(m.volume_group)}/{m.name}"), tree)

    async def mount(self, local_path: str) -> handles.Mount:
        """The NFS mount on `local_path`."""
        return await self._find("Mount", "NFS mount on", local_path,
                                lambda m: (m.local_path,))

    async def iscsi_session(self, target: str, portal: str | None = None
                            ) -> handles.IscsiSession:
        """The session to `target` (through `portal`, needed if there are several)."""
        found = [s for s in await self.iscsi_sessions() if s.state.target == target
                 and (portal is None or s.state.portal in (portal, f"{portal}:3260"))]
        if not found:
            raise NotFoundError(f"no iSCSI session to {target}"
                                + (f" through {portal}" if portal else ""))
        if len(found) > 1:
            raise InvalidArgumentError(f"{target} has sessions through several portals "
                                       f"({', '.join(s.portal for s in found)}); "
                                       "name the portal")
        return found[0]

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
        opts = self._options("DiscoverIscsiTargets", username=username, password=password,
                             timeout=timeout, no_user_interaction=no_user_interaction)
        pairs = await self._host_call("Host", "DiscoverIscsiTargets", "sa{sv}", portal,
                                      opts, call_timeout=self._long(call_timeout, timeout))
        return [DiscoveredTarget(target=t, portal=p) for t, p in pairs]

    async def login_iscsi(self, portal: str, target: str, *,
                          username: str | None = None, password: str | None = None,
                          node_startup: str | None = None, timeout: int | None = None,
                          no_user_interaction: bool | None = None,
                          call_timeout: float | None = None) -> handles.IscsiSession:
        """Log in to `target` through `portal` (CHAP with `username`/`password`);
        `node_startup="automatic"` logs in again at boot. Returns the session."""
        opts = self._options("LoginIscsi", username=username, password=password,
                             node_startup=node_startup, timeout=timeout,
                             no_user_interaction=no_user_interaction)
        path = await self._host_call("Host", "LoginIscsi", "ssa{sv}", portal, target, opts,
                                     call_timeout=self._long(call_timeout, timeout))
        return await self._object_at(path)

    async def logout_iscsi(self, portal: str, target: str, *,
                           no_user_interaction: bool | None = None,
                           call_timeout: float | None = None) -> None:
        """Log out of `target` through `portal` (BusyError while a LUN only reached
        that way holds a PV)."""
        opts = self._options("LogoutIscsi", no_user_interaction=no_user_interaction)
        await self._host_call("Host", "LogoutIscsi", "ssa{sv}", portal, target, opts,
                              call_timeout=call_timeout)

    async def enumerate_iscsi_luns(
            self, portal: str, target: str, *, username: str | None = None,
            password: str | None = None, node_startup: str | None = None,
            login: bool | None = None, timeout: int | None = None,
            no_user_interaction: bool | None = None,
            call_timeout: float | None = None) -> list[handles.Lun]:
        """The LUNs behind `target`, logging in first unless `login=False`."""
        opts = self._options("EnumerateIscsiLuns", username=username, password=password,
                             node_startup=node_startup, login=login, timeout=timeout,
                             no_user_interaction=no_user_interaction)
        paths = await self._host_call("Host", "EnumerateIscsiLuns", "ssa{sv}", portal,
                                      target, opts,
                                      call_timeout=self._long(call_timeout, timeout))
        return await self._objects_at(paths)

    async def rescan(self, *, no_user_interaction: bool | None = None,
                     call_timeout: float | None = None) -> None:
        """Find LUNs newly mapped on the existing sessions and LUNs that grew."""
        opts = self._options("Rescan", no_user_interaction=no_user_interaction)
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
        opts = self._options("CreateVolumeGroup", wipe=wipe, extent_size=extent_size,
                             no_user_interaction=no_user_interaction)
        path = await self._host_call("StoragePool", "CreateVolumeGroup", "sasa{sv}", name,
                                     list(devices), opts, call_timeout=call_timeout)
        return await self._object_at(path)

    async def remove_volume_group(self, vg: str, *, force: bool | None = None,
                                  no_user_interaction: bool | None = None,
                                  call_timeout: float | None = None) -> None:
        """Remove VG `vg` (name, UUID or path), its LVs and its PV labels; one the
        service did not create needs `force=True`."""
        opts = self._options("RemoveVolumeGroup", force=force,
                             no_user_interaction=no_user_interaction)
        await self._host_call("StoragePool", "RemoveVolumeGroup", "sa{sv}", vg, opts,
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
        opts = self._options(
            "MountNfs", vers=vers, timeo=timeo, retrans=retrans, retry=retry, hard=hard,
            ro=ro, proto=proto, port=port, sec=sec, rsize=rsize, wsize=wsize,
            nolock=nolock, persistent=persistent, create_mountpoint=create_mountpoint,
            timeout=timeout, no_user_interaction=no_user_interaction)
        path = await self._host_call("StoragePool", "MountNfs", "sssa{sv}", server,
                                     remote_path, local_path, opts,
                                     call_timeout=self._long(call_timeout, timeout or 90))
        return await self._object_at(path)

    async def unmount(self, local_path: str, force: bool = False, *,
                      no_user_interaction: bool | None = None,
                      call_timeout: float | None = None) -> None:
        """Unmount the NFS mount on `local_path`; `force=True` detaches it even
        while in use or its server is dead."""
        opts = self._options("Unmount", no_user_interaction=no_user_interaction)
        await self._host_call("StoragePool", "Unmount", "sba{sv}", local_path, force, opts,
                              call_timeout=call_timeout)

    # ---- changes ----

    async def watch(self, ready: asyncio.Event | None = None
                    ) -> AsyncIterator[events.Event]:
        """Yield the object tree's changes as they happen: ObjectAdded,
        ObjectRemoved, ObjectChanged (with the full new model), HostChanged and
        JobCompleted. Changes from before the call are not replayed; `ready` is
        set once every later change will be. Runs until the caller stops
        iterating (or the connection ends); ServiceUnavailableError when the
        service stops or another instance takes its name (its objects are not
        replayed: watch again)."""
        async with self._subscription() as queue:
            snapshot = Message(destination=SERVICE, path=objpath.ROOT,
                               interface=OBJECT_MANAGER, member="GetManagedObjects")
            snapshot.serial = self._bus.next_serial()
            reply = await self._send(snapshot, self.read_timeout)
            # Signals queued before the snapshot's reply are already in it.
            while (await queue.get()) is not reply:
                pass
            tree = {path: dict(ifaces) for path, ifaces in reply.body[0].items()}
            if ready is not None:
                ready.set()
            while True:
                message = await queue.get()
                if message is OWNER_CHANGED:
                    raise ServiceUnavailableError(
                        "the storage service stopped or was restarted; what was "
                        "watched may be stale: watch again")
                if isinstance(message, Message):
                    for event in _events(self, tree, message):
                        yield event

    # ---- internals shared with the handles ----

    def _options(self, method: str, **given: Any) -> dict[str, Variant]:
        return convert.options(method, **given)

    def _long(self, call_timeout: float | None, option_timeout: int | None) -> float | None:
        if call_timeout is not None or option_timeout is None:
            return call_timeout
        return max(self.change_timeout, option_timeout + TIMEOUT_MARGIN)

    async def _host_call(self, interface: str, member: str, signature: str, *args: Any,
                         call_timeout: float | None = None) -> Any:
        change = member not in _HOST_READS
        return await self._call(objpath.HOST, interface, member, signature, *args,
                                call_timeout=call_timeout, change=change)

    async def _call(self, path: str, interface: str, member: str, signature: str,
                    *args: Any, call_timeout: float | None = None,
                    change: bool = True) -> Any:
        """Call a method of the service; its one return value (None if none)."""
        if call_timeout is None:
            call_timeout = self.change_timeout if change else self.read_timeout
        body = await self._raw_call(SERVICE, path, INTERFACE + interface, member,
                                    signature, list(args), call_timeout)
        return body[0] if body else None

    async def _raw_call(self, destination: str, path: str, interface: str, member: str,
                        signature: str, body: list, call_timeout: float) -> list:
        message = Message(destination=destination, path=path, interface=interface,
                          member=member, signature=signature, body=body)
        return (await self._send(message, call_timeout)).body

    async def _send(self, message: Message, call_timeout: float) -> Message:
        if self._bus is None:
            raise ServiceUnavailableError("the client is not connected: use "
                                          "`async with StorageClient.connect()`")
        try:
            reply = await asyncio.wait_for(self._bus.call(message), call_timeout)
        except asyncio.TimeoutError:
            raise NoReplyError(f"the storage service did not answer {message.member} "
                               f"within {call_timeout:g} s; pass a longer call_timeout "
                               "or check the service's log") from None
        except DBusError as error:
            raise from_dbus(error.type, error.text) from None
        except (OSError, EOFError) as error:
            raise ServiceUnavailableError(f"lost the connection to the bus ({error})") \
                from error
        if reply.message_type is MessageType.ERROR:
            raise from_dbus(reply.error_name, reply.body[0] if reply.body else "")
        return reply

    async def _get_all(self, path: str, kind: str,
                       call_timeout: float | None = None) -> dict[str, Variant]:
        body = await self._raw_call(SERVICE, path, PROPERTIES, "GetAll", "s",
                                    [INTERFACE + kind], call_timeout or self.read_timeout)
        return body[0]

    async def _read_model(self, kind: str, path: str) -> models.Model:
        return convert.model(kind, path, await self._get_all(path, kind))

    async def _object_at(self, path: str) -> handles.StorageObject:
        kind = convert.kind_of(path)
        if kind is None:
            raise StorageClientError(f"the service answered with {path!r}, which is "
                                     "not one of its objects")
        return HANDLES[kind](self, path, await self._read_model(kind, path))

    def _job_at(self, path: str) -> handles.Job:
        """A handle on a job that may already have completed: no read needed to
        follow it (its model holds only its number until refreshed)."""
        return handles.Job(self, path, models.Job(id=int(convert.key_of(path)),
                                                  operation=""))

    async def _objects_at(self, paths: list[str]) -> list:
        tree = await self._managed_objects()
        return [tree[path] for path in paths if path in tree]

    async def _managed_objects(self, call_timeout: float | None = None
                               ) -> dict[str, handles.StorageObject]:
        body = await self._raw_call(SERVICE, objpath.ROOT, OBJECT_MANAGER,
                                    "GetManagedObjects", "", [],
                                    call_timeout or self.read_timeout)
        return {path: handle for path, ifaces in sorted(body[0].items())
                if (handle := _handle(self, path, ifaces)) is not None}

    async def _find(self, kind: str, what: str, ref: str, names,
                    tree: dict[str, handles.StorageObject] | None = None
                    ) -> handles.StorageObject:
        tree = tree if tree is not None else await self._managed_objects()
        candidates = [h for h in tree.values() if h.KIND == kind]
        found = [h for h in candidates if h.object_path == ref or ref in names(h.state)]
        if not found and kind in ("Lun", "LogicalVolume", "PhysicalVolume") \
                and not ref.startswith("/org/"):
            # The service's own resolver knows every spelling (naa.…, 0x…, /dev/mapper/…).
            with contextlib.suppress(NotFoundError, InvalidArgumentError):
                uuid = (await self.get_block_info(ref)).uuid
                found = [h for h in candidates if uuid in names(h.state)]
        if not found:
            raise NotFoundError(f"there is no {what} {ref}")
        if len(found) > 1:
            raise InvalidArgumentError(f"{ref} names several: "
                                       f"{', '.join(h.object_path for h in found)}")
        return found[0]

    # ---- signals ----

    @contextlib.asynccontextmanager
    async def _subscription(self) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.append(queue)
        try:
            yield queue
        finally:
            self._queues.remove(queue)

    @contextlib.asynccontextmanager
    async def _follow_job(self, path: str) -> AsyncIterator[AsyncIterator[float]]:
        async with self._subscription() as queue:
            yield self._job_progress(path, queue)

    async def _job_progress(self, path: str, queue: asyncio.Queue) -> AsyncIterator[float]:
        try:
            progress = float((await self._get_all(path, "Job"))["Progress"].value)
        except NotFoundError:
            # Gone: completed (its outcome was recorded, the signals being subscribed
            # to since connect), or never known to this connection.
            if path not in self._completed:
                raise NotFoundError(f"job {path} is not running") from None
        else:
            yield progress
        while path not in self._completed:
            message = await queue.get()
            if message is OWNER_CHANGED:
                raise ServiceUnavailableError(
                    f"the storage service stopped while job {path} ran; its outcome is "
                    "unknown: look at the objects it worked on")
            if (isinstance(message, Message) and message.path == path
                    and message.member == "PropertiesChanged"
                    and "Progress" in message.body[1]):
                yield float(message.body[1]["Progress"].value)
        success, text = self._completed[path]
        if not success:
            raise JobFailedError(text or f"job {path} failed")

    def _on_message(self, message: Message) -> None:
        """Runs for every message the connection receives, in order. Replies go to
        the queues too, so that watch() knows where its snapshot falls among the
        signals (it compares them by identity); signals only if the service sent
        them to everyone."""
        kind = message.message_type
        if kind is not MessageType.SIGNAL:
            if self._owner_query and message.reply_serial == self._owner_query:
                self._owner_query = 0
                self._owner_is(message.body[0] if kind is MessageType.METHOD_RETURN
                               and message.body else None)
            if kind is not MessageType.METHOD_RETURN:
                return
        elif (message.sender == BUS and message.member == "NameOwnerChanged"
                and message.path == BUS_PATH and message.body[0] == SERVICE):
            self._owner_is(message.body[2] or None)
            return
        elif not self._from_service(message):
            return
        elif message.member == "Completed" and message.interface == INTERFACE + "Job":
            self._completed[message.path] = (message.body[0], message.body[1])
            while len(self._completed) > 256:
                self._completed.popitem(last=False)
        elif message.member == "InterfacesAdded" and message.path == objpath.ROOT:
            self._completed.pop(message.body[0], None)     # a new object there
        for queue in self._queues:
            queue.put_nowait(message)

    def _from_service(self, message: Message) -> bool:
        """A signal the service broadcast from one of its paths."""
        path = message.path or ""
        return (self._owner is not None and message.sender == self._owner
                and not message.destination
                and (path == objpath.ROOT or path.startswith(objpath.ROOT + "/")))

    def _owner_is(self, owner: str | None) -> None:
        if owner == self._owner:
            return
        self._owner = owner
        self._completed.clear()        # its jobs are not the new owner's
        for queue in self._queues:
            queue.put_nowait(OWNER_CHANGED)


_HOST_READS = {"EnumerateLuns", "EnumerateVolumeGroups", "GetBlockInfo"}


def _handle(client: StorageClient, path: str,
            ifaces: dict[str, dict[str, Variant]]) -> handles.StorageObject | None:
    kind = convert.kind_of(path)
    if kind is None or INTERFACE + kind not in ifaces:
        return None
    return HANDLES[kind](client, path, convert.model(kind, path, ifaces[INTERFACE + kind]))


def _events(client: StorageClient, tree: dict, message: Message) -> list[events.Event]:
    """The events one signal means, applied to `tree` (path → interfaces →
    properties) so that the next ones compare with the current state."""
    member, body = message.member, message.body
    if member == "InterfacesAdded" and message.path == objpath.ROOT:
        path, ifaces = body
        tree[path] = dict(ifaces)
        handle = _handle(client, path, ifaces)
        return [events.ObjectAdded(path, handle)] if handle else []
    if member == "InterfacesRemoved" and message.path == objpath.ROOT:
        path = body[0]
        last = _handle(client, path, tree.pop(path, {}))
        parsed = objpath.parse(path)
        return [events.ObjectRemoved(path, parsed[0], parsed[1], last)] if parsed else []
    if member == "Completed":
        success, text = body
        return [events.JobCompleted(message.path, int(convert.key_of(message.path)),
                                    success, text)]
    if member != "PropertiesChanged":
        return []
    interface, changed, _ = body
    if message.path == objpath.HOST:
        return [events.HostChanged({convert.snake(k): convert._field_value("Host", k, v)
                                    for k, v in changed.items()})]
    ifaces = tree.get(message.path)
    if ifaces is None or interface not in ifaces:
        return []
    before = _handle(client, message.path, ifaces)
    ifaces[interface] = {**ifaces[interface], **changed}
    after = _handle(client, message.path, ifaces)
    fields = frozenset(name for name in type(after.state).model_fields
                       if getattr(after.state, name) != getattr(before.state, name))
    return [events.ObjectChanged(message.path, after, before.state, fields)] if fields else []

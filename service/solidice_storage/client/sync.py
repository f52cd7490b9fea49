# SPDX-License-Identifier: LGPL-2.1-or-later
"""SyncStorageClient: the client for code that is not asyncio.

It runs a StorageClient on an event loop of its own, in a daemon thread, and waits
for each call. Every method, handle and iterator of the async client is there with
the same names and arguments, blocking: `vg.create_logical_volume(...)` returns the
LV; `watch()` and `job.follow()` are plain iterators.
"""

import asyncio
import dataclasses
import inspect
import threading
from typing import Any

from .api import StorageClient
from .objects import StorageObject


class _Runner:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="solidice-storage-client")
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _blocking(value: Any, runner: _Runner) -> Any:
    """`value` (an attribute of the async client or of a handle) made blocking."""
    if inspect.isasyncgenfunction(value):
        return lambda *args, **kwargs: _iterate(value(*args, **kwargs), runner)
    if inspect.iscoroutinefunction(value):
        return lambda *args, **kwargs: _wrap(runner.run(value(*args, **kwargs)), runner)
    return value


def _iterate(generator: Any, runner: _Runner):
    try:
        while True:
            try:
                item = runner.run(generator.__anext__())
            except StopAsyncIteration:
                return
            yield _wrap(item, runner)
    finally:
        runner.run(generator.aclose())


def _wrap(value: Any, runner: _Runner) -> Any:
    if isinstance(value, StorageObject):
        return SyncObject(value, runner)
    if isinstance(value, list):
        return [_wrap(item, runner) for item in value]
    if dataclasses.is_dataclass(value) and isinstance(getattr(value, "object", None),
                                                      StorageObject):
        return dataclasses.replace(value, object=SyncObject(value.object, runner))
    return value


class SyncObject:
    """A handle (VolumeGroup, LogicalVolume, ...) whose methods block. Reads
    through to the async handle: `object_path`, `state` and the model's fields."""

    def __init__(self, handle: StorageObject, runner: _Runner) -> None:
        self._handle = handle
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        return _blocking(getattr(self._handle, name), self._runner)

    def __repr__(self) -> str:
        return repr(self._handle)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SyncObject) and self._handle == other._handle

    def __hash__(self) -> int:
        return hash(self._handle)


class SyncStorageClient:
    """A blocking StorageClient:

        with SyncStorageClient(session=True) as storage:
            vg = storage.volume_group("vmstore")
            lv = vg.create_logical_volume("disk1", 10 * 1024**3)

    Takes StorageClient.connect()'s arguments. Connects at once
    (ServiceUnavailableError when the bus cannot be reached)."""

    def __init__(self, **connect: Any) -> None:
        self._runner = _Runner()
        try:
            self._client = self._runner.run(StorageClient.connect(**connect).open())
        except BaseException:
            self._runner.stop()
            raise

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _blocking(getattr(self._client, name), self._runner)

    def close(self) -> None:
        """Disconnect and stop the client's thread."""
        if self._runner.loop.is_running():
            self._runner.run(self._client.close())
            self._runner.stop()

    def __enter__(self) -> "SyncStorageClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

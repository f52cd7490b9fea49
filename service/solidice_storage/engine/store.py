# SPDX-License-Identifier: LGPL-2.1-or-later
"""The engine's picture of the host, kept in memory and published as changes.

Both engines keep their models in a `StateStore`. A change is published as one
`Changes` batch; listeners (the D-Bus exporter) see it synchronously, so when an
engine method returns, what it changed is already exported.
"""

from dataclasses import dataclass, field
from typing import Callable, Iterable, TypeVar

from .. import models

M = TypeVar("M", bound=models.Model)


@dataclass
class Changes:
    upserts: list[models.Model] = field(default_factory=list)
    removals: list[tuple[str, str]] = field(default_factory=list)   # (kind, key)
    completed: list[tuple[int, bool, str]] = field(default_factory=list)  # jobs
    host: bool = False          # a Host property of its own changed (Multipath, ...)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.removals or self.completed or self.host)


Listener = Callable[[Changes], None]


class StateStore:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, models.Model]] = {k: {} for k in models.KINDS}
        self._listeners: list[Listener] = []
        # VG UUID → its LVs' UUIDs (a dict for order): listing one VG's LVs must
        # not walk every LV of the host
        self._lvs_of: dict[str, dict[str, None]] = {}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def all(self, cls: type[M]) -> dict[str, M]:
        return self.objects[cls.KIND]  # type: ignore[return-value]

    def get(self, cls: type[M], key: str | None) -> M | None:
        return None if key is None else self.objects[cls.KIND].get(key)  # type: ignore

    def logical_volumes_of(self, vg_uuid: str) -> list[str]:
        """UUIDs of VG `vg_uuid`'s LVs, in the order they appeared."""
        return list(self._lvs_of.get(vg_uuid, ()))

    def _index(self, old: models.Model | None, new: models.Model | None) -> None:
        if isinstance(old, models.LogicalVolume):
            lvs = self._lvs_of.get(old.volume_group, {})
            lvs.pop(old.uuid, None)
            if not lvs:
                self._lvs_of.pop(old.volume_group, None)
        if isinstance(new, models.LogicalVolume):
            self._lvs_of.setdefault(new.volume_group, {})[new.uuid] = None

    def publish(self, upserts: Iterable[models.Model] = (),
                removals: Iterable[tuple[str, str]] = (),
                completed: Iterable[tuple[int, bool, str]] = (),
                host: bool = False) -> None:
        """Apply a batch and tell the listeners; unchanged models are dropped.
        `host`: the engine's own Host properties changed (e.g. `multipath`)."""
        changes = Changes(completed=list(completed), host=host)
        for model in upserts:
            table = self.objects[model.KIND]
            old = table.get(model.key)
            if old != model:
                table[model.key] = model
                changes.upserts.append(model)
                if isinstance(model, models.LogicalVolume) and (
                        old is None or old.volume_group != model.volume_group):
                    self._index(old, model)
        for kind, key in removals:
            old = self.objects[kind].pop(key, None)
            if old is not None:
                changes.removals.append((kind, key))
                self._index(old, None)
        if changes:
            for listener in self._listeners:
                listener(changes)

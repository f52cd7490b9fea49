# SPDX-License-Identifier: LGPL-2.1-or-later
"""Recovery at start-up (intents.py): each domain gets the records of its own kinds,
in start-up order; a record whose recovery fails stays."""

from solidice_storage.engine.host.engine import HostEngine
from solidice_storage.engine.host.runner import Runner
from solidice_storage.engine.intents import Intents, by_owner


async def test_each_engine_gets_its_records_and_an_unknown_kind_stays(tmp_path, caplog):
    intents = Intents(tmp_path)
    for kind in ("create-vg", "iscsi-login", "nfs-mount", "format-disk"):
        await intents.begin(kind)
    mine = by_owner(await intents.pending(), {"lvm": frozenset({"create-vg"}),
                                              "iscsi": frozenset({"iscsi-login"}),
                                              "nfs": frozenset({"nfs-mount"})})
    assert {owner: [i.kind for i in found] for owner, found in mine.items()} == {
        "lvm": ["create-vg"], "iscsi": ["iscsi-login"], "nfs": ["nfs-mount"]}
    assert "unknown kind 'format-disk' left in place" in caplog.text
    engine = HostEngine(Runner({}), sysfs=tmp_path / "sys", state_dir=tmp_path)
    await engine.iscsi.recover(mine["iscsi"])           # no iscsiadm: left in place
    assert len(await intents.pending()) == 4


async def test_a_failed_recovery_keeps_its_record(tmp_path):
    intents = Intents(tmp_path)
    intent = await intents.begin("iscsi-login")

    async def fails() -> str:
        raise OSError("disk gone")
    assert await intents.settle(intent, fails()) is False
    assert [i.id for i in await intents.pending()] == [intent.id]

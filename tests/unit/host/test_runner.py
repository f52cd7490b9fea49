# SPDX-License-Identifier: LGPL-2.1-or-later
"""engine/runner.py with harmless programs standing in for the storage tools."""

import asyncio
import subprocess
import time

import pytest

from solidice_storage.engine.host.runner import Runner
from solidice_storage.errors import NotSupported, Timeout


@pytest.fixture
def runner():
    return Runner({"true": "/bin/true", "false": "/bin/false", "sh": "/bin/sh",
                   "cat": "/bin/cat", "sleep": "/bin/sleep", "gone": "/nonexistent/tool"})


async def test_exit_status_and_output(runner):
    assert (await runner.run("true", timeout=5)).ok
    failed = await runner.run("sh", "-c", "echo out; echo first >&2; echo why >&2; exit 5",
                              timeout=5)
    assert (failed.returncode, failed.stdout) == (5, "out\n")
    assert failed.error_line() == "why"


async def test_arguments_are_not_interpreted_by_a_shell(runner):
    result = await runner.run("sh", "-c", 'printf "%s|" "$@"', "x", "; rm -rf /", "$(id)",
                              "a b", timeout=5)
    assert result.stdout == "; rm -rf /|$(id)|a b|"
    assert runner.history[-1][-3:] == ("; rm -rf /", "$(id)", "a b")


async def test_timeout_kills_the_whole_process_group(runner, tmp_path):
    marker = tmp_path / "child"
    started = time.monotonic()
    with pytest.raises(Timeout, match="within 0.3 s"):
        await runner.run("sh", "-c", f"(sleep 30; touch {marker}) & sleep 30", timeout=0.3)
    assert time.monotonic() - started < 5
    await asyncio.sleep(0.2)
    assert not marker.exists()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"touch {marker}" not in processes


async def test_the_loop_keeps_running_meanwhile(runner):
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)
    ticker = asyncio.ensure_future(tick())
    await runner.run("sleep", "0.3", timeout=5)
    ticker.cancel()
    assert ticks > 10


async def test_secrets_go_in_on_stdin_and_are_blanked_from_output(runner):
    result = await runner.run("sh", "-c", "read secret; echo \"login failed for $secret\" >&2; "
                              "exit 24", stdin="hunter2-secret\n", secrets=["hunter2-secret"],
                              timeout=5)
    assert result.returncode == 24 and "hunter2-secret" not in result.stderr
    assert "****" in result.error_line()
    assert not any("hunter2" in arg for argv in runner.history for arg in argv)


async def test_missing_tool(runner):
    assert runner.missing() == ["gone"]
    with pytest.raises(NotSupported, match="gone is not installed"):
        await runner.run("gone", timeout=5)
    with pytest.raises(NotSupported):
        await runner.run("unknown", timeout=5)


async def test_concurrency_is_capped_per_tool():
    runner = Runner({"sleep": "/bin/sleep"})
    runner._limits["sleep"] = asyncio.Semaphore(2)
    started = time.monotonic()
    await asyncio.gather(*(runner.run("sleep", "0.3", timeout=5) for _ in range(4)))
    assert time.monotonic() - started >= 0.55       # two rounds of two


async def test_long_moves_leave_the_slots_to_short_commands_and_aborts():
    """N moves of hours on a tool limited to N: a report, a change and an abort
    still run at once (moves take no shared slot)."""
    runner = Runner({"sleep": "/bin/sleep", "true": "/bin/true"}, limits={"sleep": 2})
    moves = [asyncio.ensure_future(runner.run_lines(
        "sleep", "30", timeout=60, on_line=lambda line: None, long_running=True))
             for _ in range(2)]
    await asyncio.sleep(0.3)                     # both under way
    try:
        started = time.monotonic()
        for _ in range(3):                       # a report, a change, pvmove --abort
            await asyncio.wait_for(runner.run("sleep", "0", timeout=5), 5)
        assert time.monotonic() - started < 3
        assert not any(move.done() for move in moves)
    finally:
        for move in moves:
            move.cancel()
        await asyncio.gather(*moves, return_exceptions=True)


async def test_waiting_for_a_slot_counts_against_the_timeout():
    runner = Runner({"sleep": "/bin/sleep"}, limits={"sleep": 1})
    holder = asyncio.ensure_future(runner.run("sleep", "30", timeout=60))
    await asyncio.sleep(0.2)
    try:
        started = time.monotonic()
        with pytest.raises(Timeout, match="within 0.5 s"):
            await asyncio.wait_for(runner.run("sleep", "0", timeout=0.5), 10)
        assert time.monotonic() - started < 2
    finally:
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)


def test_the_lvm_concurrency_comes_from_the_configuration():
    from solidice_storage.config import Config
    from solidice_storage.engine.host.engine import HostEngine
    engine = HostEngine(config=Config(lvm_concurrency=7))
    assert engine.runner.limit("lvm") == 7


async def test_only_whole_secret_values_are_blanked_never_words_around_them(runner):
    """A one-letter secret must not blank every 'u' of the message; the secret itself,
    standing alone or between punctuation, is blanked."""
    text = "Could not find user u; u,x9 found: 'x9' (x9). x9x9 ux9 x9"
    result = await runner.run("sh", "-c", 'echo "$1" >&2', "sh", text, timeout=5,
                              secrets=["u", "x9"])
    assert result.stderr.strip() == (
        "Could not find user ****; ****,**** found: '****' (****). x9x9 ux9 ****")

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The only code that starts programs.

Argument lists, never a shell; fixed executable paths, checked at startup; every
run off the event loop (asyncio subprocesses) under a timeout that kills the
program's whole process group; a cap on concurrent runs per tool; stderr kept for
error messages. Secrets go in on stdin, never on a command line
(/proc/*/cmdline is world-readable), and are blanked out of anything we report.
Each argument list is recorded, so tests can assert what reached a command line.
"""

import asyncio
import collections
import contextlib
import contextvars
import logging
import os
import re
import signal
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

from ...errors import NotSupported, Timeout

log = logging.getLogger(__name__)

# Debian's paths; /sbin and /bin are the same directories on a merged-/usr system.
TOOLS = {
    "lvm": "/sbin/lvm",
    "multipathd": "/sbin/multipathd",
    "multipath": "/sbin/multipath",
    "iscsiadm": "/sbin/iscsiadm",
    "dmsetup": "/sbin/dmsetup",
    "udevadm": "/bin/udevadm",
    "mount": "/bin/mount",
    "umount": "/bin/umount",
    # for NFS mount points: stat and create them in a child process, never in the
    # daemon (a path below a dead NFS server hangs whoever looks at it)
    "find": "/usr/bin/find",
    "mkdir": "/bin/mkdir",
    "rmdir": "/bin/rmdir",
}
# How many of each may run at once: LVM serializes on its own locks, and a flood
# of iscsiadm or mount processes helps nobody. LVM's comes from the configuration
# (storage.conf's [lvm] concurrency; HostEngine sets it). A long-running command (a
# data move, hours) takes no slot: it would starve every report, change and abort;
# those are bounded by their callers (one move per VG, under the VG's lock).
LIMITS = {"lvm": 4, "iscsiadm": 2}
DEFAULT_LIMIT = 4
# After a timeout the program's group is killed; a process stuck in the kernel (an
# NFS request to a dead server) may take a while to die, and the caller is not kept
# waiting for that: its reaping goes on in the background.
REAP_WAIT = 5
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
# set by run_lines(long_running=True) for the run it makes (per task, so no other
# run sees it): that run takes no slot
_long_running: contextvars.ContextVar[bool] = contextvars.ContextVar("long_running",
                                                                     default=False)


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_line(self) -> str:
        """The tool's last non-empty stderr line: usually the one that says why."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"exit status {self.returncode}"


class Runner:
    def __init__(self, tools: dict[str, str] | None = None, history: int = 1000,
                 limits: dict[str, int] | None = None) -> None:
        self.tools = dict(TOOLS if tools is None else tools)
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._counts: dict[str, int] = {}
        wanted = {**LIMITS, **(limits or {})}
        for name in self.tools:
            self.set_limit(name, wanted.get(name, DEFAULT_LIMIT))
        #: the argument lists run, newest last (secrets never appear in them)
        self.history: collections.deque[tuple[str, ...]] = collections.deque(maxlen=history)

    def set_limit(self, tool: str, count: int) -> None:
        """At most `count` runs of `tool` at once (long-running ones aside). Set
        before the first run: runs under the old limit keep their slots."""
        self._counts[tool] = count
        self._limits[tool] = asyncio.Semaphore(count)

    def limit(self, tool: str) -> int:
        return self._counts.get(tool, DEFAULT_LIMIT)

    def missing(self) -> list[str]:
        """Tools whose executable is not there; checked once, at startup."""
        return [name for name, path in self.tools.items() if not os.access(path, os.X_OK)]

    def has(self, tool: str) -> bool:
        """Whether `tool` is known and installed."""
        path = self.tools.get(tool)
        return path is not None and os.access(path, os.X_OK)

    async def run(self, tool: str, *args: str, timeout: float, stdin: str | None = None,
                  secrets: Iterable[str] = ()) -> Result:
        """Run `tool` with `args`; Timeout if it takes longer than `timeout` seconds
        (it is killed, with anything it started). A non-zero exit is returned, not
        raised: what it means depends on the tool."""
        async def collect(process: asyncio.subprocess.Process) -> tuple[str, str]:
            stdout, stderr = await process.communicate(
                None if stdin is None else stdin.encode())
            return stdout.decode(errors="replace"), stderr.decode(errors="replace")
        result = await self._run(tool, args, timeout, collect, stdin is not None)
        return Result(result.returncode, blank_secrets(result.stdout, secrets),
                      blank_secrets(result.stderr, secrets))

    async def run_lines(self, tool: str, *args: str, timeout: float,
                        on_line: Callable[[str], None],
                        long_running: bool = False) -> Result:
        """`run`, calling `on_line` with each line of stdout as it comes (progress
        of a long command). Cancelling the caller kills the program's group.
        `long_running` (a data move): it takes none of the tool's shared slots."""
        async def collect(process: asyncio.subprocess.Process) -> tuple[str, str]:
            errors = asyncio.ensure_future(process.stderr.read())
            try:
                lines = []
                async for raw in process.stdout:
                    line = raw.decode(errors="replace")
                    lines.append(line)
                    on_line(line.rstrip("\n"))
                await process.wait()
                return "".join(lines), (await errors).decode(errors="replace")
            finally:
                errors.cancel()
        token = _long_running.set(long_running)
        try:
            return await self._run(tool, args, timeout, collect, False)
        finally:
            _long_running.reset(token)

    async def _run(self, tool: str, args: tuple[str, ...], timeout: float,
                   collect: Callable[[asyncio.subprocess.Process], Awaitable[tuple[str, str]]],
                   with_stdin: bool) -> Result:
        path = self.tools.get(tool)
        if path is None or not os.access(path, os.X_OK):
            raise NotSupported(f"{tool} is not installed on this host")
        argv = (path, *args)
        assert all(isinstance(arg, str) and "\0" not in arg for arg in argv), argv
        self.history.append(argv)
        started = time.monotonic()
        async with self._slot(tool, None if _long_running.get() else self._limits[tool],
                              timeout):
            # the wait for a slot came out of the command's time
            remaining = max(timeout - (time.monotonic() - started), 0.001)
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE if with_stdin
                else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True, env=ENV)
            try:
                stdout, stderr = await asyncio.wait_for(collect(process), remaining)
            except (asyncio.TimeoutError, asyncio.CancelledError) as error:
                _kill_group(process)
                await _reap(process, argv)
                if isinstance(error, asyncio.CancelledError):
                    raise
                log.debug("%s: killed after %g s", " ".join(argv), timeout)
                raise Timeout(f"{tool} did not finish within {timeout:g} s") from None
        result = Result(process.returncode, stdout, stderr)
        _log_result(argv, result, started)
        return result

    @contextlib.asynccontextmanager
    async def _slot(self, tool: str, slot: asyncio.Semaphore | None, timeout: float):
        """One of the tool's slots (none for a long-running run), waited for at most
        `timeout` seconds: past that, Timeout, as if the command had hung."""
        if slot is None:
            yield
            return
        try:
            await asyncio.wait_for(slot.acquire(), timeout)
        except asyncio.TimeoutError:
            log.warning("%s: no free slot within %g s (%d running)", tool, timeout,
                        self.limit(tool))
            raise Timeout(f"{tool} did not finish within {timeout:g} s: it never got to "
                          f"run, {self.limit(tool)} {tool} commands were running") from None
        try:
            yield
        finally:
            slot.release()


def blank_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret blanked where it stands as a value of its own: not
    inside a longer run of letters and digits, so a short secret cannot blank
    parts of the tool's words (a password "u" leaves "Could not" alone)."""
    for secret in secrets:
        if secret:
            before = r"(?<![^\W_])" if secret[0].isalnum() else ""
            after = r"(?![^\W_])" if secret[-1].isalnum() else ""
            text = re.sub(before + re.escape(secret) + after, "****", text)
    return text


async def _reap(process: asyncio.subprocess.Process, argv: tuple[str, ...]) -> None:
    """Wait a little for a killed program to die; past REAP_WAIT, let it be reaped
    in the background (it is stuck in the kernel, and will die when that returns)."""
    reaping = asyncio.ensure_future(process.wait())    # killed: it writes no more
    done, _ = await asyncio.wait([reaping], timeout=REAP_WAIT)
    if not done:
        log.warning("%s (pid %d) was killed but has not died yet; it is stuck in the "
                    "kernel, and will be reaped when it returns", " ".join(argv),
                    process.pid)
        _stuck.add(reaping)
        reaping.add_done_callback(_stuck.discard)


_stuck: set[asyncio.Future] = set()     # reapers of killed programs not dead yet


def _log_result(argv: tuple[str, ...], result: Result, started: float) -> None:
    """Each command, its exit status and time at debug level (never a secret:
    those travel on stdin and are blanked out of the output)."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s: exit %d in %.3f s%s", " ".join(argv), result.returncode,
                  time.monotonic() - started,
                  "" if result.ok else f" ({result.error_line()})")


def _kill_group(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

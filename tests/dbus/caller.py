# SPDX-License-Identifier: LGPL-2.1-or-later
"""A caller on ONE bus connection that sends many method calls at once, for the
tier-2 tests that need a caller of another uid (run under setpriv, so no test
framework here): `python tests/dbus/caller.py ADDRESS` with a JSON list of calls on
stdin (one line), each {"path", "interface", "member", "signature", "body"} and
optionally "destination" (default org.solidice.Storage) (an
a{sv} body is given as {} or as {key: [signature, value]}). Every message is built
and marshalled first; then "ready" is printed, and on a line "go" from stdin all
are sent at once, so a test measures the sending, not the making. Each one's
outcome ("ok" or the error name), message and seconds are printed as JSON once
every reply is in (or `timeout` seconds passed: outcome "no-reply").
"""

import asyncio
import contextlib
import json
import sys
import time

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

NAME = "org.solidice.Storage"


def variants(value, signature):
    if signature.startswith("a{sv}") and isinstance(value, dict):
        return {k: Variant(*v) for k, v in value.items()}
    return value


class Marshalled(Message):
    """A message marshalled once, when it is made."""

    def _marshall(self, negotiate_unix_fd: bool) -> bytearray:
        if not hasattr(self, "wire"):
            self.wire = super()._marshall(negotiate_unix_fd)
        return self.wire


def message(bus: MessageBus, call: dict) -> Message:
    signature = call.get("signature", "")
    body, rest = [], signature
    for arg in call.get("body", []):
        body.append(variants(arg, rest))
        rest = rest[5:] if rest.startswith("a{sv}") else rest[1:]
    made = Marshalled(destination=call.get("destination", NAME), path=call["path"], interface=call["interface"],
                      member=call["member"], signature=signature, body=body,
                      serial=bus.next_serial())
    made._marshall(False)
    return made


async def one(bus: MessageBus, made: Message, timeout: float) -> dict:
    started = time.monotonic()
    try:
        reply = await asyncio.wait_for(bus.call(made), timeout)
    except asyncio.TimeoutError:
        return {"outcome": "no-reply", "message": "", "seconds": timeout}
    seconds = time.monotonic() - started
    if reply.message_type is MessageType.ERROR:
        return {"outcome": reply.error_name, "seconds": seconds,
                "message": reply.body[0] if reply.body else ""}
    return {"outcome": "ok", "message": "", "seconds": seconds}


async def run_as(address: str, uid: int, calls: list[dict], timeout: float = 30,
                 sending: asyncio.Event | None = None) -> list[dict]:
    """For the tests: this script as `uid`; the outcome of each call. `sending`
    is set once the calls are made and about to be sent."""
    process = await asyncio.create_subprocess_exec(
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
        sys.executable, __file__, address,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        process.stdin.write(json.dumps({"calls": calls, "timeout": timeout}).encode()
                            + b"\n")
        await process.stdin.drain()
        ready = await process.stdout.readline()
        assert ready == b"ready\n", ready
        process.stdin.write(b"go\n")
        if sending is not None:
            sending.set()
        out, _ = await process.communicate()
    except BaseException:           # the test gave up: no process left behind
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, out
    return json.loads(out)


@contextlib.asynccontextmanager
async def running(coroutine):
    """`coroutine` as a task for the block; cancelled if the block fails early."""
    task = asyncio.ensure_future(coroutine)
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def main(address: str, calls: list[dict], timeout: float) -> list[dict]:
    bus = await MessageBus(bus_address=address).connect()
    try:
        made = [message(bus, call) for call in calls]
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        return await asyncio.gather(*(one(bus, m, timeout) for m in made))
    finally:
        bus.disconnect()


if __name__ == "__main__":
    spec = json.loads(sys.stdin.readline())
    print(json.dumps(asyncio.run(main(sys.argv[1], spec["calls"], spec.get("timeout", 30)))),
          flush=True)

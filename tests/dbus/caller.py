"""A caller on ONE bus connection that sends many method calls at once, for the
tier-2 tests that need a caller of another uid (run under setpriv, so no test
framework here): `python tests/dbus/caller.py ADDRESS` with a JSON list of calls on
stdin, each {"path", "interface", "member", "signature", "body"} (an a{sv} body is
given as {} or as {key: [signature, value]}). All are sent at once; each one's
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


def message(call: dict) -> Message:
    signature = call.get("signature", "")
    body, rest = [], signature
    for arg in call.get("body", []):
        body.append(variants(arg, rest))
        rest = rest[5:] if rest.startswith("a{sv}") else rest[1:]
    return Message(destination=NAME, path=call["path"], interface=call["interface"],
                   member=call["member"], signature=signature, body=body)


async def one(bus: MessageBus, call: dict, timeout: float) -> dict:
    started = time.monotonic()
    try:
        reply = await asyncio.wait_for(bus.call(message(call)), timeout)
    except asyncio.TimeoutError:
        return {"outcome": "no-reply", "message": "", "seconds": timeout}
    seconds = time.monotonic() - started
    if reply.message_type is MessageType.ERROR:
        return {"outcome": reply.error_name, "seconds": seconds,
                "message": reply.body[0] if reply.body else ""}
    return {"outcome": "ok", "message": "", "seconds": seconds}


async def run_as(address: str, uid: int, calls: list[dict], timeout: float = 30
                 ) -> list[dict]:
    """For the tests: this script as `uid`; the outcome of each call."""
    process = await asyncio.create_subprocess_exec(
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
        sys.executable, __file__, address,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        out, _ = await process.communicate(json.dumps({"calls": calls,
                                                       "timeout": timeout}).encode())
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
        return await asyncio.gather(*(one(bus, call, timeout) for call in calls))
    finally:
        bus.disconnect()


if __name__ == "__main__":
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(main(sys.argv[1], spec["calls"], spec.get("timeout", 30)))),
          flush=True)

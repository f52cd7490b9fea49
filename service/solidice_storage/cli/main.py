# SPDX-License-Identifier: LGPL-2.1-or-later
"""solidice-storagectl's entry point: parse, run the command, print its output, and
the one error boundary that turns every failure into one sentence on stderr
(`--debug` shows the traceback) and an exit code: 0 done, 1 the service refused or
failed (its message is printed), 2 bad usage, 3 the service is not reachable.
"""

import argparse
import asyncio
import re
import sys
import traceback

from .. import options as typed_options
from ..client import (NotAuthorizedCanObtainError, NotAuthorizedError,
                      ServiceUnavailableError, StorageClient, StorageClientError)
from .bus import bus_address, in_words
from .completion import completion_script
from .output import show
from .parser import PROG, build_parser

EXIT_DONE, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


# The service's messages name its option keys ("pass force=true"); say the flag.
_FLAGS = sorted({key for method in typed_options.OPTIONS
                 for key in typed_options.signatures(method)
                 if key != typed_options.AUTH_KEY}, key=len, reverse=True)
_OPTION_ADVICE = re.compile(rf"\bpass ({'|'.join(map(re.escape, _FLAGS))})(?:=true)?\b")


def advice(error: StorageClientError) -> str:
    """The error as one sentence that says what to do, in this command's words."""
    message = _OPTION_ADVICE.sub(r"pass --\1", in_words(error))
    if isinstance(error, NotAuthorizedCanObtainError):
        return (f"{message}; run it again where you can authenticate (a desktop "
                "session or pkttyagent), or as root")
    if isinstance(error, NotAuthorizedError):
        return f"{message}; run it as root, or ask an administrator to allow it"
    return message


async def run(args: argparse.Namespace) -> int:
    timeouts = {"change_timeout": args.call_timeout} if args.call_timeout else {}
    address = await asyncio.to_thread(bus_address, args.session, args.address)
    async with StorageClient.connect(session=args.session, address=address,
                                     **timeouts) as storage:
        output = await args.run(storage, args)
    if output is not None:
        show(output, args.json)
    return EXIT_DONE


def fail(args: argparse.Namespace, message: str, code: int) -> int:
    if args.debug:
        traceback.print_exc()
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> None:
    top = build_parser()
    args = top.parse_args(argv)
    if args.command == "completion":
        print(completion_script(top, args.shell), end="")
        sys.exit(EXIT_DONE)
    try:
        sys.exit(asyncio.run(run(args)))
    except KeyboardInterrupt:
        sys.exit(EXIT_DONE if args.command == "monitor" else 130)
    except ServiceUnavailableError as error:
        sys.exit(fail(args, advice(error), EXIT_UNREACHABLE))
    except StorageClientError as error:
        sys.exit(fail(args, advice(error), EXIT_FAILED))
    except ValueError as error:            # what the command line itself refused
        sys.exit(fail(args, str(error), EXIT_USAGE))


if __name__ == "__main__":
    main()

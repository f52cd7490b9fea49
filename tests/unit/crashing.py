# SPDX-License-Identifier: LGPL-2.1-or-later
"""A change run in a child process that SIGKILLs itself at a crash point
(intents.crash_point), for the recovery tests of each domain."""

import os
import subprocess
import sys
from pathlib import Path


def crash_in_child(tmp_path: Path, point: str, code: str) -> None:
    """Run `code` (an async body, `tmp` is tmp_path) in a child that dies at `point`."""
    script = ("import asyncio, sys\nfrom pathlib import Path\n"
              "from solidice_storage.engine.intents import Intents\n"
              "from solidice_storage.engine.host.runner import Runner, TOOLS\n"
              "from solidice_storage.options import LoginOptions, MountNfsOptions\n"
              "tmp = Path(sys.argv[1])\n"
              "async def main():\n" + "".join(f"    {line}\n" for line in code.splitlines())
              + "asyncio.run(main())\n")
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                           env={**os.environ, "SOLIDICE_CRASH_AT": point},
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == -9, (point, child.returncode, child.stderr)

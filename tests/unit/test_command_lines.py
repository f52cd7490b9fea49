# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every argument list in its wrapper (one place per external program): LVM's
commands are built in engine/host/lvm/commands.py, `udevadm`'s in engine/host/udev.py
and `dmsetup`'s in engine/host/dm.py, and nowhere else under service/. Read from the source (ast), so a new module is held
to it too."""

import ast
from pathlib import Path

SERVICE = Path(__file__).parents[2] / "service"
LVM_COMMANDS = frozenset({
    "pvcreate", "pvremove", "pvresize", "pvmove", "pvchange", "pvs", "pvscan", "pvdisplay",
    "vgcreate", "vgremove", "vgextend", "vgreduce", "vgchange", "vgs", "vgscan", "vgrename",
    "vgdisplay", "vgimport", "vgexport", "vgcfgbackup", "vgcfgrestore",
    "lvcreate", "lvremove", "lvextend", "lvreduce", "lvresize", "lvchange", "lvrename",
    "lvs", "lvscan", "lvdisplay", "lvconvert",
    "fullreport", "lvmconfig", "lvmdevices", "lvmdiskscan"})
RUNS = frozenset({"run", "run_lines", "run_long"})
NOT_RUNS = frozenset({"has", "set_limit"})      # the runner asked about a tool
# tool → the one module (relative to service/solidice_storage) that may run it
OWNERS = {"lvm": "engine/host/lvm/commands.py", "udevadm": "engine/host/udev.py",
          "dmsetup": "engine/host/dm.py"}
RUNNER = "engine/host/runner.py"           # its TOOLS table names every tool


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else None


def _tool_of(word: str | None) -> str | None:
    """The tool a word on a command line is run by: an LVM command's is lvm."""
    if word in LVM_COMMANDS:
        return "lvm"
    return word if word in ("udevadm", "dmsetup") else None


def command_lines(source: str) -> list[tuple[int, str]]:
    """(line, tool) for each argument list built in `source` for LVM, udevadm or
    dmsetup: a runner call with the tool first, a call given a command's name (an
    LVM command, or udevadm/dmsetup; asking the runner whether a tool is there is
    not one), or a list or tuple that starts with one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = _text(node.args[0]) if node.args else None
            if name in RUNS and first == "lvm":
                found.append((node.lineno, "lvm"))
            if name not in NOT_RUNS:
                found += [(node.lineno, tool) for arg in node.args
                          if (tool := _tool_of(_text(arg))) is not None]
        elif isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            if (tool := _tool_of(_text(node.elts[0]))) is not None:
                found.append((node.lineno, tool))
    return sorted(set(found))


def test_each_tools_argument_lists_are_built_in_its_one_module():
    strays = []
    for path in sorted(SERVICE.rglob("*.py")):
        module = path.relative_to(SERVICE / "solidice_storage").as_posix() \
            if "solidice_storage" in path.parts else path.as_posix()
        if module == RUNNER:
            continue
        for line, tool in command_lines(path.read_text()):
            if OWNERS[tool] != module:
                strays.append(f"{module}:{line}: builds a {tool} command line "
                              f"(only {OWNERS[tool]} may)")
    assert strays == []


def test_the_check_sees_each_kind_of_stray():
    source = '''
async def f(runner, lvm, argv):
    await runner.run("lvm", "vgs")
    await runner.run_lines("lvm", *argv)
    await lvm.change("move it", "pvmove", "--abort")
    argv = ["pvresize", "--", "/dev/x"]
    await runner.run("udevadm", "settle")
    await runner.run("dmsetup", "info")
    ok = ("snapshot", "pvmove")       # a name LVM reserves: not a command line
    runner.has("lvm") and runner.has("dmsetup")
'''
    assert command_lines(source) == [(3, "lvm"), (4, "lvm"), (5, "lvm"), (6, "lvm"),
                                     (7, "udevadm"), (8, "dmsetup")]

# SPDX-License-Identifier: LGPL-2.1-or-later
"""The code's shape: no module under service/ over 400 lines and no
function over 40, so each file is one room a newcomer can read whole."""

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service" / "solidice_storage"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40


def modules() -> list[Path]:
    return sorted(SERVICE.rglob("*.py"))


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(SERVICE)): n for p in modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_over_40_lines():
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                length = node.end_lineno - first + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(SERVICE)}:{node.lineno} {node.name}"] = length
    assert long == {}

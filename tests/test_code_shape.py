"""The size limits the code keeps (STYLE: modules ≈ 500 lines, functions ≤ 70): a module that
grows past them is split, a function is cut into named steps. Data literals (the OpenAPI
document's schema and path tables) are the stated exception."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULE_LINES_MAX = 500
FUNCTION_LINES_MAX = 70
DATA_LITERALS = {
    "node/rpc/rest/schemas.py:schemas",
    "node/rpc/rest/openapi.py:_paths",
}
"""Functions that only return one literal table (the OpenAPI document): long by nature."""


def _sources() -> list[pathlib.Path]:
    return sorted(p for package in ("consensus", "node") for p in (ROOT / package).rglob("*.py"))


def long_modules(paths: list[pathlib.Path], root: pathlib.Path = ROOT) -> list[str]:
    found = []
    for path in paths:
        lines = len(path.read_text().splitlines())
        if lines > MODULE_LINES_MAX:
            found.append(f"{path.relative_to(root).as_posix()}: {lines} lines")
    return found


def long_functions(paths: list[pathlib.Path], root: pathlib.Path = ROOT) -> list[str]:
    found = []
    for path in paths:
        name = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > FUNCTION_LINES_MAX and f"{name}:{node.name}" not in DATA_LITERALS:
                found.append(f"{name}:{node.lineno} {node.name}: {lines} lines")
    return found


def test_no_module_is_over_the_limit() -> None:
    assert long_modules(_sources()) == []


def test_no_function_is_over_the_limit() -> None:
    assert long_functions(_sources()) == []


def test_the_checks_find_a_long_module_and_a_long_function(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "probe.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES_MAX))
    path.write_text(f"def f():\n{body}\n" + "\n" * MODULE_LINES_MAX)
    assert long_modules([path], tmp_path) == [f"probe.py: {MODULE_LINES_MAX + 71} lines"]
    assert long_functions([path], tmp_path) == [f"probe.py:1 f: {FUNCTION_LINES_MAX + 1} lines"]

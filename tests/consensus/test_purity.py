"""The one rule: consensus/ is pure. Walk every module's imports (AST, including imports inside
functions) and fail on anything that does I/O, reads a clock, draws randomness or reaches node/."""

import ast
import pathlib

import pytest

CONSENSUS = pathlib.Path(__file__).resolve().parents[2] / "consensus"

FORBIDDEN = {
    "asyncio",
    "aiohttp",
    "plyvel",
    "socket",
    "time",
    "datetime",
    "random",
    "secrets",
    "os",
    "sys",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "threading",
    "multiprocessing",
    "subprocess",
    "concurrent",
    "signal",
    "select",
    "selectors",
    "ssl",
    "http",
    "urllib",
    "logging",
    "uuid",
    "node",
    "builtins",
    "importlib",
    "ctypes",
    "mmap",
    "sqlite3",
    "pickle",
}
FORBIDDEN_CALLS = {"open", "input", "print", "eval", "exec", "__import__", "breakpoint"}


def _modules() -> list[pathlib.Path]:
    return sorted(CONSENSUS.rglob("*.py"))


def _violations(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in FORBIDDEN:
                found.append(f"{path.name}:{node.lineno} imports {name}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_CALLS
        ):
            found.append(f"{path.name}:{node.lineno} calls {node.func.id}()")
    return found


def test_consensus_has_modules() -> None:
    assert len(_modules()) >= 3


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(CONSENSUS)))
def test_module_is_pure(path: pathlib.Path) -> None:
    assert _violations(path) == []


def test_checker_catches_an_impure_module(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import time\n    from os import path\n    return open('x')\n")
    assert len(_violations(bad)) == 3

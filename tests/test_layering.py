"""The tree tells the architecture, and these import rules keep it honest (consensus/'s purity
has its own test, tests/consensus/test_purity.py):

- the running node never imports a tool package (``node.cli``, ``node.localnet``,
  ``node.bench``, ``node.nemesis``); tools may import the runtime and each other;
- ``node.metrics`` is a leaf: it imports nothing of the node;
- no import cycles among ``node``'s modules.

Imports are read from the source (AST), including those inside functions and under
``TYPE_CHECKING``: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator, Mapping

REPO = pathlib.Path(__file__).resolve().parents[1]
TOOLS = ("node.cli", "node.localnet", "node.bench", "node.nemesis")


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_node_modules() -> dict[str, pathlib.Path]:
    return {module_name(path): path for path in sorted((REPO / "node").rglob("*.py"))}


def read_imports(path: pathlib.Path, modules: Mapping[str, pathlib.Path]) -> set[str]:
    """The modules of ``node`` that ``path`` imports (``from pkg import mod`` names ``pkg.mod``)."""
    found: set[str] = set()
    for stmt in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(stmt, ast.Import):
            found.update(alias.name for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module is not None:
            assert stmt.level == 0, f"{path}: relative import"
            for alias in stmt.names:
                submodule = f"{stmt.module}.{alias.name}"
                found.add(submodule if submodule in modules else stmt.module)
    return {name for name in found if name in modules}


def build_graph() -> dict[str, set[str]]:
    modules = find_node_modules()
    return {name: read_imports(path, modules) - {name} for name, path in modules.items()}


def is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def is_tool(name: str) -> bool:
    return any(is_within(name, tool) for tool in TOOLS)


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in sorted(graph[name]):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def edges(graph: Mapping[str, set[str]]) -> Iterator[tuple[str, str]]:
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            yield source, target


def test_the_running_node_never_imports_a_tool() -> None:
    graph = build_graph()
    assert "node.app" in graph and "node.cli" in graph  # the walk found the tree
    bad = [(s, t) for s, t in edges(graph) if not is_tool(s) and is_tool(t)]
    assert bad == []


def test_metrics_is_a_leaf() -> None:
    assert build_graph()["node.metrics"] == set()


def test_node_has_no_import_cycles() -> None:
    assert find_cycles(build_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c"]]

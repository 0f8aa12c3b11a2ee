"""consensus/ is layered: its modules import each other without cycles, and only at the top.

A cycle hidden behind an import inside a function (as ``messages`` once imported ``blocks``)
still ties the modules into one; so this walks every import, nested ones included, and fails
on a nested import as well as on a cycle.
"""

from __future__ import annotations

import ast
import pathlib

CONSENSUS = pathlib.Path(__file__).resolve().parents[2] / "consensus"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(CONSENSUS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text()) for p in sorted(CONSENSUS.rglob("*.py"))}


def _imported(node: ast.AST, known: set[str]) -> set[str]:
    """The consensus modules one import statement names (``from pkg import mod`` counts mod)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        named = {f"{node.module}.{a.name}" for a in node.names}
        return {m for m in named if m in known} or ({node.module} & known)
    return set()


def _import_graph() -> dict[str, set[str]]:
    trees = _modules()
    known = set(trees)
    return {
        name: {m for node in ast.walk(tree) for m in _imported(node, known)} - {name}
        for name, tree in trees.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for dep in sorted(graph[name]):
            found = visit(dep)
            if found is not None:
                return found
        path.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name)
        if found is not None:
            return found
    return None


def test_consensus_modules_import_each_other_without_cycles() -> None:
    graph = _import_graph()
    assert "consensus.blocks" in graph["consensus.proposal"]  # the walk sees real imports
    assert _find_cycle(graph) is None


def test_consensus_modules_import_only_at_the_top() -> None:
    nested = [
        f"{name}:{node.lineno}"
        for name, tree in _modules().items()
        for top in tree.body
        if not isinstance(top, ast.Import | ast.ImportFrom)
        for node in ast.walk(top)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert nested == []

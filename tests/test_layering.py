"""The layering the tree promises, checked from every import the code makes.

Every ``import`` and ``from … import`` is read from the source (AST), wherever it stands: at the
top, inside a function (a deferred import) or under ``if TYPE_CHECKING:``. From them:

- no import cycle between the project's modules (a cycle hidden behind a deferred import is
  still a cycle: the two modules cannot be understood, tested or moved apart);
- ``consensus/`` imports only itself, a list of pure standard-library modules, ``msgpack`` and
  ``nacl`` (an allowlist: a new import has to be argued for here), and only at the top of a
  module: an import inside a function is how a cycle hides;
- no module imports the tool packages (``node.cli``, ``node.localnet``, ``node.bench``,
  ``node.nemesis``) except the tools themselves: the running node never depends on the commands
  that start or measure it;
- the SDK (``node.client``) imports nothing of the node runtime: a client installs and runs
  without the node;
- ``node.metrics`` is a leaf (imports nothing of the node): the app hands it a snapshot, so the
  exporter cannot reach into the parts it reports on.

The checker is tested on small packages written to a temp dir, so it is shown to fail.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("consensus", "node")

CONSENSUS_MAY_IMPORT = frozenset(
    {
        "__future__",
        "abc",
        "binascii",
        "bisect",
        "collections",
        "dataclasses",
        "enum",
        "functools",
        "hashlib",
        "heapq",
        "hmac",
        "itertools",
        "math",
        "operator",
        "re",
        "string",
        "struct",
        "types",
        "typing",
        "msgpack",
        "nacl",
        "consensus",
    }
)
TOOL_PACKAGES = ("node.cli", "node.localnet", "node.bench", "node.nemesis")
CLIENT_PACKAGE = "node.client"
CLIENT_SHARED_LEAVES = ("node.home", "node.durable", "node.errors")
"""Node modules the SDK may use: the on-disk formats of key and genesis files, which a client
reads and writes the same way the node does, the synced writes and the root error they use.
They import no other node module (each other only)."""


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to an absolute dotted name."""

    source: str
    target: str
    line: int
    from_base: str = ""
    """For ``from base import name``: ``base`` (``target`` is then ``base.name``)."""


def module_name(path: pathlib.Path, root: pathlib.Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: pathlib.Path, packages: Iterable[str]) -> dict[str, pathlib.Path]:
    found: dict[str, pathlib.Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def read_imports(module: str, path: pathlib.Path) -> Iterator[Import]:
    """Every import in the file, top-level, deferred or under TYPE_CHECKING alike.

    ``from pkg import name`` is recorded as ``pkg.name`` with ``from_base="pkg"``: the graph keeps
    ``pkg.name`` when it is a submodule and ``pkg`` otherwise."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                yield Import(module, f"{base}.{alias.name}", node.lineno, base)


def project_graph(modules: dict[str, pathlib.Path]) -> dict[str, set[str]]:
    """Module → the project modules it imports (a submodule where one is named)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imp in read_imports(name, path):
            target = imp.target if imp.target in modules else imp.from_base
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def _is_in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def consensus_violations(modules: dict[str, pathlib.Path]) -> list[str]:
    found = []
    for name, path in modules.items():
        if not _is_in(name, "consensus"):
            continue
        for imp in read_imports(name, path):
            top = imp.target.split(".")[0]
            if top and top not in CONSENSUS_MAY_IMPORT:
                found.append(f"{name}:{imp.line} imports {imp.target}")
    return sorted(set(found))


def deferred_imports(modules: dict[str, pathlib.Path], package: str) -> list[str]:
    """Imports inside a function or class body of ``package``'s modules."""
    found = []
    for name, path in modules.items():
        if not _is_in(name, package):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for scope in ast.walk(tree):
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found += [
                    f"{name}:{node.lineno} imports inside {scope.name}"
                    for node in ast.walk(scope)
                    if isinstance(node, ast.Import | ast.ImportFrom)
                ]
    return sorted(set(found))


def tool_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for name, targets in graph.items():
        own_tool = next((t for t in TOOL_PACKAGES if _is_in(name, t)), None)
        for target in targets:
            tool = next((t for t in TOOL_PACKAGES if _is_in(target, t)), None)
            if tool is not None and own_tool is None:
                found.append(f"{name} imports the tool module {target}")
    return sorted(found)


def leaf_violations(graph: dict[str, set[str]], leaf: str) -> list[str]:
    return sorted(f"{leaf} imports {t}" for t in graph.get(leaf, ()) if _is_in(t, "node"))


def client_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for name, targets in graph.items():
        if _is_in(name, CLIENT_PACKAGE):
            allowed = (CLIENT_PACKAGE, *CLIENT_SHARED_LEAVES)
            what = "the node runtime module"
        elif name in CLIENT_SHARED_LEAVES:
            allowed, what = CLIENT_SHARED_LEAVES, "(a leaf the SDK shares)"
        else:
            continue
        for target in targets:
            if _is_in(target, "node") and not any(_is_in(target, a) for a in allowed):
                found.append(f"{name} imports {what} {target}")
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# the tree


@pytest.fixture(scope="module")
def modules() -> dict[str, pathlib.Path]:
    return find_modules(ROOT, PACKAGES)


def test_the_tree_has_its_packages(modules: dict[str, pathlib.Path]) -> None:
    assert {"consensus", "node", "consensus.codec", "node.driver"} <= set(modules)


def test_no_import_cycles(modules: dict[str, pathlib.Path]) -> None:
    assert find_cycles(project_graph(modules)) == []


def test_consensus_imports_only_its_allowlist(modules: dict[str, pathlib.Path]) -> None:
    assert consensus_violations(modules) == []


def test_consensus_imports_only_at_the_top(modules: dict[str, pathlib.Path]) -> None:
    assert deferred_imports(modules, "consensus") == []


def test_runtime_never_imports_the_tools(modules: dict[str, pathlib.Path]) -> None:
    assert tool_violations(project_graph(modules)) == []


def test_the_sdk_never_imports_the_node_runtime(modules: dict[str, pathlib.Path]) -> None:
    assert client_violations(project_graph(modules)) == []


def test_metrics_is_a_leaf(modules: dict[str, pathlib.Path]) -> None:
    assert leaf_violations(project_graph(modules), "node.metrics") == []


# ---------------------------------------------------------------------------------------------
# the checker fails where it should


def _write(root: pathlib.Path, files: dict[str, str]) -> dict[str, pathlib.Path]:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return find_modules(root, sorted({r.split("/")[0] for r in files}))


def test_a_cycle_behind_a_deferred_import_is_found(tmp_path: pathlib.Path) -> None:
    modules = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def f():\n    from . import c\n",
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
            "pkg/d.py": "import pkg.a\n",
        },
    )
    assert find_cycles(project_graph(modules)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_a_cycle_through_a_package_init_is_found(tmp_path: pathlib.Path) -> None:
    modules = _write(
        tmp_path,
        {"pkg/__init__.py": "from .sub import x\n", "pkg/sub.py": "from pkg import y\n"},
    )
    assert find_cycles(project_graph(modules)) == [["pkg", "pkg.sub"]]


def test_consensus_may_not_import_outside_its_allowlist(tmp_path: pathlib.Path) -> None:
    modules = _write(
        tmp_path,
        {
            "consensus/__init__.py": "",
            "consensus/good.py": "import hashlib\nimport msgpack\nfrom consensus import bad\n",
            "consensus/bad.py": "def f():\n    import json\n    from node import app\n",
        },
    )
    assert consensus_violations(modules) == [
        "consensus.bad:2 imports json",
        "consensus.bad:3 imports node.app",
    ]
    assert deferred_imports(modules, "consensus") == [
        "consensus.bad:2 imports inside f",
        "consensus.bad:3 imports inside f",
    ]


def test_runtime_importing_a_tool_and_client_importing_runtime_are_found(
    tmp_path: pathlib.Path,
) -> None:
    modules = _write(
        tmp_path,
        {
            "node/__init__.py": "",
            "node/app.py": "from node.bench import cluster\n",
            "node/bench/__init__.py": "",
            "node/bench/cluster.py": "from node import app\n",
            "node/client/__init__.py": "from node import app, home\n",
            "node/home.py": "from node import mempool\n",
            "node/mempool.py": "",
        },
    )
    graph = project_graph(modules)
    assert leaf_violations(graph, "node.home") == ["node.home imports node.mempool"]
    assert tool_violations(graph) == ["node.app imports the tool module node.bench.cluster"]
    assert client_violations(graph) == [
        "node.client imports the node runtime module node.app",
        "node.home imports (a leaf the SDK shares) node.mempool",
    ]

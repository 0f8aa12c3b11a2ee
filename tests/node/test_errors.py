"""The running node has one root error: every exception class its runtime modules define
derives from ``NodeError`` (the tools under node/cli, node/localnet and node/bench, and the
SDK under node/client with its own ``ClientError``, are other layers)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import node
from node.errors import NodeError

OTHER_LAYERS = ("node.cli", "node.localnet", "node.bench", "node.client")


def _runtime_modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(node.__path__, "node.")]
    runtime = [n for n in names if not any(n == p or n.startswith(p + ".") for p in OTHER_LAYERS)]
    return [importlib.import_module(name) for name in runtime]


def errors_outside_the_root(modules: list[ModuleType]) -> list[str]:
    found = []
    for module in modules:
        for name, cls in vars(module).items():
            if (
                inspect.isclass(cls)
                and issubclass(cls, BaseException)
                and cls.__module__ == module.__name__
                and not name.startswith("_")
                and not issubclass(cls, NodeError)
            ):
                found.append(f"{module.__name__}.{name}")
    return sorted(found)


def test_every_runtime_error_derives_from_node_error() -> None:
    modules = _runtime_modules()
    assert len(modules) > 30
    assert errors_outside_the_root(modules) == []


def test_the_check_finds_an_error_outside_the_root() -> None:
    probe = ModuleType("node.probe")
    exec("class StrayError(Exception):\n    pass\n", probe.__dict__)
    probe.StrayError.__module__ = "node.probe"
    assert errors_outside_the_root([probe]) == ["node.probe.StrayError"]


def test_errors_that_were_value_errors_still_are() -> None:
    from node.config import ConfigError
    from node.rpc.comet.query import QueryError
    from node.rpc.json_input import ClientJsonError

    assert all(issubclass(e, ValueError) for e in (ConfigError, QueryError, ClientJsonError))

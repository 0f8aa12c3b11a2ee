"""The served OpenAPI document and the router agree route by route: every route the node serves
under ``/api/`` is documented with its method, and every documented operation is served (on a
real assembled node's RPC application: the same installers ``depochain start`` runs).

HEAD is left out: aiohttp answers it for every GET route (RFC 9110: a GET without the body), so
it is part of each documented GET rather than an operation of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from node.app import Node, NodeHome
from node.rpc.reads import READS_KEY
from node.rpc.rest.openapi import build_openapi
from tests.node.node_world import ME, write_home

OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def rpc_app(tmp_path: Path) -> Iterator[web.Application]:
    node = Node(NodeHome.load(write_home(tmp_path / "home", ME)))
    app = node.build_rpc_app()
    try:
        yield app
    finally:
        app[READS_KEY].close()
        node.close()


def served_api_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route under /api/, as the document spells paths."""
    served = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method != "HEAD":
            served.add((route.method, path))
    return served


def documented_operations(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method in OPERATIONS
    }


def test_every_served_api_route_is_documented_and_every_documented_one_is_served(
    rpc_app: web.Application,
) -> None:
    served = served_api_routes(rpc_app)
    documented = documented_operations(build_openapi())
    assert served - documented == set(), "served but not in the OpenAPI document"
    assert documented - served == set(), "documented but not served"
    assert ("POST", "/api/v1/txs/precheck") in served  # the comparison sees every route
    assert ("GET", "/api/v1/txs/{tx_hash}") in served  # a regex route compares by its name

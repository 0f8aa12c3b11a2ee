"""The RPC port of a node that joins by state sync (node.statesync.status_server), served on a
real socket: status shows the restore's progress as it changes, every other read is a typed
503 ``syncing`` answer (never a 500), and stopping frees the port for the node proper."""

from __future__ import annotations

import dataclasses
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.app import NodeHome
from node.rpc.jsonrpc import SYNCING
from node.rpc.rest.schemas import ERROR_CODES_BY_STATUS, schemas
from node.statesync.restore import Phase, Progress
from node.statesync.status_server import SyncingRpc
from tests.node.node_world import write_home


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SyncingRpc, str]]:
    home = NodeHome.load(write_home(tmp_path / "joiner", "BANKA"))
    port = _free_port()
    rpc = dataclasses.replace(home.config.rpc, listen_host="127.0.0.1", listen_port=port)
    home = dataclasses.replace(home, config=dataclasses.replace(home.config, rpc=rpc))
    server = SyncingRpc(home, Progress())
    server.start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _fetch(url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), json.loads(refused.read())


def test_status_follows_the_restore(served: tuple[SyncingRpc, str]) -> None:
    server, url = served
    status, _, answer = _fetch(url + "/status")
    assert status == 200
    sync = answer["result"]["sync_info"]
    assert sync["catching_up"] is True and sync["latest_block_height"] == "0"
    assert sync["state_sync"]["phase"] == "discovering"
    progress = server.progress
    progress.phase, progress.height = Phase.FETCHING, 200
    progress.chunks_done, progress.chunks_total, progress.accounts_restored = 3, 10, 0
    _, _, answer = _fetch(url, {"jsonrpc": "2.0", "id": 7, "method": "status"})
    assert answer["id"] == 7
    assert answer["result"]["sync_info"]["state_sync"] == {
        "phase": "fetching",
        "target_height": "200",
        "chunks_fetched": "3",
        "chunks_total": "10",
        "accounts_restored": "0",
        "peers_refused": "0",
    }
    progress.phase, progress.chunks_done, progress.accounts_restored = Phase.VERIFYING, 10, 5000
    status, _, rest = _fetch(url + "/api/v1/status")
    assert status == 200 and rest["catching_up"] is True and rest["height"] == 0
    assert rest["state_sync"] == {
        "phase": "verifying",
        "target_height": 200,
        "chunks_fetched": 10,
        "chunks_total": 10,
        "accounts_restored": 5000,
    }
    assert _fetch(url + "/health")[2]["result"] == {}
    _assert_documented_status(rest)


def _assert_documented_status(rest: dict[str, Any]) -> None:
    """The syncing REST status is what the OpenAPI document's Status says, phases included."""
    schema = schemas()["Status"]
    assert set(schema["required"]) <= set(rest) <= set(schema["properties"])
    progress = schema["properties"]["state_sync"]
    assert set(rest["state_sync"]) == set(progress["properties"])
    assert {phase.value for phase in Phase} == set(progress["properties"]["phase"]["enum"])


def test_reads_are_refused_as_syncing_not_failed(served: tuple[SyncingRpc, str]) -> None:
    _, url = served
    for status, headers, answer in (
        _fetch(url + "/block?height=1"),
        _fetch(url, {"jsonrpc": "2.0", "id": 1, "method": "abci_query", "params": {}}),
    ):
        assert status == 503 and headers["Retry-After"]
        assert answer["error"]["code"] == SYNCING, answer
    calls = [
        {"jsonrpc": "2.0", "id": 1, "method": "status"},
        {"jsonrpc": "2.0", "id": 2, "method": "tx_search"},
    ]
    status, _, batch = _fetch(url, calls)
    assert status == 503
    assert "result" in batch[0] and batch[1]["error"]["code"] == SYNCING
    for path in ("/api/v1/accounts/BANKA/alice", "/api/v1/blocks/1", "/explorer"):
        status, headers, answer = _fetch(url + path)
        assert status == 503 and headers["Retry-After"], path
        assert answer["error"]["code"] == "syncing"
    assert "syncing" in ERROR_CODES_BY_STATUS[503]


def test_stopping_frees_the_port(served: tuple[SyncingRpc, str]) -> None:
    server, url = served
    server.stop()
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))  # what the node proper does next

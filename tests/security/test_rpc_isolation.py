"""One RPC request must never starve consensus, and a browser page must not reach the RPC.

Against a real node process (one validator, real LevelDB, real sockets) holding a thousand or so
committed transfers:

- a JSON-RPC batch of 100 heavy ``tx_search`` calls (a ``CONTAINS`` condition the index cannot
  answer, so every candidate's events are loaded) runs while ``/health`` keeps answering and
  blocks keep being committed (the node's budget is raised so the whole batch really runs);
- a batch of 100 ``block`` calls is cut at the response byte cap with the typed error, in
  order, and the node's memory stays bounded;
- a ``text/plain`` POST (what any web page may send without asking) is 415 and runs nothing;
- a request naming a foreign Host (DNS rebinding) is 403 and runs nothing; localhost and IP
  addresses are served.

Assertions are about order and progress (answers during the batch, heights advancing), never
about how long anything took.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consensus.crypto import sha256
from node.config import NodeConfig
from tests.integration.harness import Cluster
from tests.integration.txs import make_transfer
from tests.security.rpc_load import fill_with_transfers, post_json, post_raw, rss_bytes

pytestmark = pytest.mark.integration

TRANSFERS = 2000
RESPONSE_BYTES_MAX = 256 * 1024
RESPONSE_TOO_LARGE = -32003
HEAVY_QUERY = "tx.height>=1 AND Transferred.from_account CONTAINS 'BANK'"
RSS_GROWTH_MAX = 48 * 1024 * 1024


def _configure(config: NodeConfig) -> NodeConfig:
    # Short blocks so progress shows within the batch; budgets so large that the whole batch
    # of searches runs (the test is about where it runs, not about being cut short); a small
    # response cap so the block batch meets it.
    consensus = dataclasses.replace(config.consensus, timeout_commit_ms=200)
    rpc = dataclasses.replace(
        config.rpc,
        request_rows_max=10_000_000,
        request_blocks_max=1_000_000,
        response_bytes_max=RESPONSE_BYTES_MAX,
    )
    return dataclasses.replace(config, consensus=consensus, rpc=rpc)


@dataclasses.dataclass
class LoadedNode:
    cluster: Cluster
    filled_height: int

    @property
    def url(self) -> str:
        return self.cluster.url(0)

    @property
    def pid(self) -> int:
        return self.cluster.processes[0].pid

    def get_height(self) -> int:
        """The committed height from a cheap route that never waits for the read pool."""
        return int(self.cluster.call(0, "abci_info")["response"]["last_block_height"])


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedNode]:
    cluster = Cluster(Path(tmp_path_factory.mktemp("rpc-isolation")) / "net", validators=1)
    cluster.edit_configs(_configure)
    with cluster.running(height=2):
        yield LoadedNode(cluster, fill_with_transfers(cluster, TRANSFERS))


def _batch(method: str, params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"jsonrpc": "2.0", "id": index, "method": method, "params": p}
        for index, p in enumerate(params)
    ]


@dataclasses.dataclass
class BatchInFlight:
    """A batch posted from another thread; ``done`` is set the moment its answer arrives."""

    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    answer: Any = None

    def start(self, url: str, calls: list[dict[str, Any]]) -> threading.Thread:
        def run() -> None:
            try:
                self.answer = post_json(url, calls)
            finally:
                self.done.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def test_heavy_search_batch_leaves_health_and_blocks_running(node: LoadedNode) -> None:
    calls = _batch("tx_search", [{"query": HEAVY_QUERY, "per_page": "1"}] * 100)
    start_height = node.get_height()
    batch = BatchInFlight()
    thread = batch.start(node.url, calls)
    health_during, heights_during = 0, []
    while not batch.done.is_set():
        status, body = post_raw(node.url, b"", {}, path="/health", method="GET")
        assert status == 200 and json.loads(body)["result"] == {}
        if batch.done.is_set():
            break
        health_during += 1
        heights_during.append(node.get_height())
    thread.join()
    assert isinstance(batch.answer, list) and len(batch.answer) == 100
    assert [a["id"] for a in batch.answer] == list(range(100))
    total = int(batch.answer[0]["result"]["total_count"])
    assert total >= TRANSFERS
    assert all(int(a["result"]["total_count"]) >= total for a in batch.answer)
    assert health_during >= 3, "/health did not answer while the batch ran"
    assert heights_during and max(heights_during) > start_height, "no block while it ran"


def test_block_batch_is_capped_with_the_typed_error(node: LoadedNode) -> None:
    heights = [node.filled_height - (i % 20) for i in range(100)]
    calls = _batch("block", [{"height": str(h)} for h in heights])
    rss_before = rss_bytes(node.pid)
    status, body = post_raw(
        node.url, json.dumps(calls).encode(), {"Content-Type": "application/json"}
    )
    rss_after = rss_bytes(node.pid)
    assert status == 200
    answers = json.loads(body)
    assert [a["id"] for a in answers] == list(range(100))
    served = [a for a in answers if "result" in a]
    refused = [a for a in answers if "error" in a]
    assert served and refused, "the cap never applied"
    assert answers[: len(served)] == served, "an answer after the cap was served"
    assert all(a["error"]["code"] == RESPONSE_TOO_LARGE for a in refused)
    assert all(a["error"]["message"] == "Response too large" for a in refused)
    assert len(body) <= RESPONSE_BYTES_MAX + 200 * len(refused)
    assert rss_after - rss_before < RSS_GROWTH_MAX
    assert node.get_height() >= node.filled_height  # and the node is still there


def _signed_transfer_b64(node: LoadedNode, amount: int) -> tuple[str, str]:
    cluster = node.cluster
    customers = [a for a in cluster.endpoints()["accounts"] if a["key_file"].startswith("acc")]
    account, payee = customers[0], customers[1]
    answer = cluster.call(0, "abci_query", path=f"/nonce/{account['id']}")
    nonce = json.loads(base64.b64decode(answer["response"]["value"]))["nonce"] + 1
    tx = make_transfer(
        cluster.info.document["chain_id"],
        cluster.account_key(account["id"]),
        account["id"],
        payee["id"],
        account["instrument"],
        amount,
        nonce,
    )
    raw = tx.encode()
    return base64.b64encode(raw).decode(), sha256(raw).hex()


def _assert_unknown(node: LoadedNode, tx_hash_hex: str) -> None:
    status, body = post_raw(node.url, b"", {}, path=f"/api/v1/txs/{tx_hash_hex}", method="GET")
    assert status == 404, body[:300]


def _broadcast_body(tx_b64: str) -> bytes:
    call = {"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx_sync", "params": {"tx": tx_b64}}
    return json.dumps(call).encode()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_post_that_is_not_json_is_415_and_runs_nothing(
    node: LoadedNode, content_type: str | None
) -> None:
    tx_b64, tx_hash = _signed_transfer_b64(node, 3)
    headers = {} if content_type is None else {"Content-Type": content_type}
    status, body = post_raw(node.url, _broadcast_body(tx_b64), headers)
    assert status == 415 and json.loads(body)["error"]["code"] == "unsupported_media_type"
    rest = json.dumps({"tx": tx_b64}).encode()
    status, body = post_raw(node.url, rest, headers, path="/api/v1/txs")
    assert status == 415 and json.loads(body)["error"]["code"] == "unsupported_media_type"
    _assert_unknown(node, tx_hash)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:26657", "localhost.evil.example"])
def test_a_foreign_host_is_403_and_runs_nothing(node: LoadedNode, host: str) -> None:
    tx_b64, tx_hash = _signed_transfer_b64(node, 4)
    headers = {"Host": host, "Content-Type": "application/json"}
    status, body = post_raw(node.url, _broadcast_body(tx_b64), headers)
    assert status == 403 and json.loads(body)["error"]["code"] == "host_not_allowed"
    status, _ = post_raw(node.url, b"", {"Host": host}, path="/health", method="GET")
    assert status == 403
    _assert_unknown(node, tx_hash)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:1", "127.0.0.1", "[::1]:80", "10.1.2.3"])
def test_local_names_and_ip_addresses_are_served(node: LoadedNode, host: str) -> None:
    status, body = post_raw(node.url, b"", {"Host": host}, path="/health", method="GET")
    assert status == 200 and json.loads(body)["result"] == {}

"""Large blocks against a lowered P2P frame cap, on real node processes.

- Block sync: a sync answer used to pack up to 20 blocks whatever their size; past the frame
  limit the send raised, the error was swallowed and the lagging node asked for the same range
  forever. With ~2.6 MB blocks and a frame cap just above one block, a node stopped while such
  blocks were made must still catch up (answers are capped by bytes, at least one block each).
- Tx gossip: batches used to be capped by count only; a batch larger than the frame made
  ``broadcast`` raise inside the gossip task, which took the whole node down.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import hashlib
import json
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consensus.crypto import PrivateKey
from consensus.ledger import UnsignedTx, ValidUntil, ValidUntilKind, sign_tx
from consensus.ledger.txs import Transfer
from consensus.types import ChainId
from node.config import FRAME_OVERHEAD_BYTES, NodeConfig
from tests.integration.harness import Cluster
from tests.integration.health_wait import wait_until
from tests.security.peers import metric

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIB = 1024 * 1024
LAGGING, HALTING = 3, 2
BATCH_TXS = 100
"""Most txs the REST API takes in one request."""


def set_limits(cluster: Cluster, block_bytes_max: int, block_txs_max: int, frame: int) -> None:
    """Genesis block bounds (every node's copy) and each node's frame cap and mempool size."""
    for path in [cluster.home / "genesis.json", *cluster.home.glob("*/genesis.json")]:
        genesis = json.loads(path.read_text())
        params = genesis["consensus_params"]
        params["block_bytes_max"], params["block_txs_max"] = block_bytes_max, block_txs_max
        path.write_text(json.dumps(genesis))

    def change(config: NodeConfig) -> NodeConfig:
        return dataclasses.replace(
            config,
            p2p=dataclasses.replace(config.p2p, frame_bytes_max=frame),
            consensus=dataclasses.replace(config.consensus, block_bytes_max=block_bytes_max),
            # Thousands of txs in flight per demo account: lift admission's per-submitter share
            # and nonce window (sized for many submitters, not eight).
            mempool=dataclasses.replace(
                config.mempool,
                txs_max=50_000,
                submitter_txs_max=50_000,
                submitter_bytes_max=64 * MIB,
                nonce_window=50_000,
                backlog_ms=0,  # the pools fill while the chain is halted, on purpose
            ),
        )

    cluster.edit_configs(change)


def customer_pairs(cluster: Cluster) -> list[tuple[str, str, str]]:
    """(payer, payee, instrument) for each demo customer: the other customer of its bank."""
    genesis = json.loads((cluster.home / "genesis.json").read_text())
    customers: dict[str, list[str]] = {}
    for balance in genesis["ledger"]["balances"]:
        account = balance["account"]
        if not account.startswith("CB/"):
            customers.setdefault(balance["instrument"], []).append(account)
    pairs = []
    for instrument, accounts in customers.items():
        for payer in accounts:
            payee = next(a for a in accounts if a != payer)
            pairs.append((payer, payee, instrument))
    return pairs


def signed_transfers(cluster: Cluster, per_payer: int) -> list[bytes]:
    """``per_payer`` 1-unit transfers from each customer, with full memos (~490 bytes each),
    interleaved across payers."""
    chain_id = ChainId(cluster.info.chain_id)
    by_payer = []
    for payer, payee, instrument in customer_pairs(cluster):
        key: PrivateKey = cluster.account_key(payer)
        txs = []
        for nonce in range(1, per_payer + 1):
            unsigned = UnsignedTx(
                chain_id=chain_id,
                submitter=payer,
                nonce=nonce,
                idempotency_key=f"big-{nonce}".ljust(64, "x"),
                valid_until=ValidUntil(ValidUntilKind.HEIGHT, 10**9),
                memo="m" * 256,
                body=Transfer(payee, instrument, 1),
            )
            txs.append(sign_tx(unsigned, [key]).encode())
        by_payer.append(txs)
    return [tx for row in zip(*by_payer, strict=True) for tx in row]


def post_batch(url: str, txs: list[bytes]) -> list[dict[str, Any]]:
    body = json.dumps({"txs": [base64.b64encode(tx).decode() for tx in txs]}).encode()
    request = urllib.request.Request(
        url + "/api/v1/txs", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        results: list[dict[str, Any]] = json.loads(response.read())["results"]
    return results


def submit_all(cluster: Cluster, node: int, txs: list[bytes], threads: int) -> None:
    """Submit ``txs`` in REST batches from ``threads`` clients at once; all must be taken."""
    # Batches keep each payer's nonces in order within one client: batch i holds rows of
    # interleaved payers, and a payer's later nonces come in later batches of the same client.
    batches = [txs[i : i + BATCH_TXS] for i in range(0, len(txs), BATCH_TXS)]
    lanes = [batches[lane::threads] for lane in range(threads)]

    def run_lane(lane: list[list[bytes]]) -> None:
        for batch in lane:
            for result in post_batch(cluster.url(node), batch):
                assert result["status_code"] < 300, result

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(run_lane, lane) for lane in lanes]:
            done.result()


def wait_mempool_empty(cluster: Cluster, node: int, timeout_s: float = 180.0) -> None:
    def is_empty() -> bool:
        return int(cluster.call(node, "num_unconfirmed_txs")["n_txs"]) == 0

    wait_until(is_empty, f"node {node}'s mempool is empty", timeout_s)


def block_bytes(cluster: Cluster, node: int, height: int) -> int:
    block = cluster.call(node, "block", height=str(height))["block"]
    return sum(len(base64.b64decode(tx)) for tx in block["data"]["txs"])


@pytest.fixture
def big_block_cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path / "localnet")
    block_max = 2 * MIB + 704 * 1024  # blocks of ~2.6 MB once the mempool is full enough
    # A frame just above one full block: two blocks never fit in one answer.
    set_limits(running, block_max, 10_000, block_max + FRAME_OVERHEAD_BYTES + 64 * 1024)
    with running.running():
        yield running


def test_a_lagging_node_syncs_blocks_larger_than_half_a_frame(big_block_cluster: Cluster) -> None:
    cluster = big_block_cluster
    cluster.kill(LAGGING)
    cluster.kill(HALTING)  # no quorum while the mempools fill: then blocks come out full
    start = cluster.height(0)
    submit_all(cluster, 0, signed_transfers(cluster, 2_000), threads=4)
    cluster.start(HALTING)
    wait_mempool_empty(cluster, 0)
    top = cluster.height(0)
    sizes = [block_bytes(cluster, 0, h) for h in range(start + 1, top + 1)]
    assert sum(size >= 2_300_000 for size in sizes) >= 2, sizes  # two never fit one frame
    cluster.start(LAGGING)
    cluster.wait_healthy(LAGGING)
    cluster.wait_height(LAGGING, top, timeout_s=180)
    assert metric(cluster, LAGGING, "depochain_blocks_synced_total") > 0


@pytest.fixture
def low_frame_cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path / "localnet")
    block_max = 16 * 1024
    set_limits(running, block_max, 2_000, block_max + FRAME_OVERHEAD_BYTES)  # an 80 KiB frame
    with running.running():
        yield running


def test_tx_gossip_with_a_low_frame_cap_neither_crashes_nor_loses_txs(
    low_frame_cluster: Cluster,
) -> None:
    # A restarted node gossips every acknowledged tx it restored at once, as soon as a peer is
    # connected: 800 txs (~390 KB) against an 80 KiB frame.
    cluster = low_frame_cluster
    for other in (1, 2, 3):
        cluster.kill(other)  # no quorum: what node 0 takes stays pending
    txs = signed_transfers(cluster, 100)
    submit_all(cluster, 0, txs, threads=4)
    cluster.kill(0, signal.SIGTERM)
    cluster.start(0)
    cluster.wait_healthy(0)
    for other in (1, 2, 3):
        cluster.start(other)
    wait_mempool_empty(cluster, 0)  # node 0 stayed up and every tx it took was committed
    assert cluster.processes[0].poll() is None, cluster.log_tail(0)
    for tx in txs:  # and each is in node 1's chain too
        answer = cluster.call(1, "tx", hash=hashlib.sha256(tx).hexdigest())
        assert int(answer["height"]) > 0, answer

"""A real 4-bank cluster: separate node processes, real sockets, real LevelDB.

Transfers submitted to any node commit everywhere, and every node holds identical blocks and
app hashes at every height.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from collections.abc import Iterator

import pytest

from consensus.crypto import PrivateKey, SignPurpose
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.types import ChainId, Height, Round, ValidatorIndex
from node.gossip import ConsensusPayload, encode_gossip
from node.home import load_key
from node.p2p import P2PNetwork
from tests.integration.harness import Cluster
from tests.integration.txs import b64, make_transfer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("cluster") / "localnet")
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()


def assert_same_chain(cluster: Cluster, up_to: int) -> None:
    for height in range(1, up_to + 1):
        blocks = [cluster.call(i, "block", height=str(height)) for i in range(4)]
        hashes = {b["block_id"]["hash"] for b in blocks}
        app_hashes = {b["block"]["header"]["app_hash"] for b in blocks}
        assert len(hashes) == 1, f"height {height}: block hashes differ {hashes}"
        assert len(app_hashes) == 1, f"height {height}: app hashes differ {app_hashes}"


def test_transfers_submitted_to_any_node_commit_everywhere(cluster: Cluster) -> None:
    chain_id = cluster.info.chain_id
    payer = "BANKA/alice"
    key = cluster.account_key(payer)
    hashes = []
    for nonce, (node, payee, amount) in enumerate(
        [(0, "BANKA/bob", 100), (1, "BANKB/carol", 250), (2, "BANKB/bob", 5), (3, "BANKA/bob", 1)],
        start=1,
    ):
        tx = make_transfer(chain_id, key, payer, payee, "BANKA:USD", amount, nonce)
        answer = cluster.call(node, "broadcast_tx_sync", tx=b64(tx))
        assert answer["code"] == 0, answer
        hashes.append(answer["hash"])
    deadline = time.monotonic() + 60
    found: dict[str, dict[str, object]] = {}
    while len(found) < len(hashes) and time.monotonic() < deadline:
        for tx_hash in hashes:
            try:
                found[tx_hash] = cluster.call(3, "tx", hash=tx_hash)
            except Exception:
                time.sleep(0.2)
    assert set(found) == set(hashes), cluster.log_tail(0)
    for result in found.values():
        assert result["tx_result"]["code"] == 0, result  # type: ignore[index]
    top = max(int(r["height"]) for r in found.values())  # type: ignore[arg-type]
    for index in range(4):
        cluster.wait_height(index, top)
    assert_same_chain(cluster, top)


def test_heights_keep_increasing(cluster: Cluster) -> None:
    start = cluster.height(0)
    cluster.wait_height(0, start + 2)
    assert min(cluster.height(i) for i in range(4)) >= start


async def _dial_and_send(
    cluster: Cluster, key: PrivateKey, payloads: list[bytes], wait_s: float
) -> frozenset[bytes]:
    target = cluster.node(0)
    target_key = load_key(target.home / "node_key.json").public_key
    received: list[bytes] = []

    async def on_message(sender: bytes, payload: bytes) -> None:
        received.append(payload)

    network = P2PNetwork(
        ChainId(cluster.info.chain_id), key, "127.0.0.1", 0,
        {target_key: ("127.0.0.1", target.p2p_port)}, {target_key}, on_message,
    )  # fmt: skip
    await network.start()
    try:
        await asyncio.sleep(wait_s)
        connected = network.connected_peers()
        for payload in payloads:
            if connected:
                network.send(target_key, payload)
        await asyncio.sleep(0.5)
        return connected
    finally:
        await network.stop()


def test_a_peer_with_an_unknown_key_is_refused(cluster: Cluster) -> None:
    stranger = PrivateKey(os.urandom(32))
    connected = asyncio.run(_dial_and_send(cluster, stranger, [], wait_s=2.0))
    assert connected == frozenset()
    assert "unknown_peer_key" in cluster.log_tail(0, 2000)


def test_votes_from_a_non_validator_are_ignored(cluster: Cluster) -> None:
    # An allowed transport identity (bank-d's node key) carrying votes signed by keys that are
    # not validators: the replica rejects them and the chain goes on unchanged.
    transport_key = load_key(cluster.node(3).home / "node_key.json")
    outsider = PrivateKey(os.urandom(32))
    height = cluster.height(0) + 1
    payloads = []
    for index in range(4):
        payload = compute_vote_sign_payload(VoteType.PRECOMMIT, Height(height), Round(0), None)
        vote = Vote(
            VoteType.PRECOMMIT, Height(height), Round(0), None, ValidatorIndex(index),
            outsider.public_key, outsider.sign(SignPurpose.VOTE, ChainId(cluster.info.chain_id),
                                               payload),
        )  # fmt: skip
        payloads.append(encode_gossip(ConsensusPayload(vote)))
    cluster.kill(3)  # its identity is ours for a moment; one connection per peer pair
    try:
        connected = asyncio.run(_dial_and_send(cluster, transport_key, payloads, wait_s=1.0))
        assert connected, "bank-d's node identity should be allowed"
        before = cluster.height(0)
        cluster.wait_height(0, before + 2)
    finally:
        cluster.start(3)
        cluster.wait_healthy(3)
    cluster.wait_height(3, cluster.height(0))
    assert_same_chain(cluster, min(cluster.height(i) for i in range(4)))


def test_metrics_endpoint_reports_the_nodes_counters(cluster: Cluster) -> None:
    with urllib.request.urlopen(cluster.url(0) + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples["depochain_height"] >= 1
    assert samples["depochain_peers_connected"] == 3
    assert samples["depochain_blocks_committed_total"] >= 1
    assert 'depochain_consensus_events_total{kind="VoteReceived"}' in samples

"""A real 4-bank cluster: separate node processes, real sockets, real LevelDB.

Transfers submitted to any node commit everywhere, and every node holds identical blocks and
app hashes at every height.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consensus.certificate import verify_certificate
from consensus.crypto import PrivateKey, SignPurpose
from consensus.messages import CommitCertificate, Vote, VoteType, compute_vote_sign_payload
from consensus.types import ChainId, Height, Round, ValidatorIndex
from node.client.proof import validator_set_from_json
from node.gossip import ConsensusPayload, encode_gossip
from node.home import load_key
from node.p2p import P2PNetwork
from tests.integration.crash_load import get_json, read_metrics
from tests.integration.harness import Cluster
from tests.integration.health_wait import wait_until
from tests.integration.txs import b64, make_transfer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("cluster") / "localnet").running() as running:
        yield running


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
    found: dict[str, dict[str, Any]] = {}
    while len(found) < len(hashes) and time.monotonic() < deadline:
        for tx_hash in hashes:
            try:
                found[tx_hash] = cluster.call(3, "tx", hash=tx_hash)
            except Exception:
                time.sleep(0.2)
    assert set(found) == set(hashes), cluster.log_tail(0)
    for result in found.values():
        assert result["tx_result"]["code"] == 0, result
    top = max(int(r["height"]) for r in found.values())
    for index in range(4):
        cluster.wait_height(index, top)
    assert_same_chain(cluster, top)


def test_heights_keep_increasing(cluster: Cluster) -> None:
    start = cluster.height(0)
    cluster.wait_height(0, start + 2)
    assert min(cluster.height(i) for i in range(4)) >= start


DIAL_TIMEOUT_S = 60.0


async def _dial_and_send(
    cluster: Cluster,
    key: PrivateKey,
    make_payloads: Callable[[], list[bytes]],
    is_done: Callable[[], bool],
) -> frozenset[bytes]:
    """Run a P2P endpoint with ``key`` that dials node 0 until it is connected or ``is_done()``
    (polled, with a deadline); once connected, send ``make_payloads()`` (built then, so they
    are fresh) and wait until they were written to the socket. The peers it was connected to."""
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
        deadline = time.monotonic() + DIAL_TIMEOUT_S
        while not network.connected_peers() and not await asyncio.to_thread(is_done):
            assert time.monotonic() < deadline, "neither connected nor refused in time"
            await asyncio.sleep(0.1)
        connected = network.connected_peers()
        if connected:
            payloads = await asyncio.to_thread(make_payloads)
            for payload in payloads:
                network.send(target_key, payload)
            while network.peer_stats()[target_key].messages_sent < len(payloads):
                assert time.monotonic() < deadline, "payloads not written in time"
                await asyncio.sleep(0.05)
        return connected
    finally:
        await network.stop()


UNKNOWN_PEER = 'depochain_p2p_connection_failures_total{reason="unknown_peer_key"}'


def test_a_peer_with_an_unknown_key_is_refused(cluster: Cluster) -> None:
    stranger = PrivateKey(os.urandom(32))
    refused_before = read_metrics(cluster, 0).get(UNKNOWN_PEER, 0)

    def is_refused() -> bool:
        return read_metrics(cluster, 0).get(UNKNOWN_PEER, 0) > refused_before

    connected = asyncio.run(_dial_and_send(cluster, stranger, list, is_refused))
    assert connected == frozenset()
    assert "unknown_peer_key" in cluster.log_tail(0, 2000)


KEY_MISMATCH = (
    'depochain_consensus_inputs_rejected_total{kind="VoteReceived",'
    'reason="validator index does not match a validator of this height"}'
)


def _outsider_votes(cluster: Cluster, outsider: PrivateKey, signatures: list[bytes]) -> list[bytes]:
    """Nil precommits signed by ``outsider`` under each validator index, for the height node 0
    decides and its neighbours: whichever of them is previous, current or next when they
    arrive is checked against the validator set (and refused), not dropped as stale."""
    deciding = int(read_metrics(cluster, 0)["depochain_consensus_height"])
    payloads = []
    for height in (deciding - 1, deciding, deciding + 1):
        payload = compute_vote_sign_payload(VoteType.PRECOMMIT, Height(height), Round(0), None)
        signature = outsider.sign(SignPurpose.VOTE, ChainId(cluster.info.chain_id), payload)
        signatures.append(signature)
        for index in range(4):
            vote = Vote(
                VoteType.PRECOMMIT, Height(height), Round(0), None, ValidatorIndex(index),
                outsider.public_key, signature,
            )  # fmt: skip
            payloads.append(encode_gossip(ConsensusPayload(vote)))
    return payloads


def test_votes_from_a_non_validator_are_refused_and_never_certified(cluster: Cluster) -> None:
    # An allowed transport identity (bank-d's node key) carrying votes signed by a key that is
    # not a validator's: node 0 receives them and refuses each for its key (a counter says so),
    # no certificate holds them, and the chain goes on unchanged.
    transport_key = load_key(cluster.node(3).home / "node_key.json")
    outsider = PrivateKey(os.urandom(32))
    signatures: list[bytes] = []
    refused_before = read_metrics(cluster, 0).get(KEY_MISMATCH, 0)
    cluster.kill(3)  # its identity is ours for a moment; one connection per peer pair
    try:
        connected = asyncio.run(
            _dial_and_send(
                cluster,
                transport_key,
                lambda: _outsider_votes(cluster, outsider, signatures),
                lambda: False,
            )
        )
        assert connected, "bank-d's node identity should be allowed"
        wait_until(
            lambda: read_metrics(cluster, 0).get(KEY_MISMATCH, 0) >= refused_before + 4,
            "node 0 refused the outsider's votes",
            timeout_s=60,
        )
        cluster.wait_height(0, cluster.height(0) + 2)
    finally:
        cluster.start(3)
        cluster.wait_healthy(3)
    cluster.wait_height(3, cluster.height(0))
    top = min(cluster.height(i) for i in range(4))
    assert_same_chain(cluster, top)
    assert_certificates_hold_only_validators(cluster, top, set(signatures))


def assert_certificates_hold_only_validators(
    cluster: Cluster, up_to: int, foreign: set[bytes]
) -> None:
    """Every certificate node 0 stored verifies against the validator set and holds none of
    the ``foreign`` signatures."""
    validators = validator_set_from_json(get_json(cluster.url(0) + "/api/v1/validators"))
    chain_id = ChainId(cluster.info.chain_id)
    for height in range(1, up_to + 1):
        block = get_json(f"{cluster.url(0)}/api/v1/blocks/{height}")
        certificate = CommitCertificate.decode(base64.b64decode(block["certificate"]["encoded"]))
        verify_certificate(certificate, bytes.fromhex(block["hash"]), height, validators, chain_id)
        assert not {sig.signature for sig in certificate.signatures} & foreign, height


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

"""A tx admitted while its node had no peer reaches each peer as it connects: a node cut off
(its link down, its peers restarting) broadcasts what clients give it to nobody, and once the
link is back those txs must not wait for this node's own turn to propose.

Real node processes: node 0 runs alone and admits a transfer; node 1 then starts. Two of four
validators cannot commit anything, so the only way node 1 can hold the tx is node 0 sending its
waiting txs when node 1 connects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consensus.crypto import sha256
from node.home import load_key
from node.nemesis import checks
from node.nemesis.load import PayerSpec, build_transfer, submit_once
from tests.integration.harness import Cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAIT_S = 60.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path / "net")
    try:
        yield cluster
    finally:
        cluster.stop_all()


def first_payer(cluster: Cluster) -> PayerSpec:
    accounts = cluster.info.document["accounts"]
    payer, payee = (
        accounts[0],
        next(a for a in accounts[1:] if a["id"].split("/")[0] == accounts[0]["id"].split("/")[0]),
    )
    key = load_key(cluster.info.home / payer["key_file"])
    return PayerSpec(payer["id"], payer["instrument"], key, payee["id"])


def test_a_tx_admitted_with_no_peer_reaches_a_peer_when_it_connects(cluster: Cluster) -> None:
    cluster.start(0)
    cluster.wait_healthy(0)
    raw = build_transfer(cluster.info.chain_id, first_payer(cluster), 1, "alone")
    assert submit_once(cluster.url(0), raw)
    tx_hash = sha256(raw).hex()
    cluster.start(1)
    cluster.wait_healthy(1)
    deadline = time.monotonic() + WAIT_S
    status = None
    while time.monotonic() < deadline:
        try:
            status = checks.client(cluster.url(1)).tx(tx_hash).get("status")
        except checks.ClientError:
            status = None
        if status == "pending":
            break
        time.sleep(0.2)
    assert status == "pending", f"node 1 never received the tx:\n{cluster.log_tail(1)}"
    assert cluster.height(1) == 0  # nothing committed: gossip on connect, not a block, moved it

"""A real 4-bank cluster: separate node processes, real sockets, real LevelDB.

Transfers submitted to any node commit everywhere, and every node holds identical blocks and
app hashes at every height.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

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

"""State sync on a real cluster: four validators take snapshots every few heights under load;
a fifth, empty node with ``[statesync].enable`` joins from a snapshot, its app hash matches
the validators' at the same heights, it serves no block below its base, follows the chain, and
restarts cleanly without syncing again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Cluster
from tests.integration.node_process import RpcError
from tests.integration.statesync_joiner import Joiner, cluster_with_joiner
from tests.integration.txs import b64, make_transfer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SNAPSHOT_INTERVAL = 5
CHUNK_BYTES = 4096
"""Small, so even the localnet's state is several chunks."""
JOIN_TIMEOUT_S = 300.0
START_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Joiner]]:
    root = tmp_path_factory.mktemp("statesync")
    with cluster_with_joiner(root, SNAPSHOT_INTERVAL, CHUNK_BYTES, 280) as (cluster, joiner):
        _start(cluster, {})
        yield cluster, joiner


def _start(cluster: Cluster, failpoints: dict[int, str]) -> None:
    """Start the four validators (with a TEST-ONLY failpoint each, if given); the start-up
    wait is generous because the machine may be loaded."""
    for index in range(4):
        failpoint = failpoints.get(index)
        cluster.start(index, env={"DEPOCHAIN_FAILPOINT": failpoint} if failpoint else None)
    for index in range(4):
        cluster.wait_healthy(index, timeout_s=START_TIMEOUT_S)


def _load(cluster: Cluster, count: int, first_nonce: int) -> None:
    key = cluster.account_key("BANKA/alice")
    for offset in range(count):
        tx = make_transfer(
            cluster.info.chain_id, key, "BANKA/alice", "BANKB/bob", "BANKA:USD", 1,
            first_nonce + offset,
        )  # fmt: skip
        answer = cluster.call(offset % 4, "broadcast_tx_sync", tx=b64(tx))
        assert answer["code"] == 0, answer


def _header(call: object, height: int) -> tuple[str, str]:
    block = call("block", height=str(height))  # type: ignore[operator]
    return block["block_id"]["hash"], block["block"]["header"]["app_hash"]


def test_an_empty_node_joins_by_state_sync_and_restarts(setup: tuple[Cluster, Joiner]) -> None:
    cluster, joiner = setup
    _load(cluster, 40, 1)
    cluster.wait_height(0, 3 * SNAPSHOT_INTERVAL + 2, timeout_s=300)
    joiner.start()
    top = cluster.height(0)
    joined = joiner.wait_height(top, JOIN_TIMEOUT_S)
    log = joiner.log_text()
    assert "statesync: installed the state of height" in log, log[-3000:]
    status = joiner.call("status")["sync_info"]
    base = int(status["earliest_block_height"])
    assert base >= SNAPSHOT_INTERVAL and base % SNAPSHOT_INTERVAL == 0
    for height in (base, base + 1, joined):
        assert _header(joiner.call, height) == _header(
            lambda m, **p: cluster.call(0, m, **p), height
        )
    with pytest.raises(RpcError, match="lowest height"):
        joiner.call("block", height=str(base - 1))
    _load(cluster, 10, 41)  # it follows the live chain
    later = cluster.wait_height(0, joined + 3, timeout_s=120)
    joiner.wait_height(later, 120)
    assert _header(joiner.call, later) == _header(lambda m, **p: cluster.call(0, m, **p), later)
    assert joiner.stop() == 0
    joiner.start()
    again = joiner.wait_height(later + 1, 240)
    assert joiner.log_text().count("statesync: installed the state of height") == 1
    assert int(joiner.call("status")["sync_info"]["earliest_block_height"]) == base
    assert _header(joiner.call, again) == _header(lambda m, **p: cluster.call(0, m, **p), again)


HOSTILE = {
    1: "statesync_bad_chunks",
    2: "statesync_forged_manifest",
    3: "statesync_forged_manifest",
}
"""Node 1 serves corrupted chunks of the true snapshot; nodes 2 and 3 offer a consistent but
wrong one (its last chunk left out), which is tried first (as many peers, fewer chunks)."""


def test_hostile_peers_cost_time_not_state(tmp_path: Path) -> None:
    with cluster_with_joiner(tmp_path, SNAPSHOT_INTERVAL, CHUNK_BYTES, 280) as (cluster, joiner):
        _start(cluster, HOSTILE)
        _load(cluster, 20, 1)
        cluster.wait_height(0, 2 * SNAPSHOT_INTERVAL + 2, timeout_s=300)
        joiner.start()
        joined = joiner.wait_height(cluster.height(0), JOIN_TIMEOUT_S)
        log = joiner.log_text()
        assert "does not rebuild the certified app hash" in log, log[-3000:]
        assert "does not hash to the manifest's entry" in log, log[-3000:]
        assert log.count("statesync: installed the state of height") == 1
        assert _header(joiner.call, joined) == _header(
            lambda m, **p: cluster.call(0, m, **p), joined
        )

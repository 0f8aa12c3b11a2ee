"""Backpressure at the client's door (node.backlog), on a real assembled node (LevelDB store,
mempool, journal, services): a client is told "try later" once the mempool holds the backlog,
while a peer's gossiped transactions still enter; the backlog follows the recent block size."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.app import Node, NodeHome
from node.backlog import BACKLOG_BLOCKS, BacklogGate
from node.home import CONFIG_FILE
from node.mempool import Accepted, MempoolFull
from tests.node.node_world import ME, transfer, write_home


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    assembled = Node(NodeHome.load(write_home(tmp_path / "home", ME)))
    yield assembled
    assembled.close()


def test_a_client_is_told_to_try_later_once_the_backlog_is_full(node: Node) -> None:
    node.backlog.txs_min = 3
    for nonce in (1, 2, 3):
        assert isinstance(node.services.submit_tx(transfer(1, nonce)), Accepted)
    with pytest.raises(MempoolFull) as refused:
        node.services.submit_tx(transfer(1, 4))
    assert "backlog" in refused.value.reason
    assert len(node.mempool) == 3 and node.backlog.refused_total == 1
    # the same tx from a peer (already accepted by its node) still enters
    assert isinstance(node.mempool.add(transfer(1, 4)), Accepted)


def test_the_backlog_is_a_few_recent_blocks_and_never_below_the_floor() -> None:
    gate = BacklogGate(txs_min=100)
    assert gate.limit == 100
    gate.record_block(0)  # an empty block changes nothing
    assert gate.limit == 100
    gate.record_block(1_000)
    assert gate.limit == int(BACKLOG_BLOCKS * 1_000)
    for _ in range(30):
        gate.record_block(10)
    assert gate.limit == 100


def test_backlog_blocks_0_builds_no_gate_and_never_refuses(tmp_path: Path) -> None:
    home = write_home(tmp_path / "home", ME)
    config = home / CONFIG_FILE
    text = re.sub(r"(?m)^backlog_blocks = .*$", "backlog_blocks = 0", config.read_text())
    config.write_text(re.sub(r"(?m)^backlog_txs_min = .*$", "backlog_txs_min = 2", text))
    assembled = Node(NodeHome.load(home))
    try:
        pool = assembled.home.config.mempool
        assert (pool.backlog_blocks, pool.backlog_txs_min) == (0, 2)
        assert assembled.backlog is None and assembled.services.backlog is None
        for nonce in range(1, 6):  # past backlog_txs_min: the floor of a gate that is off
            assert isinstance(assembled.services.submit_tx(transfer(1, nonce)), Accepted)
    finally:
        assembled.close()

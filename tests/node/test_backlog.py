"""Backpressure at the client's door (node.backlog), on a real assembled node (LevelDB store,
mempool, journal, services): a client is told "try later" once the mempool holds the backlog,
while a peer's gossiped transactions still enter; the backlog is a time at the chain's recent
commit rate, measured on a clock the tests drive by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from node.app import Node, NodeHome
from node.backlog import BacklogGate
from node.home import CONFIG_FILE
from node.mempool import Accepted, MempoolFull
from tests.node.node_world import ME, transfer, write_home


class HandClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def gate_on(clock: HandClock, txs_min: int = 100, backlog_ms: int = 1000) -> BacklogGate:
    gate = BacklogGate(backlog_ms, txs_min, clock=clock)
    gate.record_block(0)  # the first commit seen only starts the clock
    return gate


def commit(gate: BacklogGate, clock: HandClock, count: int, seconds: float) -> None:
    clock.now += seconds
    gate.record_block(count)


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
    assert "backlog of 1 s" in refused.value.reason
    assert len(node.mempool) == 3 and node.backlog.refused_total == 1
    # the same tx from a peer (already accepted by its node) still enters
    assert isinstance(node.mempool.add(transfer(1, 4)), Accepted)


def test_the_refusal_says_the_backlog_in_seconds_and_the_rate() -> None:
    clock = HandClock()
    gate = gate_on(clock, txs_min=10)
    commit(gate, clock, 500, 0.5)  # 1,000 tx/s
    with pytest.raises(MempoolFull) as refused:
        gate.check(b"tx", 2_000)
    assert refused.value.reason == "2000 txs pending, about 2.0 s at 1000 tx/s: a backlog of 1 s"


def test_the_limit_grows_while_blocks_drain_the_pool() -> None:
    # At saturation a block takes about what the gate let in; with the next block's txs
    # arriving while one commits, a block carries about half the limit. A bound in blocks
    # (2 * block size) stays flat there; a bound in time grows block by block.
    clock = HandClock()
    gate = gate_on(clock, txs_min=1_000)
    limits = [gate.limit]
    for _ in range(8):
        commit(gate, clock, limits[-1] // 2, 0.25)
        limits.append(gate.limit)
    assert all(later > earlier for earlier, later in pairwise(limits))
    assert limits[-1] >= 4 * limits[0]


def test_the_limit_stops_growing_where_the_chain_capacity_binds() -> None:
    # blocks capped at 2,000 txs every 0.25 s: the rate settles at 8,000 tx/s, the limit at 1 s
    clock = HandClock()
    gate = gate_on(clock, txs_min=1_000)
    for _ in range(40):
        commit(gate, clock, min(2_000, gate.limit // 2), 0.25)
    assert gate.limit == pytest.approx(8_000, rel=0.01)


def test_a_slow_chain_keeps_the_floor() -> None:
    clock = HandClock()
    gate = gate_on(clock, txs_min=1_000)
    for _ in range(20):
        commit(gate, clock, 50, 1.0)  # 50 tx/s: a second of it is far below the floor
    assert gate.rate == pytest.approx(50)
    assert gate.limit == 1_000


def test_empty_blocks_count_as_time_but_never_drop_the_limit_below_the_floor() -> None:
    clock = HandClock()
    gate = gate_on(clock, txs_min=100)
    for _ in range(20):  # a block of 1,000 txs, then three empty ones, 0.25 s each: 1,000 tx/s
        commit(gate, clock, 1_000, 0.25)
        for _ in range(3):
            commit(gate, clock, 0, 0.25)
    assert gate.limit == pytest.approx(1_000, rel=0.01)
    busy = gate.limit
    for _ in range(200):  # a quiet chain: empty blocks alone leave the estimate as it was
        commit(gate, clock, 0, 1.0)
    assert gate.limit == busy
    for _ in range(20):  # a trickle after a long quiet: the floor, never below
        commit(gate, clock, 1, 10.0)
    assert gate.limit == 100


def test_backlog_ms_0_builds_no_gate_and_never_refuses(tmp_path: Path) -> None:
    home = write_home(tmp_path / "home", ME)
    config = home / CONFIG_FILE
    text = re.sub(r"(?m)^backlog_ms = .*$", "backlog_ms = 0", config.read_text())
    config.write_text(re.sub(r"(?m)^backlog_txs_min = .*$", "backlog_txs_min = 2", text))
    assembled = Node(NodeHome.load(home))
    try:
        pool = assembled.home.config.mempool
        assert (pool.backlog_ms, pool.backlog_txs_min) == (0, 2)
        assert assembled.backlog is None and assembled.services.backlog is None
        for nonce in range(1, 6):  # past backlog_txs_min: the floor of a gate that is off
            assert isinstance(assembled.services.submit_tx(transfer(1, nonce)), Accepted)
    finally:
        assembled.close()

"""The driver reads time only through the node's clock (node/clock.py).

A real node (tests/node/node_world.py) runs with a clock the test moves by hand, set far from the
machine's: the time our proposal's block carries, the time stamped on the events the driver
makes, and the least gap between two TxsAvailable all follow that clock, not the machine's. The
other banks' messages carry the machine's time, so a driver that read ``time`` itself would
show it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from consensus.events import TxsAvailable
from consensus.proposal import Proposal
from node.driver import TXS_AVAILABLE_MIN_GAP_S
from tests.node import boundary
from tests.node.boundary import BoundaryLog
from tests.node.node_world import (
    ME,
    OTHERS,
    PROPOSER_1,
    ManualClock,
    RunningNode,
    write_home,
)

CLOCK_START_MS = 4_000_000_000_000
"""Year 2096: far from any machine's clock, and after any block time the test chain has."""
PAST_THE_GAP_S = TXS_AVAILABLE_MIN_GAP_S + 0.005
"""Just past the least gap between two TxsAvailable (not exactly on it: float sums)."""


def _txs_available(log: BoundaryLog) -> list[TxsAvailable]:
    return [e for _, e in boundary.handled_events(log) if isinstance(e, TxsAvailable)]


def test_our_proposal_carries_the_time_of_the_node_clock(tmp_path: Path) -> None:
    home = write_home(tmp_path / "bank-a", ME, timeout_commit_ms=0)
    clock = ManualClock(CLOCK_START_MS)

    async def scenario() -> Proposal:
        running = RunningNode(home, BoundaryLog(), clock)
        try:
            running.start()
            # Block 1 is BANKB's, 2 s before our clock (within the message delay, so timely):
            # block 2 (ours) can take our time.
            first = running.propose_as(PROPOSER_1, time_ms=CLOCK_START_MS - 2_000)
            running.deliver(first)
            await running.agree_on(1, first.block.hash, OTHERS)
            await running.wait_for(
                "our proposal of height 2",
                lambda: any(isinstance(m, Proposal) for m in running.own_sent(2)),
            )
            [ours] = [m for m in running.own_sent(2) if isinstance(m, Proposal)]
            return ours
        finally:
            await running.stop()

    proposal = asyncio.run(scenario())
    assert proposal.block.header.time_ms == CLOCK_START_MS


def test_txs_available_gap_and_time_follow_the_node_clock(tmp_path: Path) -> None:
    home = write_home(tmp_path / "bank-a", ME)
    clock = ManualClock(CLOCK_START_MS)
    log = BoundaryLog()

    async def scenario() -> None:
        running = RunningNode(home, log, clock)
        try:
            running.start()  # the driver offers the mempool once at start
            await running.wait_for("the first TxsAvailable", lambda: _txs_available(log))
            assert [e.now_ms for e in _txs_available(log)] == [CLOCK_START_MS]
            reads = clock.monotonic_reads
            running.node.driver.notify_txs_changed()
            # The driver looks again every few milliseconds of real time; with its clock
            # standing still the gap never ends, however often it looks.
            await running.wait_for(
                "three more gap checks (or a second TxsAvailable)",
                lambda: clock.monotonic_reads >= reads + 3 or len(_txs_available(log)) > 1,
            )
            assert len(_txs_available(log)) == 1, "a TxsAvailable while the clock stood still"
            clock.advance(PAST_THE_GAP_S)
            await running.wait_for("the second TxsAvailable", lambda: len(_txs_available(log)) == 2)
        finally:
            await running.stop()

    asyncio.run(scenario())
    later_ms = CLOCK_START_MS + round(PAST_THE_GAP_S * 1000)
    assert [e.now_ms for e in _txs_available(log)] == [CLOCK_START_MS, later_ms]

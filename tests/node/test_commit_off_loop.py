"""node.committer through the driver of a real node: a decided block is executed and stored in a
worker thread while the event loop keeps running, and nothing else reaches the replica meanwhile.

The worker's step (``Chain.execute_and_store``) is held at its start until the test, running on
the event loop, has seen the loop-lag monitor tick: were the block written on the loop, the
monitor could not tick and the step would give up waiting (and the test fail). No wall-clock
figure is asserted; the waits are generous deadlines on a shared machine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.messages import VoteType
from consensus.types import Hash32
from node.chain import StoredBlock
from tests.node.held_step import Hold, release_after_ticks, watched_node
from tests.node.node_world import PROPOSER_1, RunningNode, transfer, write_home


@dataclass
class CommitHold(Hold):
    """What the held ``execute_and_store`` saw."""

    state_height_while_held: int = -1


def hold_execute_and_store(running: RunningNode, hold: CommitHold) -> None:
    chain = running.node.chain
    real = chain.execute_and_store

    def held(*args: Any) -> StoredBlock:
        hold.wait_here(running)
        return real(*args)

    chain.execute_and_store = held  # type: ignore[method-assign,assignment]


def repeat_a_vote_while_held(running: RunningNode, hold: CommitHold, block_hash: Hash32) -> None:
    """Note the tip readers see, then hand the driver a repeated prevote for the block."""
    hold.state_height_while_held = running.node.chain.state.height
    running.deliver(running.vote_as(PROPOSER_1, VoteType.PREVOTE, 1, block_hash))


def test_the_loop_runs_while_a_block_is_stored_and_the_driver_waits_for_it(
    tmp_path: Path,
) -> None:
    home = write_home(tmp_path / "bank-a", "BANKA", timeout_commit_ms=0)
    hold = CommitHold()

    tx = transfer(10, nonce=1)

    def prepare(running: RunningNode) -> None:
        hold_execute_and_store(running, hold)
        running.node.mempool.add(tx)

    async def scenario() -> int:
        async with watched_node(home, prepare) as running:
            proposal = running.propose_as(PROPOSER_1, txs=(tx,))
            running.deliver(proposal)
            releaser = asyncio.create_task(
                release_after_ticks(
                    running,
                    hold,
                    "the worker to hold the block",
                    lambda: repeat_a_vote_while_held(running, hold, proposal.block.hash),
                )
            )
            await running.agree_on(1, proposal.block.hash, ("BANKB", "BANKC"))
            handled_while_held = await releaser
            assert hold.released_in_time, "the event loop did not run while the block was stored"
            await running.wait_own_vote(VoteType.PREVOTE, 2)
            assert running.node.chain.state.height == 1
            assert running.node.driver.stats.events_handled > handled_while_held
            stretches = running.node.loop_watch.stretches
            assert stretches["commit: execute + store (worker)"].count == 1
            assert "commit on the loop" not in stretches
            return handled_while_held

    handled_while_held = asyncio.run(scenario())
    assert not hold.on_main_thread
    # Nothing reached the replica while the block was being stored: not the duplicate vote,
    # not the new-transactions wake-up; readers on the loop still saw the previous tip.
    assert handled_while_held == hold.handled_at_entry
    assert hold.state_height_while_held == 0

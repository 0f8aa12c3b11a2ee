"""node.persister through the driver of a real node: while a sign-state persist is slow, the event
loop keeps running, nothing reaches the replica, and the vote it covers is not sent until the
persist has returned.

The node's real ``SignStateFile.persist`` (temp file, fsync, rename, folder fsync on a real temp
folder) is wrapped by a hold that waits, at its start, until the test, running on the event loop,
has seen the loop-lag monitor tick: were the persist done on the loop, the monitor could not tick
and the hold would give up (the test fails). When the real persist returns, the wrapper notes
what the node had sent by then: the vote it covers must not be among it. No wall-clock figure is
asserted; the waits are generous deadlines on a shared machine.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path

from consensus.messages import Vote, VoteType
from consensus.proposal import Proposal
from consensus.safety import SignState, SignStep
from node.persister import WORKER_STAGE
from tests.node.held_step import Hold, release_after_ticks, watched_node
from tests.node.node_world import PROPOSER_1, RunningNode, write_home


@dataclass
class PersistHold(Hold):
    """What the held persist of our first prevote saw."""

    done: threading.Event = field(default_factory=threading.Event)
    sent_when_durable: list[Proposal | Vote] = field(default_factory=list)
    """Our own messages the network had been handed when the real persist returned."""


def hold_first_prevote_persist(running: RunningNode, hold: PersistHold) -> None:
    """Wrap the node's sign-state file: the persist of the prevote at height 1 waits for the
    test, then runs for real; every other persist runs at once."""
    sign_state_file = running.node.sign_state_file
    real = sign_state_file.persist

    def held(state: SignState) -> None:
        if state.height != 1 or state.step != SignStep.PREVOTE or hold.entered.is_set():
            real(state)
            return
        hold.wait_here(running)
        real(state)
        hold.sent_when_durable = running.own_sent(1)
        hold.done.set()

    sign_state_file.persist = held  # type: ignore[method-assign]


def test_the_loop_runs_while_the_sign_state_is_persisted_and_the_vote_waits(
    tmp_path: Path,
) -> None:
    home = write_home(tmp_path / "bank-a", "BANKA")
    hold = PersistHold()

    async def scenario() -> tuple[int, Vote]:
        async with watched_node(home, lambda r: hold_first_prevote_persist(r, hold)) as running:
            proposal = running.propose_as(PROPOSER_1)
            running.deliver(proposal)
            releaser = asyncio.create_task(
                release_after_ticks(
                    running,
                    hold,
                    "the persist to be held",
                    lambda: running.deliver(proposal),  # a repeat: not to be handed over
                )
            )
            prevote = await running.wait_own_vote(VoteType.PREVOTE, 1)
            handled_while_held = await releaser
            await running.wait_for("the held persist to return", hold.done.is_set)
            assert hold.released_in_time, "the event loop did not run while the persist was slow"
            stretches = running.node.loop_watch.stretches
            assert stretches[WORKER_STAGE].count >= 1
            assert "sign state persist (fsync)" not in stretches  # none on the loop
            return handled_while_held, prevote

    handled_while_held, prevote = asyncio.run(scenario())
    assert not hold.on_main_thread
    assert prevote.block_hash is not None
    # The prevote left only after its sign state was on disk, and nothing reached the replica
    # while the persist was in flight (not the repeated proposal, not the new-txs wake-up).
    assert prevote not in hold.sent_when_durable
    assert handled_while_held == hold.handled_at_entry

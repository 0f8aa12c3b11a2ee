"""WAL admission on a real node (LevelDB, WAL, replica; tests/node/node_world.py): a peer's junk
never reaches the WAL, valid messages still do and still commit, exact copies of accepted
messages are not logged twice, and a spent byte budget leaves only the current round."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from consensus.crypto import PrivateKey, SignPurpose
from consensus.messages import VoteType
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.types import Height, Signature
from tests.node.boundary import BoundaryLog
from tests.node.node_world import (
    CHAIN_ID,
    ME,
    OTHERS,
    PROPOSER_1,
    RunningNode,
    transfer,
    validator_key,
    write_home,
)


def run_node(tmp_path: Path, scenario: Callable[[RunningNode], Awaitable[None]]) -> None:
    async def main() -> None:
        running = RunningNode(write_home(tmp_path / "bank-a", ME), BoundaryLog())
        running.node.mempool.add(transfer(5, nonce=1))
        running.start()
        try:
            await scenario(running)
        finally:
            await running.stop()

    asyncio.run(main())


def resigned(proposal: Proposal, key: PrivateKey, height: int | None = None) -> Proposal:
    at = Height(proposal.height if height is None else height)
    payload = compute_proposal_sign_payload(at, proposal.round, -1, proposal.block.hash)
    signature = key.sign(SignPurpose.PROPOSAL, CHAIN_ID, payload)
    return dataclasses.replace(proposal, height=at, proposer=key.public_key, signature=signature)


def refusals(running: RunningNode) -> int:
    return sum(running.node.driver.stats.rejected.values())


async def settle(running: RunningNode, handled: int) -> None:
    await running.wait_for(
        "the inbox drained", lambda: running.node.driver.stats.events_handled >= handled
    )


def test_junk_is_not_logged_and_valid_messages_still_commit(tmp_path: Path) -> None:
    async def scenario(running: RunningNode) -> None:
        await running.wait_for("started", lambda: running.node.driver.stats.events_handled > 0)
        good = running.propose_as(PROPOSER_1)
        stranger = PrivateKey(os.urandom(32))
        junk = [
            dataclasses.replace(good, signature=Signature(os.urandom(64))),  # bad signature
            resigned(good, stranger),  # not a validator
            resigned(good, validator_key(PROPOSER_1), height=10**6),  # far outside the window
        ]
        stats = running.node.driver.stats
        records, handled, refused = stats.wal_records, stats.events_handled, refusals(running)
        for message in junk:
            running.deliver(message)
        await settle(running, handled + len(junk))
        assert refusals(running) == refused + len(junk)
        assert stats.wal_records == records
        assert stats.rejected[("ProposalReceived", "height outside the replica's window")] == 1
        running.deliver(good)
        await running.agree_on(1, good.block.hash, OTHERS)
        assert running.node.driver.stats.wal_records > records

    run_node(tmp_path, scenario)


def test_an_exact_copy_of_an_accepted_vote_is_not_logged_again(tmp_path: Path) -> None:
    async def scenario(running: RunningNode) -> None:
        good = running.propose_as(PROPOSER_1)
        running.deliver(good)
        await running.wait_own_vote(VoteType.PREVOTE, 1)
        vote = running.vote_as(OTHERS[1], VoteType.PREVOTE, 1, good.block.hash)
        running.deliver(vote)
        handled = running.node.driver.stats.events_handled + 1
        await settle(running, handled)
        before = (refusals(running), running.node.driver.stats.wal_records)
        running.deliver(vote)
        await settle(running, handled + 1)
        assert (refusals(running), running.node.driver.stats.wal_records) == (
            before[0] + 1,
            before[1],
        )

    run_node(tmp_path, scenario)


def test_past_the_budget_only_the_current_round_is_logged(tmp_path: Path) -> None:
    async def scenario(running: RunningNode) -> None:
        running.node.driver._admission.height_budget_bytes = 0  # spent from the start
        vset = running.node.replica.get_validator_set(1)
        assert vset is not None
        later = next(r for r in range(1, 9) if vset.proposer(1, r).public_key != running.public_key)
        bank = next(
            b for b in OTHERS if validator_key(b).public_key == vset.proposer(1, later).public_key
        )
        stats = running.node.driver.stats
        handled = stats.events_handled
        running.deliver(running.propose_as(bank, round_=later))  # a later round: refused
        await settle(running, handled + 1)
        spent = ("ProposalReceived", "height's byte budget for peers' messages is spent")
        assert stats.rejected.get(spent) == 1
        good = running.propose_as(PROPOSER_1)  # the current round: still logged, and decides
        running.deliver(good)
        await running.agree_on(1, good.block.hash, OTHERS)

    run_node(tmp_path, scenario)

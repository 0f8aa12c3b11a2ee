"""Locking at its edges: Algorithm 1's lines 22 and 28 with the lock's own round and block, and
a decision reached by our own precommit in the same step as the lock.

Complements test_replica.py (one test per rule).
"""

from __future__ import annotations

from dataclasses import replace

from consensus.actions import CommitBlock, ScheduleTimeout
from consensus.events import BlockExecuted, ProposalReceived, TxsAvailable, VoteReceived
from consensus.round_step import RoundStep, Timer
from consensus.safety import SignState, SignStep
from consensus.types import Height
from tests.consensus.replica_fixtures import (
    PARAMS,
    VSET,
    block_at_1,
    broadcast_votes,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)
from tests.consensus.test_replica import committed, feed, locked_in_round_0

S = RoundStep
H1 = Height(1)


def test_a_fresh_proposal_of_the_locked_block_is_prevoted() -> None:
    replica, block = locked_in_round_0()
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(block, round_=1))))
    assert v.block_hash == block.hash


def test_a_polka_in_the_lock_round_itself_releases_the_lock_line_28() -> None:
    replica, block = locked_in_round_0()  # locked on block at round 0 (prevotes of 1 and 2)
    other = block_at_1(txs=(b"other",), proposer=proposer_index(1, 1))
    # validators 1 and 2 also prevoted `other` in round 0 (equivocation), and 3 did too:
    # a polka for `other` in round 0, the lock's own round, so line 28 accepts it
    feed(replica, *(VoteReceived(prevote(i, 0, other.hash)) for i in (1, 2, 3)))
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(other, round_=1, pol_round=0))))
    assert v.block_hash == other.hash
    assert block != other


def test_the_deciding_step_arms_no_precommit_timeout() -> None:
    _replica, _block, out = committed()
    assert any(isinstance(a, CommitBlock) for a in out)
    assert not [
        a for a in out if isinstance(a, ScheduleTimeout) and a.timer == Timer.PRECOMMIT_WAIT
    ]


def test_our_own_precommit_can_complete_the_decision() -> None:
    me = next(i for i in range(4) if i != proposer_index(1, 0))
    others = [i for i in range(4) if i != me]
    replica = started(me).replica
    block = block_at_1(proposer=proposer_index(1, 0))
    replica.handle(ProposalReceived(proposal(block)))
    # precommits from all three others (one nil): a quorum for anything, not for the block yet
    feed(
        replica,
        VoteReceived(precommit(others[0], 0, None)),
        VoteReceived(precommit(others[1], 0, block.hash)),
        VoteReceived(precommit(others[2], 0, block.hash)),
    )
    assert replica.step != S.COMMIT
    # the polka arrives: we lock and precommit, and our precommit makes the quorum
    out = feed(replica, *(VoteReceived(prevote(i, 0, block.hash)) for i in others[1:]))
    assert [a.block for a in out if isinstance(a, CommitBlock)] == [block]


def test_the_precommit_timeout_is_not_rearmed_when_round_0_starts_late() -> None:
    params = replace(PARAMS, create_empty_blocks=False)
    me = next(i for i in range(4) if i != proposer_index(1, 0))
    others = [i for i in range(4) if i != me]
    s = started(me, params=params)
    assert s.replica.step == S.NEW_ROUND
    out = feed(s.replica, *(VoteReceived(precommit(i, 0, None)) for i in others))
    assert [a for a in out if isinstance(a, ScheduleTimeout) and a.timer == Timer.PRECOMMIT_WAIT]
    out = s.replica.handle(TxsAvailable((b"tx",)))
    assert not [
        a for a in out if isinstance(a, ScheduleTimeout) and a.timer == Timer.PRECOMMIT_WAIT
    ]


def test_only_our_own_precommit_for_a_block_brings_the_lock_back() -> None:
    me = next(i for i in range(4) if i != proposer_index(1, 0))
    other = next(i for i in range(4) if i not in (me, proposer_index(1, 0)))
    block = block_at_1(proposer=proposer_index(1, 0))
    # restarted without its sign state (say, a new disk): only replayed messages tell
    fresh = started(me, sign_state=SignState()).replica
    fresh.handle(ProposalReceived(proposal(block)))
    fresh.handle(VoteReceived(precommit(other, 0, block.hash)))  # somebody else's
    assert fresh.locked == (None, -1)
    fresh.handle(VoteReceived(prevote(me, 0, block.hash)))  # our prevote is no lock
    assert fresh.locked == (None, -1)
    fresh.handle(VoteReceived(precommit(me, 0, None)))  # nor our nil precommit
    assert fresh.locked == (None, -1)

    again = started(me, sign_state=SignState()).replica
    again.handle(ProposalReceived(proposal(block)))
    again.handle(VoteReceived(precommit(me, 0, block.hash)))
    assert again.locked == (block.hash, 0)


def test_a_precommit_signed_at_the_previous_height_is_no_lock_at_the_next() -> None:
    """The sign state brings a lock back only for this height: at height 2 a (Byzantine) vote
    naming block 1's hash, which our persisted precommit of height 1 matches, locks nothing."""
    replica, block, _ = committed()
    assert replica.sign_state.step == SignStep.PRECOMMIT and replica.sign_state.height == 1
    replica.handle_strict(BlockExecuted(H1, block.header.app_hash, VSET))
    assert replica.height == 2 and replica.sign_state.height == 1  # nothing signed at 2 yet
    replica.handle_strict(VoteReceived(prevote(1, 0, block.hash, height=2)))
    assert replica.locked == (None, -1)

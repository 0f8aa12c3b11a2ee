"""Timers the replica arms, rules that must fire once per round, and how it is constructed.

One re-broadcast timer per round (NEW_ROUND already arms it for round 0); the empty-block
interval however short; the precommit timeout once per round even when the lock comes later;
a polka for an invalid block changes nothing; a replica needs the validator sets it will use.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.actions import Action, ScheduleTimeout, SendTo
from consensus.events import (
    ProposalReceived,
    Started,
    TimeoutElapsed,
    TxsAvailable,
    VoteReceived,
)
from consensus.messages import Vote
from consensus.replica import ChainState, Replica
from consensus.round_step import RoundStep, Timer
from consensus.types import Hash32, Height, Round, TimestampMs
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    PARAMS,
    VSET,
    block_at_1,
    genesis,
    key_of,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)
from tests.consensus.test_replica_across_heights import certify

S = RoundStep
H1 = Height(1)


def timers(actions: list[Action], timer: Timer) -> list[ScheduleTimeout]:
    return [a for a in actions if isinstance(a, ScheduleTimeout) and a.timer == timer]


def not_proposer(*rounds: int) -> int:
    return next(i for i in range(4) if all(i != proposer_index(1, r) for r in rounds))


def test_one_rebroadcast_timer_per_round() -> None:
    s = started(not_proposer(0, 1))
    assert len(timers(s.actions, Timer.REBROADCAST)) == 1
    out = s.replica.handle(TimeoutElapsed(H1, Round(0), Timer.PROPOSE))
    assert timers(out, Timer.REBROADCAST) == []  # same round, later step
    others = [i for i in range(4) if i != s.index]
    out = []
    for i in others:
        out += s.replica.handle(VoteReceived(precommit(i, 0, None)))
    out += s.replica.handle(TimeoutElapsed(H1, Round(0), Timer.PRECOMMIT_WAIT))
    assert s.replica.round == 1
    [timer] = timers(out, Timer.REBROADCAST)
    assert timer.round == 1


def test_waiting_for_txs_arms_the_rebroadcast_timer_once() -> None:
    params = replace(PARAMS, create_empty_blocks=False)
    s = started(not_proposer(0), params=params)
    assert s.replica.step == S.NEW_ROUND
    assert len(timers(s.actions, Timer.REBROADCAST)) == 1
    out = s.replica.handle(TxsAvailable((b"tx",)))
    assert s.replica.step == S.PROPOSE
    assert timers(out, Timer.REBROADCAST) == []  # round 0 has its timer already


def test_the_shortest_empty_block_interval_is_scheduled() -> None:
    params = replace(PARAMS, create_empty_blocks=True, empty_block_interval_ms=1)
    s = started(not_proposer(0), params=params)
    assert timers(s.actions, Timer.NEW_ROUND) == [ScheduleTimeout(H1, Round(0), Timer.NEW_ROUND, 1)]


def test_precommit_timeout_is_armed_once_per_round_even_if_the_lock_comes_later() -> None:
    me = not_proposer(0)
    others = [i for i in range(4) if i != me]
    s = started(me)
    block = block_at_1(proposer=proposer_index(1, 0))
    out = s.replica.handle(ProposalReceived(proposal(block)))
    # precommits for anything from a quorum first (nil from two, the block from one) ...
    out += s.replica.handle(VoteReceived(precommit(others[0], 0, None)))
    out += s.replica.handle(VoteReceived(precommit(others[1], 0, None)))
    out += s.replica.handle(VoteReceived(precommit(others[2], 0, block.hash)))
    assert len(timers(out, Timer.PRECOMMIT_WAIT)) == 1
    # ... then the polka: we lock and precommit; the timeout is not armed again
    out = []
    for i in others[:2]:
        out += s.replica.handle(VoteReceived(prevote(i, 0, block.hash)))
    assert s.replica.locked == (block.hash, 0)
    assert timers(out, Timer.PRECOMMIT_WAIT) == []


def test_a_polka_for_an_invalid_block_locks_nothing() -> None:
    me = not_proposer(0)
    others = [i for i in range(4) if i != me]
    s = started(me)
    bad = block_at_1(proposer=proposer_index(1, 0), app_hash=Hash32(b"\x01" * 32))
    s.replica.handle(ProposalReceived(proposal(bad)))
    for i in others:
        s.replica.handle_strict(VoteReceived(prevote(i, 0, bad.hash)))
    assert s.replica.locked == (None, -1)
    assert s.replica.valid == (None, -1)


def test_a_replica_needs_the_validator_sets_it_will_use() -> None:
    with pytest.raises(ValueError) as missing:
        Replica(CHAIN, key_of(0), PARAMS, replace(genesis(), validator_sets={2: VSET}))
    assert str(missing.value) == "validator sets for heights [1, 2] are required"
    block = block_at_1()
    at_1 = ChainState(
        height=H1,
        last_block_hash=block.hash,
        last_commit=certify(block),  # type: ignore[arg-type]
        last_block_time_ms=TimestampMs(2_000),
        app_hash=GENESIS_APP_HASH,
        validator_sets={2: VSET, 3: VSET},
    )
    with pytest.raises(ValueError) as missing:
        Replica(CHAIN, key_of(0), PARAMS, at_1)
    assert str(missing.value) == "validator sets for heights [2, 3, 1] are required"


def test_a_restarted_replica_helps_a_lagging_validator_with_votes_only() -> None:
    block = block_at_1()
    at_1 = ChainState(
        height=H1,
        last_block_hash=block.hash,
        last_commit=certify(block),  # type: ignore[arg-type]
        last_block_time_ms=TimestampMs(2_000),
        app_hash=GENESIS_APP_HASH,
        validator_sets={1: VSET, 2: VSET, 3: VSET},
    )
    replica = Replica(CHAIN, key_of(0), PARAMS, at_1)
    replica.handle_strict(Started(TimestampMs(3_000)))
    out = replica.handle_strict(VoteReceived(prevote(3, 1, None)))
    sent = [a.message for a in out if isinstance(a, SendTo)]
    assert sent and all(isinstance(m, Vote) for m in sent)  # it has no proposal to pass on

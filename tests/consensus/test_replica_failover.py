"""Leader failover: a proposer that missed its turn (our propose timeout fired with no proposal
of its) gets the short propose timeout at its next turns, until a proposal of its arrives. One
validator down then costs one full timeout, not one every few heights."""

from __future__ import annotations

from consensus.actions import Action, ScheduleTimeout
from consensus.events import ProposalReceived, TimeoutElapsed, VoteReceived
from consensus.replica import Replica
from consensus.round_step import Timer
from consensus.types import Height, Round
from tests.consensus.replica_fixtures import (
    PARAMS,
    VSET,
    block_at_1,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

SHORT = PARAMS.timeout_propose_absent_ms
FULL = PARAMS.timeout_propose_ms


def _propose_timeouts(actions: list[Action]) -> list[int]:
    return [
        a.delay_ms for a in actions if isinstance(a, ScheduleTimeout) and a.timer == Timer.PROPOSE
    ]


def _round_of_next_turn(of: int, after: int) -> int:
    return next(r for r in range(after + 1, 64) if proposer_index(1, r) == of)


def _me_and_silent() -> tuple[int, int]:
    silent = proposer_index(1, 0)
    me = next(i for i in range(4) if i != silent and proposer_index(1, 1) != i)
    return me, silent


def _skip_to(replica: Replica, me: int, round_: int) -> list[Action]:
    """f+1 nil prevotes of ``round_`` from others (line 55) take us there."""
    out: list[Action] = []
    for i in [i for i in range(4) if i != me][:2]:
        out += replica.handle(VoteReceived(prevote(i, round_, None)))
    return out


def test_a_proposer_that_missed_its_turn_gets_the_short_timeout_next_time() -> None:
    me, silent = _me_and_silent()
    s = started(me)
    assert _propose_timeouts(s.actions) == [FULL]
    replica = s.replica
    replica.handle(TimeoutElapsed(Height(1), Round(0), Timer.PROPOSE))  # nothing came
    later = _round_of_next_turn(silent, 0)
    out = _skip_to(replica, me, later)
    assert _propose_timeouts(out) == [replica.params.compute_round_timeout_ms(SHORT, Round(later))]


def test_a_proposal_of_its_own_brings_back_the_full_timeout() -> None:
    me, silent = _me_and_silent()
    replica = started(me).replica
    replica.handle(TimeoutElapsed(Height(1), Round(0), Timer.PROPOSE))
    late = block_at_1(proposer=silent)
    replica.handle(ProposalReceived(proposal(late, round_=0)))  # it was slow, not down
    later = _round_of_next_turn(silent, 0)
    out = _skip_to(replica, me, later)
    assert _propose_timeouts(out) == [replica.params.compute_round_timeout_ms(FULL, Round(later))]


def test_a_proposer_that_proposed_keeps_the_full_timeout() -> None:
    me, silent = _me_and_silent()
    replica = started(me).replica
    block = block_at_1(proposer=silent)
    replica.handle(ProposalReceived(proposal(block)))
    later = _round_of_next_turn(silent, 0)
    out = _skip_to(replica, me, later)
    assert _propose_timeouts(out) == [replica.params.compute_round_timeout_ms(FULL, Round(later))]
    assert VSET.validators[silent].public_key not in replica.snapshot().absent_proposers


def test_a_nil_precommit_quorum_starts_the_next_round_without_the_precommit_wait() -> None:
    """With the proposer down every honest validator precommits nil; waiting out the precommit
    timeout then could gather nothing that changes the round, so the next round starts at once."""
    me, _silent = _me_and_silent()
    replica = started(me).replica
    others = [i for i in range(4) if i != me]
    out = replica.handle(TimeoutElapsed(Height(1), Round(0), Timer.PROPOSE))
    for i in others[:2]:
        out += replica.handle(VoteReceived(prevote(i, 0, None)))
    for i in others[:2]:
        out += replica.handle(VoteReceived(precommit(i, 0, None)))
    timers = [a.timer for a in out if isinstance(a, ScheduleTimeout)]
    assert Timer.PRECOMMIT_WAIT not in timers
    assert replica.round == 1
    rounds = [a.round for a in out if isinstance(a, ScheduleTimeout) and a.timer == Timer.PROPOSE]
    assert rounds == [1]

"""Re-sending what we signed: the re-broadcast timer and next-height messages replayed late.

Lost messages are re-sent on the REBROADCAST timer: our own proposal of the round, and our
votes of this round and the previous one (a validator still there needs them to move on),
nothing older and nothing of anybody else's.
"""

from __future__ import annotations

from consensus.actions import Broadcast, ReportEvidence
from consensus.events import BlockExecuted, ProposalReceived, TimeoutElapsed, VoteReceived
from consensus.messages import Vote
from consensus.proposal import Proposal
from consensus.replica import Replica
from consensus.round_step import RoundStep, Timer
from consensus.types import Hash32, Height, Round
from tests.consensus.replica_fixtures import (
    VSET,
    block_at_1,
    broadcasts,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

S = RoundStep
H1 = Height(1)


def rebroadcast(replica: Replica) -> list[object]:
    return broadcasts(replica.handle(TimeoutElapsed(H1, replica.round, Timer.REBROADCAST)))


def test_the_proposer_re_sends_its_proposal() -> None:
    replica = started(proposer_index(1, 0)).replica
    [own] = [m for m in rebroadcast(replica) if isinstance(m, Proposal)]
    assert own.proposer == replica.public_key and own.round == 0


def test_nobody_re_sends_another_validators_proposal() -> None:
    me = next(i for i in range(4) if i != proposer_index(1, 0))
    replica = started(me).replica
    replica.handle(ProposalReceived(proposal(block_at_1(proposer=proposer_index(1, 0)))))
    assert not any(isinstance(m, Proposal) for m in rebroadcast(replica))


def test_votes_of_this_round_and_the_previous_one_are_re_sent() -> None:
    me = next(i for i in range(4) if all(i != proposer_index(1, r) for r in range(3)))
    others = [i for i in range(4) if i != me]
    replica = started(me).replica
    for r in range(2):  # rounds 0 and 1 end in nil: timeouts, nil prevotes and precommits
        replica.handle(TimeoutElapsed(H1, Round(r), Timer.PROPOSE))
        for i in others:
            replica.handle(VoteReceived(prevote(i, r, None)))
        for i in others:
            replica.handle(VoteReceived(precommit(i, r, None)))
        replica.handle(TimeoutElapsed(H1, Round(r), Timer.PRECOMMIT_WAIT))
    replica.handle(TimeoutElapsed(H1, Round(2), Timer.PROPOSE))
    assert replica.round == 2
    sent = [m for m in rebroadcast(replica) if isinstance(m, Vote)]
    assert all(v.validator == replica.public_key for v in sent)
    assert sorted((v.round, int(v.type)) for v in sent) == [(1, 1), (1, 2), (2, 1)]


def test_an_equivocation_buffered_for_the_next_height_is_reported_there() -> None:
    me = next(i for i in range(4) if i != proposer_index(1, 0))
    others = [i for i in range(4) if i != me]
    replica = started(me).replica
    block = block_at_1(proposer=proposer_index(1, 0))
    replica.handle(ProposalReceived(proposal(block)))
    for i in others:
        replica.handle(VoteReceived(prevote(i, 0, block.hash)))
    for i in others:
        replica.handle(VoteReceived(precommit(i, 0, block.hash)))
    assert replica.step == S.COMMIT
    a, b = prevote(others[0], 0, None, height=2), prevote(others[0], 0, b"\x0d" * 32, height=2)
    replica.handle_strict(VoteReceived(a))
    replica.handle_strict(VoteReceived(b))
    out = replica.handle_strict(BlockExecuted(H1, Hash32(b"\x09" * 32), VSET))
    [report] = [x for x in out if isinstance(x, ReportEvidence)]
    assert {report.evidence.vote_a, report.evidence.vote_b} == {a, b}
    assert Broadcast(report.evidence) in out

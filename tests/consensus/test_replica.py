"""Replica handlers in pre -> event -> post form, one test per rule of Algorithm 1.

``me`` is validator 0 (not the proposer of rounds 0-2 at height 1). Rejected inputs are checked
to leave ``snapshot()`` unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.actions import (
    Action,
    Broadcast,
    CommitBlock,
    PersistSignState,
    ReportEvidence,
    ScheduleTimeout,
    SendTo,
)
from consensus.blocks import Block
from consensus.certificate import verify_certificate
from consensus.events import (
    BlockExecuted,
    CommittedBlockReceived,
    Event,
    EvidenceReceived,
    ProposalReceived,
    Started,
    TimeoutElapsed,
    TxsAvailable,
    VoteReceived,
)
from consensus.evidence import verify_evidence
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote, VoteType
from consensus.proposal import Proposal
from consensus.replica import Replica
from consensus.replica.state import FUTURE_MESSAGES_PER_VALIDATOR_MAX
from consensus.round_step import RoundStep, Timer
from consensus.safety import SignState, SignStep
from consensus.types import Hash32, Height, Round, TimestampMs
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    PARAMS,
    VSET,
    assert_persist_before_broadcast,
    bad_signature,
    block_at_1,
    broadcast_votes,
    broadcasts,
    genesis,
    key_of,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

S = RoundStep
ME = 0
H1 = Height(1)


def me() -> Replica:
    return started(ME).replica


def assert_rejected(replica: Replica, event: Event) -> None:
    before = replica.snapshot()
    assert replica.handle(event) == []
    assert replica.snapshot() == before


def timeouts(actions: list[Action]) -> list[ScheduleTimeout]:
    return [a for a in actions if isinstance(a, ScheduleTimeout)]


def feed(replica: Replica, *events: Event) -> list[Action]:
    out: list[Action] = []
    for event in events:
        out.extend(replica.handle(event))
    return out


def in_prevote_step(block_hash: bytes | None = None) -> tuple[Replica, Block]:
    """me has received round 0's proposal and prevoted it."""
    replica = me()
    block = block_at_1(proposer=proposer_index(1, 0))
    replica.handle(ProposalReceived(proposal(block)))
    assert replica.step == S.PREVOTE
    return replica, block


# ---------------------------------------------------------------------------------------------
# start and propose


def test_started_non_proposer_enters_propose_and_schedules_timeout() -> None:
    s = started(ME)
    assert (s.replica.height, s.replica.round, s.replica.step) == (1, 0, S.PROPOSE)
    assert ScheduleTimeout(
        H1, Round(0), Timer.PROPOSE, PARAMS.get_propose_timeout_ms(Round(0))
    ) in (s.actions)
    assert broadcasts(s.actions) == []


def test_started_proposer_persists_then_broadcasts_a_valid_proposal() -> None:
    s = started(proposer_index(1, 0), now_ms=5_000)
    message, _own_prevote = broadcasts(s.actions)  # it takes part in its own round too
    assert isinstance(message, Proposal)
    assert broadcast_votes(s.actions)[0].block_hash == message.block.hash
    assert message.is_signature_valid(CHAIN)
    assert (message.height, message.round, message.pol_round) == (1, 0, -1)
    assert message.block.header.time_ms == 5_000
    assert message.block.header.app_hash == GENESIS_APP_HASH
    assert_persist_before_broadcast(s.actions)
    assert s.replica.sign_state.step == SignStep.PREVOTE  # proposal, then its own prevote


def test_started_twice_is_rejected() -> None:
    assert_rejected(me(), Started(TimestampMs(9)))


def test_events_before_started_are_rejected() -> None:
    replica = Replica(CHAIN, key_of(ME), PARAMS, genesis())
    assert_rejected(replica, VoteReceived(prevote(1, 0, None)))


def test_proposer_includes_available_txs() -> None:
    replica = Replica(CHAIN, key_of(proposer_index(1, 0)), PARAMS, genesis())
    replica.handle(TxsAvailable((b"a", b"b")))
    message = broadcasts(replica.handle(Started(TimestampMs(3_000))))[0]
    assert isinstance(message, Proposal)
    assert message.block.txs == (b"a", b"b")


# ---------------------------------------------------------------------------------------------
# line 22 / 28: prevote


def test_valid_proposal_is_prevoted() -> None:
    replica = me()
    block = block_at_1(proposer=proposer_index(1, 0))
    out = replica.handle(ProposalReceived(proposal(block)))
    [v] = broadcast_votes(out)
    assert (v.type, v.round, v.block_hash) == (VoteType.PREVOTE, 0, block.hash)
    assert replica.step == S.PREVOTE
    assert_persist_before_broadcast(out)
    assert isinstance(out[0], PersistSignState)


def test_invalid_block_is_prevoted_nil() -> None:
    replica = me()
    block = block_at_1(proposer=proposer_index(1, 0), app_hash=Hash32(bytes(32)))
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(block))))
    assert v.block_hash is None
    assert replica.step == S.PREVOTE


def test_block_not_after_parent_time_is_prevoted_nil() -> None:
    replica = me()
    block = block_at_1(proposer=proposer_index(1, 0), time_ms=1_000)
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(block))))
    assert v.block_hash is None


def test_proposal_from_wrong_proposer_is_rejected() -> None:
    block = block_at_1()
    assert_rejected(me(), ProposalReceived(proposal(block, signer=(proposer_index(1, 0) + 1) % 4)))


def test_proposal_with_bad_signature_is_rejected() -> None:
    p = proposal(block_at_1())
    assert_rejected(me(), ProposalReceived(replace(p, signature=bad_signature(p.signature))))


def test_proposal_with_bad_pol_round_is_rejected() -> None:
    assert_rejected(me(), ProposalReceived(proposal(block_at_1(), round_=1, pol_round=1)))


def test_second_proposal_for_a_round_is_rejected() -> None:
    replica = me()
    replica.handle(ProposalReceived(proposal(block_at_1(txs=(b"x",)))))
    assert_rejected(replica, ProposalReceived(proposal(block_at_1(txs=(b"y",)))))


def test_proposal_for_another_height_is_rejected() -> None:
    assert_rejected(me(), ProposalReceived(proposal(replace_height(block_at_1(), 5))))


def replace_height(block: Block, height: int) -> Block:
    from consensus.blocks import Block

    assert isinstance(block, Block)
    return Block(replace(block.header, height=Height(height)), block.txs, block.evidence)


def test_timeout_propose_prevotes_nil() -> None:
    replica = me()
    out = replica.handle(TimeoutElapsed(H1, Round(0), Timer.PROPOSE))
    [v] = broadcast_votes(out)
    assert (v.type, v.block_hash) == (VoteType.PREVOTE, None)
    assert replica.step == S.PREVOTE


@pytest.mark.parametrize(
    "event",
    [
        TimeoutElapsed(H1, Round(1), Timer.PROPOSE),
        TimeoutElapsed(Height(2), Round(0), Timer.PROPOSE),
        TimeoutElapsed(H1, Round(0), Timer.PREVOTE_WAIT),
        TimeoutElapsed(H1, Round(0), Timer.NEW_HEIGHT),
        TimeoutElapsed(H1, Round(0), Timer.NEW_ROUND),
    ],
)
def test_stale_timeouts_are_rejected(event: TimeoutElapsed) -> None:
    assert_rejected(me(), event)


# ---------------------------------------------------------------------------------------------
# votes: validation, equivocation


def test_vote_with_bad_signature_is_rejected() -> None:
    v = prevote(1, 0, None)
    assert_rejected(me(), VoteReceived(replace(v, signature=bad_signature(v.signature))))


def test_vote_with_mismatched_index_is_rejected() -> None:
    assert_rejected(me(), VoteReceived(replace(prevote(1, 0, None), validator_index=2)))


def test_vote_from_unknown_validator_is_rejected() -> None:
    from consensus.crypto import PrivateKey

    stranger = PrivateKey(b"\x77" * 32).public_key
    assert_rejected(me(), VoteReceived(replace(prevote(1, 0, None), validator=stranger)))


def test_vote_for_a_far_height_is_rejected() -> None:
    assert_rejected(me(), VoteReceived(prevote(1, 0, None, height=3)))


def test_duplicate_vote_is_rejected() -> None:
    replica = me()
    replica.handle(VoteReceived(prevote(1, 0, None)))
    assert_rejected(replica, VoteReceived(prevote(1, 0, None)))


def test_conflicting_votes_become_evidence() -> None:
    replica = me()
    replica.handle(VoteReceived(prevote(1, 0, None)))
    out = replica.handle(VoteReceived(prevote(1, 0, b"\x01" * 32)))
    [report] = [a for a in out if isinstance(a, ReportEvidence)]
    verify_evidence(report.evidence, VSET, CHAIN)
    assert Broadcast(report.evidence) in out
    assert_rejected(replica, VoteReceived(prevote(1, 0, b"\x01" * 32)))  # known already


def test_received_evidence_is_verified_and_reported() -> None:
    evidence = DuplicateVoteEvidence.of(precommit(2, 0, None), precommit(2, 0, b"\x02" * 32))
    replica = me()
    out = replica.handle(EvidenceReceived(evidence))
    assert out == [ReportEvidence(evidence)]
    assert_rejected(replica, EvidenceReceived(evidence))


def test_forged_evidence_is_rejected() -> None:
    a, b = precommit(2, 0, None), precommit(2, 0, b"\x02" * 32)
    forged = DuplicateVoteEvidence.of(a, replace(b, signature=bad_signature(b.signature)))
    assert_rejected(me(), EvidenceReceived(forged))
    same = DuplicateVoteEvidence(a, a)
    assert_rejected(me(), EvidenceReceived(same))


def test_a_validator_cannot_open_many_future_rounds() -> None:
    replica = me()
    for r in (5, 6):
        replica.handle(VoteReceived(prevote(1, r, None)))
    assert_rejected(replica, VoteReceived(prevote(1, 7, None)))


# ---------------------------------------------------------------------------------------------
# line 34 / 36 / 44 / 61: prevote quorum, lock, precommit


def test_prevote_quorum_for_anything_starts_prevote_wait() -> None:
    replica, _block = in_prevote_step()
    out = feed(
        replica, VoteReceived(prevote(1, 0, None)), VoteReceived(prevote(2, 0, b"\x03" * 32))
    )
    assert replica.step == S.PREVOTE_WAIT
    assert ScheduleTimeout(
        H1, Round(0), Timer.PREVOTE_WAIT, PARAMS.get_prevote_timeout_ms(Round(0))
    ) in (out)
    assert broadcast_votes(out) == []


def test_timeout_prevote_precommits_nil() -> None:
    replica, _ = in_prevote_step()
    feed(replica, VoteReceived(prevote(1, 0, None)), VoteReceived(prevote(2, 0, b"\x03" * 32)))
    [v] = broadcast_votes(replica.handle(TimeoutElapsed(H1, Round(0), Timer.PREVOTE_WAIT)))
    assert (v.type, v.block_hash) == (VoteType.PRECOMMIT, None)
    assert replica.step == S.PRECOMMIT


def test_prevote_quorum_for_the_proposal_locks_and_precommits() -> None:
    replica, block = in_prevote_step()
    out = feed(
        replica, VoteReceived(prevote(1, 0, block.hash)), VoteReceived(prevote(2, 0, block.hash))
    )
    [v] = broadcast_votes(out)
    assert (v.type, v.block_hash) == (VoteType.PRECOMMIT, block.hash)
    assert replica.locked == (block.hash, 0)
    assert replica.valid == (block.hash, 0)
    assert replica.step == S.PRECOMMIT


def test_prevote_quorum_for_nil_precommits_nil() -> None:
    replica, _ = in_prevote_step()
    out = feed(
        replica,
        VoteReceived(prevote(1, 0, None)),
        VoteReceived(prevote(2, 0, None)),
        VoteReceived(prevote(3, 0, None)),
    )
    precommits = [v for v in broadcast_votes(out) if v.type == VoteType.PRECOMMIT]
    assert [v.block_hash for v in precommits] == [None]
    assert replica.locked == (None, -1)


def test_polka_seen_after_precommit_nil_sets_valid_value_but_no_lock() -> None:
    replica = me()
    p = proposal(block_at_1(proposer=proposer_index(1, 0)))
    replica.handle(TimeoutElapsed(H1, Round(0), Timer.PROPOSE))  # prevote nil, no proposal yet
    feed(replica, *(VoteReceived(prevote(i, 0, p.block.hash)) for i in (1, 2)))
    replica.handle(TimeoutElapsed(H1, Round(0), Timer.PREVOTE_WAIT))  # precommit nil
    assert replica.step == S.PRECOMMIT
    out = feed(replica, ProposalReceived(p), VoteReceived(prevote(3, 0, p.block.hash)))
    assert replica.valid == (p.block.hash, 0)
    assert replica.locked == (None, -1)
    assert broadcast_votes(out) == []


# ---------------------------------------------------------------------------------------------
# line 47 / 65: precommit wait and next round; line 55: round skip


def test_precommit_quorum_for_anything_starts_precommit_wait() -> None:
    replica = me()
    out = feed(replica, *(VoteReceived(precommit(i, 0, None)) for i in (1, 2, 3)))
    assert ScheduleTimeout(
        H1, Round(0), Timer.PRECOMMIT_WAIT, PARAMS.get_precommit_timeout_ms(Round(0))
    ) in (out)
    out = replica.handle(TimeoutElapsed(H1, Round(0), Timer.PRECOMMIT_WAIT))
    assert (replica.round, replica.step) == (1, S.PROPOSE)
    assert (
        ScheduleTimeout(H1, Round(1), Timer.PROPOSE, PARAMS.get_propose_timeout_ms(Round(1))) in out
    )


def test_round_timeouts_grow_and_are_capped() -> None:
    assert PARAMS.get_propose_timeout_ms(Round(0)) == 3_000
    assert PARAMS.get_propose_timeout_ms(Round(2)) == 4_000
    assert PARAMS.get_propose_timeout_ms(Round(1_000)) == PARAMS.timeout_max_ms


def test_f_plus_one_votes_of_a_higher_round_skip_to_it() -> None:
    replica = me()
    replica.handle(VoteReceived(prevote(1, 3, None)))
    assert replica.round == 0  # 10 of 40: could be one Byzantine validator
    out = replica.handle(VoteReceived(precommit(2, 3, None)))
    assert replica.round == 3
    # me is round 3's proposer: it proposes at once and prevotes its own proposal
    assert proposer_index(1, 3) == ME
    assert any(isinstance(m, Proposal) for m in broadcasts(out))
    assert replica.step == S.PREVOTE


def test_f_plus_one_in_a_round_where_me_is_not_proposer() -> None:
    replica = me()
    feed(replica, VoteReceived(prevote(1, 2, None)), VoteReceived(prevote(3, 2, None)))
    assert (replica.round, replica.step) == (2, S.PROPOSE)


# ---------------------------------------------------------------------------------------------
# line 49: decide; BlockExecuted; block sync


def committed() -> tuple[Replica, Block, list[Action]]:
    replica, block = in_prevote_step()
    out = feed(
        replica,
        *(VoteReceived(prevote(i, 0, block.hash)) for i in (1, 2)),
        *(VoteReceived(precommit(i, 0, block.hash)) for i in (1, 2)),
    )
    return replica, block, out


def test_precommit_quorum_with_the_proposal_commits() -> None:
    replica, block, out = committed()
    [commit] = [a for a in out if isinstance(a, CommitBlock)]
    assert commit.block == block
    verify_certificate(commit.certificate, block.hash, 1, VSET, CHAIN)
    assert replica.step == S.COMMIT
    assert_rejected(replica, TimeoutElapsed(H1, Round(0), Timer.PRECOMMIT_WAIT))
    assert_rejected(replica, ProposalReceived(proposal(block_at_1(txs=(b"late",)), round_=1)))


def test_precommits_of_an_earlier_round_commit_even_in_a_later_round() -> None:
    replica = me()
    p = proposal(block_at_1(proposer=proposer_index(1, 0)))
    feed(replica, *(VoteReceived(precommit(i, 0, None)) for i in (1, 2, 3)))
    replica.handle(TimeoutElapsed(H1, Round(0), Timer.PRECOMMIT_WAIT))
    assert replica.round == 1
    replica2 = me()
    out = feed(
        replica2,
        ProposalReceived(p),
        *(VoteReceived(precommit(i, 0, p.block.hash)) for i in (1, 2, 3)),
    )
    assert any(isinstance(a, CommitBlock) for a in out)


def test_block_executed_enters_the_next_height() -> None:
    replica, _block, _ = committed()
    out = replica.handle(BlockExecuted(H1, Hash32(b"\x09" * 32), VSET))
    assert (replica.height, replica.round, replica.step) == (2, 0, S.NEW_HEIGHT)
    assert out == [ScheduleTimeout(Height(2), Round(0), Timer.NEW_HEIGHT, PARAMS.timeout_commit_ms)]
    assert replica.get_validator_set(3) == VSET
    out = replica.handle(TimeoutElapsed(Height(2), Round(0), Timer.NEW_HEIGHT))
    assert replica.step == S.PROPOSE


def test_block_executed_with_waiting_txs_skips_timeout_commit() -> None:
    replica, _block, _ = committed()
    replica.handle(TxsAvailable((b"tx",)))
    replica.handle(BlockExecuted(H1, Hash32(b"\x09" * 32), VSET))
    assert (replica.height, replica.step) == (2, S.PROPOSE)


def test_block_executed_for_the_wrong_height_is_rejected() -> None:
    replica, _, _ = committed()
    assert_rejected(replica, BlockExecuted(Height(2), Hash32(b"\x09" * 32), VSET))
    assert_rejected(me(), BlockExecuted(H1, Hash32(b"\x09" * 32), VSET))


def test_next_block_carries_the_certificate_and_app_hash() -> None:
    proposer2 = proposer_index(2, 0)
    s = started(proposer2)
    block = block_at_1(proposer=proposer_index(1, 0))
    r = s.replica
    feed(r, ProposalReceived(proposal(block)))
    others = [i for i in range(4) if i != proposer2][:2]
    out = feed(
        r,
        *(VoteReceived(prevote(i, 0, block.hash)) for i in others),
        *(VoteReceived(precommit(i, 0, block.hash)) for i in others),
    )
    [commit] = [a for a in out if isinstance(a, CommitBlock)]
    app_hash = Hash32(b"\x09" * 32)
    r.handle(BlockExecuted(H1, app_hash, VSET))
    out = r.handle(TimeoutElapsed(Height(2), Round(0), Timer.NEW_HEIGHT))
    [p] = [m for m in broadcasts(out) if isinstance(m, Proposal)]
    assert p.block.header.parent_hash == block.hash
    assert p.block.header.app_hash == app_hash
    assert p.block.header.last_commit == commit.certificate


def test_committed_block_from_sync_is_committed_without_voting() -> None:
    _, block, out = committed()
    [commit] = [a for a in out if isinstance(a, CommitBlock)]
    replica = me()
    out = replica.handle(CommittedBlockReceived(block, commit.certificate))  # type: ignore[arg-type]
    assert out == [CommitBlock(block, commit.certificate)]  # type: ignore[arg-type]
    assert replica.step == S.COMMIT


def test_committed_block_with_a_weak_certificate_is_rejected() -> None:
    _, block, out = committed()
    [commit] = [a for a in out if isinstance(a, CommitBlock)]
    weak = CommitCertificate(
        commit.certificate.height,
        commit.certificate.round,
        commit.certificate.block_hash,
        commit.certificate.signatures[:2],
    )
    assert_rejected(me(), CommittedBlockReceived(block, weak))  # type: ignore[arg-type]


def test_next_height_messages_are_buffered_and_replayed() -> None:
    replica, _block, _ = committed()
    early = prevote(1, 0, None, height=2)
    assert replica.handle(VoteReceived(early)) == []
    assert replica.snapshot().next_height_messages == (early,)
    replica.handle(BlockExecuted(H1, Hash32(b"\x09" * 32), VSET))
    assert_rejected(replica, VoteReceived(early))  # replayed into the height's votes


def test_one_validator_cannot_fill_the_next_height_buffer() -> None:
    replica, _block, _ = committed()
    flood = [prevote(1, r, None, height=2) for r in range(FUTURE_MESSAGES_PER_VALIDATOR_MAX)]
    feed(replica, *(VoteReceived(v) for v in flood))
    assert replica.snapshot().next_height_messages == tuple(flood)
    assert_rejected(replica, VoteReceived(prevote(1, 99, None, height=2)))
    other = prevote(2, 0, None, height=2)
    assert replica.handle(VoteReceived(other)) == []
    assert replica.snapshot().next_height_messages == (*flood, other)


def test_lagging_validator_gets_the_decision_sent_to_it() -> None:
    replica, _block, _ = committed()
    replica.handle(BlockExecuted(H1, Hash32(b"\x09" * 32), VSET))
    before = replica.snapshot()
    out = replica.handle(VoteReceived(prevote(3, 1, None)))  # validator 3 is still at height 1
    assert replica.snapshot() == before
    sent = [a for a in out if isinstance(a, SendTo)]
    assert {a.public_key for a in sent} == {VSET.validators[3].public_key}
    assert any(isinstance(a.message, Proposal) for a in sent)
    assert sum(1 for a in sent if not isinstance(a.message, Proposal)) == 3


# ---------------------------------------------------------------------------------------------
# locking across rounds (line 22 with a lock, line 28 unlocking), valid value re-proposal


def locked_in_round_0() -> tuple[Replica, Block]:
    replica, block = in_prevote_step()
    feed(replica, *(VoteReceived(prevote(i, 0, block.hash)) for i in (1, 2)))
    assert replica.locked == (block.hash, 0)
    feed(replica, *(VoteReceived(precommit(i, 0, None)) for i in (1, 2)))
    replica.handle(TimeoutElapsed(H1, Round(0), Timer.PRECOMMIT_WAIT))
    assert replica.round == 1
    return replica, block


def test_locked_replica_prevotes_nil_for_another_fresh_proposal() -> None:
    replica, _block = locked_in_round_0()
    other = block_at_1(txs=(b"other",), proposer=proposer_index(1, 1))
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(other, round_=1))))
    assert v.block_hash is None


def test_locked_replica_prevotes_its_locked_block_again() -> None:
    replica, block = locked_in_round_0()
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(block, round_=1, pol_round=0))))
    assert v.block_hash == block.hash  # type: ignore[attr-defined]


def test_newer_polka_unlocks_line_28() -> None:
    replica, _block = locked_in_round_0()
    other = block_at_1(txs=(b"other",), proposer=proposer_index(1, 1))
    replica.handle(TimeoutElapsed(H1, Round(1), Timer.PROPOSE))
    feed(replica, *(VoteReceived(prevote(i, 1, other.hash)) for i in (1, 2, 3)))
    assert replica.round == 1
    feed(replica, *(VoteReceived(precommit(i, 1, None)) for i in (1, 2, 3)))
    replica.handle(TimeoutElapsed(H1, Round(1), Timer.PRECOMMIT_WAIT))
    assert replica.round == 2
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(other, round_=2, pol_round=1))))
    assert v.block_hash == other.hash


def test_proposal_with_pol_round_waits_for_the_polka() -> None:
    replica, _block = locked_in_round_0()
    other = block_at_1(txs=(b"other",), proposer=proposer_index(1, 1))
    out = replica.handle(ProposalReceived(proposal(other, round_=1, pol_round=0)))
    assert broadcast_votes(out) == [] and replica.step == S.PROPOSE


def test_proposer_reproposal_is_the_valid_block() -> None:
    replica, block = locked_in_round_0()
    out: list[Action] = []
    for r in (1, 2):
        replica.handle(TimeoutElapsed(H1, Round(r), Timer.PROPOSE))
        feed(replica, *(VoteReceived(precommit(i, r, None)) for i in (1, 2, 3)))
        out = list(replica.handle(TimeoutElapsed(H1, Round(r), Timer.PRECOMMIT_WAIT)))
    [p] = [m for m in broadcasts(out) if isinstance(m, Proposal)]
    assert p.block == block and p.pol_round == 0 and p.round == 3


# ---------------------------------------------------------------------------------------------
# empty blocks, observers, restart, rebroadcast


def test_without_empty_blocks_round_0_waits_for_txs() -> None:
    params = replace(PARAMS, create_empty_blocks=False, empty_block_interval_ms=30_000)
    s = started(proposer_index(1, 0), params=params)
    assert s.replica.step == S.NEW_ROUND and broadcasts(s.actions) == []
    assert ScheduleTimeout(H1, Round(0), Timer.NEW_ROUND, 30_000) in s.actions
    out = s.replica.handle(TxsAvailable((b"tx",)))
    p = broadcasts(out)[0]
    assert isinstance(p, Proposal) and p.block.txs == (b"tx",)


def test_empty_block_interval_elapsed_proposes_an_empty_block() -> None:
    params = replace(PARAMS, create_empty_blocks=False, empty_block_interval_ms=30_000)
    s = started(proposer_index(1, 0), params=params)
    out = s.replica.handle(TimeoutElapsed(H1, Round(0), Timer.NEW_ROUND))
    p = broadcasts(out)[0]
    assert isinstance(p, Proposal) and p.block.txs == ()


def test_waiting_non_proposer_joins_when_the_proposal_arrives() -> None:
    params = replace(PARAMS, create_empty_blocks=False)
    s = started(ME, params=params)
    assert s.replica.step == S.NEW_ROUND
    out = s.replica.handle(ProposalReceived(proposal(block_at_1(txs=(b"t",)))))
    assert [v.block_hash for v in broadcast_votes(out)] == [block_at_1(txs=(b"t",)).hash]


def test_observer_never_signs_but_commits() -> None:
    observer = Replica(CHAIN, None, PARAMS, genesis())
    observer.handle(Started(TimestampMs(1_500)))
    block = block_at_1(proposer=proposer_index(1, 0))
    out = feed(
        observer,
        ProposalReceived(proposal(block)),
        *(VoteReceived(prevote(i, 0, block.hash)) for i in (1, 2, 3)),
        *(VoteReceived(precommit(i, 0, block.hash)) for i in (1, 2, 3)),
    )
    assert broadcast_votes(out) == []
    assert not any(isinstance(a, PersistSignState) for a in out)
    assert any(isinstance(a, CommitBlock) for a in out)


def test_restarted_replica_does_not_sign_a_conflicting_prevote() -> None:
    replica, block = in_prevote_step()
    state = replica.sign_state
    restarted = started(ME, sign_state=state).replica
    # it resumes at the round it signed in; a nil prevote there would conflict: refused
    out = restarted.handle(TimeoutElapsed(H1, Round(0), Timer.PROPOSE))
    assert broadcast_votes(out) == []
    assert restarted.sign_state == state
    # the identical prevote may be signed again
    restarted2 = started(ME, sign_state=state).replica
    [v] = broadcast_votes(restarted2.handle(ProposalReceived(proposal(block))))
    assert v.block_hash == block.hash


def test_restarted_replica_signs_nothing_below_its_last_signature() -> None:
    state = SignState(H1, Round(2), SignStep.PREVOTE, Hash32(b"\x00" * 32))
    s = started(ME, sign_state=state)
    assert (s.replica.round, s.replica.step) == (0, S.PROPOSE)
    out = s.replica.handle(TimeoutElapsed(H1, Round(0), Timer.PROPOSE))
    assert broadcast_votes(out) == [] and s.replica.step == S.PREVOTE
    feed(s.replica, VoteReceived(prevote(1, 2, None)), VoteReceived(prevote(2, 2, None)))
    assert s.replica.round == 2  # caught up by f+1 votes of round 2


def own_vote(replica: Replica, round_: int, vote_type: VoteType) -> Vote | None:
    """Our own counted vote of (round, type), read from the replica's snapshot."""
    for r, t, votes in replica.snapshot().votes:
        if (r, t) == (round_, vote_type):
            return next((v for v in votes if v.validator_index == ME), None)
    return None


def test_replaying_the_log_rebuilds_the_lock() -> None:
    """What node/driver does after a crash: Started, then the height's logged inputs, with our
    own messages logged as ProposalReceived/VoteReceived. The lock of round 0 must survive."""
    replica, block = in_prevote_step()
    log: list[Event] = [ProposalReceived(proposal(block))]
    own_prevote = own_vote(replica, 0, VoteType.PREVOTE)
    assert own_prevote is not None
    log.append(VoteReceived(own_prevote))
    for event in (
        VoteReceived(prevote(1, 0, block.hash)),
        VoteReceived(prevote(2, 0, block.hash)),
    ):
        log.append(event)
        log += [VoteReceived(v) for v in broadcast_votes(replica.handle(event))]
    for event in [VoteReceived(precommit(i, 0, None)) for i in (1, 2)] + [
        TimeoutElapsed(H1, Round(0), Timer.PRECOMMIT_WAIT)
    ]:
        log.append(event)
        log += [VoteReceived(v) for v in broadcast_votes(replica.handle(event))]
    assert replica.locked == (block.hash, 0) and replica.round == 1
    restarted = started(ME, sign_state=replica.sign_state).replica
    for event in log:
        restarted.handle(event)
    assert restarted.locked == replica.locked
    assert restarted.valid == replica.valid
    assert (restarted.round, restarted.step) == (replica.round, replica.step)
    other = block_at_1(txs=(b"other",), proposer=proposer_index(1, 1))
    [v] = broadcast_votes(restarted.handle(ProposalReceived(proposal(other, round_=1))))
    assert v.block_hash is None  # still locked on the round-0 block


def test_own_precommit_coming_back_after_a_restart_restores_the_lock() -> None:
    """The simulator (and gossip) may give back only our own signed messages, not the polka
    that made us lock: our precommit for a block is enough to be locked on it again."""
    replica, block = in_prevote_step()
    feed(replica, VoteReceived(prevote(1, 0, block.hash)), VoteReceived(prevote(2, 0, block.hash)))
    own_precommit = own_vote(replica, 0, VoteType.PRECOMMIT)
    assert own_precommit is not None and own_precommit.block_hash == block.hash
    restarted = started(ME, sign_state=replica.sign_state).replica
    assert restarted.locked == (None, -1)
    restarted.handle(VoteReceived(own_precommit))
    assert restarted.locked == (block.hash, 0)
    feed(restarted, VoteReceived(prevote(1, 1, None)), VoteReceived(prevote(2, 1, None)))
    assert restarted.round == 1
    other = block_at_1(txs=(b"other",), proposer=proposer_index(1, 1))
    v = broadcast_votes(restarted.handle(ProposalReceived(proposal(other, round_=1))))[0]
    assert (v.type, v.block_hash) == (VoteType.PREVOTE, None)


def test_lock_is_recovered_from_the_sign_state_alone() -> None:
    """Crash after the precommit was signed (and sent) but before it reached the log: the
    persisted sign-bytes hash still identifies the block we were locked on."""
    replica, block = in_prevote_step()
    feed(replica, VoteReceived(prevote(1, 0, block.hash)), VoteReceived(prevote(2, 0, block.hash)))
    assert replica.sign_state.step == SignStep.PRECOMMIT
    restarted = started(ME, sign_state=replica.sign_state).replica
    restarted.handle(VoteReceived(prevote(3, 0, b"\x0e" * 32)))  # some other block: no lock
    assert restarted.locked == (None, -1)
    restarted.handle(VoteReceived(prevote(1, 0, block.hash)))
    assert restarted.locked == (block.hash, 0)


def test_rebroadcast_timer_resends_own_votes() -> None:
    replica, block = in_prevote_step()
    out = replica.handle(TimeoutElapsed(H1, Round(0), Timer.REBROADCAST))
    [v] = broadcast_votes(out)
    assert v.block_hash == block.hash
    assert (
        ScheduleTimeout(H1, Round(0), Timer.REBROADCAST, PARAMS.get_propose_timeout_ms(Round(0)))
        in out
    )
    assert not any(isinstance(a, PersistSignState) for a in out)

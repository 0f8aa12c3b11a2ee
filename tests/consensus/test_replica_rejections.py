"""Every input the replica refuses: the reason ``handle_strict`` gives, and nothing changed.

``handle`` answers a refused input with [] and ``handle_strict`` raises RejectedInput with the
reason (the node logs it and counts it by reason). Some refusals are otherwise invisible (a
duplicate evidence would change nothing anyway), so the reason is what tells them apart.
Complements test_replica.py (one test per rule of Algorithm 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from consensus.actions import ReportEvidence
from consensus.blocks import GENESIS_PARENT_HASH, make_block
from consensus.certificate import make_certificate
from consensus.crypto import PrivateKey, SignPurpose
from consensus.events import (
    BlockExecuted,
    CommittedBlockReceived,
    EvidenceReceived,
    ProposalReceived,
    Started,
    TimeoutElapsed,
    TxsAvailable,
    VoteReceived,
)
from consensus.messages import DuplicateVoteEvidence, Vote, VoteType, compute_vote_sign_payload
from consensus.params import BLOCK_TXS_HARD_MAX
from consensus.replica import (
    FUTURE_HEIGHT_MESSAGES_MAX,
    FUTURE_ROUNDS_PER_VALIDATOR_MAX,
    PENDING_EVIDENCE_MAX,
    PROPOSAL_ROUNDS_AHEAD_MAX,
    RejectedInput,
    Replica,
)
from consensus.round_step import RoundStep, Timer
from consensus.types import Hash32, Height, Round, TimestampMs, ValidatorIndex
from consensus.validators import ValidatorSet
from consensus.vote_set import VoteSet
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    PARAMS,
    VSET,
    bad_signature,
    block_at_1,
    genesis,
    key_of,
    non_proposer_index,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

S = RoundStep
H1 = Height(1)
HASH = Hash32(b"\x05" * 32)


def me() -> Replica:
    return started(0).replica


def refuse(replica: Replica, event: object) -> str:
    """The reason ``event`` is refused; the replica must be unchanged."""
    before = replica.snapshot()
    with pytest.raises(RejectedInput) as refused:
        replica.handle_strict(event)  # type: ignore[arg-type]
    assert replica.snapshot() == before
    assert replica.handle(event) == []  # type: ignore[arg-type]
    return str(refused.value)


def proposed() -> Replica:
    """me at height 1 holding round 0's proposal (prevoted)."""
    replica = me()
    replica.handle(ProposalReceived(proposal(block_at_1(proposer=proposer_index(1, 0)))))
    return replica


def decided() -> Replica:
    """me at height 1 in step COMMIT (the block is decided, not yet executed)."""
    replica = proposed()
    block = block_at_1(proposer=proposer_index(1, 0))
    for i in (1, 2):
        replica.handle(VoteReceived(prevote(i, 0, block.hash)))
    for i in (1, 2):
        replica.handle(VoteReceived(precommit(i, 0, block.hash)))
    assert replica.step == S.COMMIT
    return replica


def at_height_2() -> Replica:
    replica = decided()
    replica.handle(BlockExecuted(H1, HASH, VSET))
    assert replica.height == 2
    return replica


def evidence_at_1(round_: int, validator: int = 2) -> DuplicateVoteEvidence:
    return DuplicateVoteEvidence.of(
        precommit(validator, round_, None), precommit(validator, round_, HASH)
    )


def certified(block_hash: bytes, signers: tuple[int, ...] = (1, 2, 3)) -> object:
    votes = VoteSet(H1, Round(0), VoteType.PRECOMMIT, VSET)
    for i in signers:
        votes.add_vote(precommit(i, 0, block_hash))
    return make_certificate(votes, Hash32(block_hash))


CASES: list[tuple[str, Callable[[], tuple[Replica, object]], str]] = [
    ("started twice", lambda: (me(), Started(TimestampMs(5))), "already started"),
    (
        "input before start",
        lambda: (
            Replica(CHAIN, key_of(0), PARAMS, genesis()),
            VoteReceived(prevote(1, 0, None)),
        ),
        "not started",
    ),
    ("unknown event", lambda: (me(), object()), "unknown event object"),
    ("txs that are not bytes", lambda: (me(), TxsAvailable(("tx",))), "bad txs list"),  # type: ignore[arg-type]
    (
        "too many txs",
        lambda: (me(), TxsAvailable((b"",) * (BLOCK_TXS_HARD_MAX * 4 + 1))),
        "bad txs list",
    ),
    (
        "proposal two heights ahead",
        lambda: (me(), ProposalReceived(replace(proposal(block_at_1()), height=Height(3)))),
        "proposal not for our height",
    ),
    (
        "proposal after the decision",
        lambda: (decided(), ProposalReceived(proposal(block_at_1(), round_=1))),
        "proposal not for our height",
    ),
    (
        "proposal too far ahead",
        lambda: (
            me(),
            ProposalReceived(proposal(block_at_1(), round_=PROPOSAL_ROUNDS_AHEAD_MAX + 1)),
        ),
        "proposal too far ahead",
    ),
    (
        "second proposal of a round",
        lambda: (proposed(), ProposalReceived(proposal(block_at_1(txs=(b"x",))))),
        "already have a proposal for this round",
    ),
    (
        "pol_round not below the round",
        lambda: (me(), ProposalReceived(proposal(block_at_1(), round_=1, pol_round=1))),
        "pol_round out of range",
    ),
    (
        "pol_round below -1",
        lambda: (me(), ProposalReceived(proposal(block_at_1(), round_=1, pol_round=-2))),
        "pol_round out of range",
    ),
    (
        "proposal from another validator",
        lambda: (me(), ProposalReceived(proposal(block_at_1(), signer=non_proposer_index(1, 0)))),
        "not the proposer of this round",
    ),
    (
        "proposal with a bad signature",
        lambda: (
            me(),
            ProposalReceived(
                replace(
                    proposal(block_at_1()),
                    signature=bad_signature(proposal(block_at_1()).signature),
                )
            ),
        ),
        "bad proposal signature",
    ),
    (
        "next height's proposal with a bad signature",
        lambda: (
            decided(),
            # signed by height 2's proposer, but for height 1
            ProposalReceived(
                replace(proposal(block_at_1(), signer=proposer_index(2, 0)), height=Height(2))
            ),
        ),
        "bad proposal signature",
    ),
    (
        "vote two heights ahead",
        lambda: (me(), VoteReceived(prevote(1, 0, None, height=3))),
        "vote not for our height",
    ),
    (
        "vote with a bad signature",
        lambda: (
            me(),
            VoteReceived(
                replace(prevote(1, 0, None), signature=bad_signature(prevote(1, 0, None).signature))
            ),
        ),
        "bad vote signature",
    ),
    (
        "vote under another validator's index",
        lambda: (me(), VoteReceived(replace(prevote(1, 0, None), validator_index=2))),
        "validator index does not match a validator of this height",
    ),
    (
        "next height's vote with a bad signature",
        lambda: (
            decided(),
            VoteReceived(
                replace(
                    prevote(1, 0, None, height=2),
                    signature=bad_signature(prevote(1, 0, None).signature),
                )
            ),
        ),
        "bad vote signature",
    ),
    (
        "previous height's precommit for the decided block",
        lambda: (
            at_height_2(),
            VoteReceived(precommit(3, 0, block_at_1(proposer=proposer_index(1, 0)).hash)),
        ),
        "vote for the previous height",
    ),
    (
        "previous height's vote with a bad signature",
        lambda: (
            at_height_2(),
            VoteReceived(
                replace(prevote(3, 1, None), signature=bad_signature(prevote(3, 1, None).signature))
            ),
        ),
        "bad vote signature",
    ),
    (
        "stale timeout of another round",
        lambda: (me(), TimeoutElapsed(H1, Round(1), Timer.PROPOSE)),
        "stale timeout",
    ),
    (
        "timeout of a step not reached",
        lambda: (me(), TimeoutElapsed(H1, Round(0), Timer.PREVOTE_WAIT)),
        "stale timeout",
    ),
    (
        "timeout after the decision",
        lambda: (decided(), TimeoutElapsed(H1, Round(0), Timer.PRECOMMIT_WAIT)),
        "stale timeout",
    ),
    (
        "block executed before a decision",
        lambda: (me(), BlockExecuted(H1, HASH, VSET)),
        "no decided block at this height",
    ),
    (
        "block executed for another height",
        lambda: (decided(), BlockExecuted(Height(2), HASH, VSET)),
        "no decided block at this height",
    ),
    (
        "committed block after our own decision",
        lambda: (
            decided(),
            CommittedBlockReceived(block_at_1(), certified(block_at_1().hash)),  # type: ignore[arg-type]
        ),
        "committed block is not the next one",
    ),
    (
        "committed block of an old height",
        lambda: (
            at_height_2(),
            CommittedBlockReceived(block_at_1(), certified(block_at_1().hash)),  # type: ignore[arg-type]
        ),
        "committed block is not the next one",
    ),
    (
        "committed block with too few signers",
        lambda: (
            me(),
            CommittedBlockReceived(block_at_1(), _weak()),  # type: ignore[arg-type]
        ),
        "certificate: signers hold 20 of 40",
    ),
    (
        "committed block that is not valid",
        lambda: (
            me(),
            CommittedBlockReceived(
                block_at_1(app_hash=HASH),
                certified(block_at_1(app_hash=HASH).hash),  # type: ignore[arg-type]
            ),
        ),
        "invalid block: wrong app_hash",
    ),
    (
        "evidence from a future height",
        lambda: (
            me(),
            EvidenceReceived(
                DuplicateVoteEvidence.of(
                    precommit(2, 0, None, height=2), precommit(2, 0, HASH, height=2)
                )
            ),
        ),
        "evidence too old or from the future",
    ),
]


def _weak() -> object:
    full = certified(block_at_1().hash)
    return replace(full, signatures=full.signatures[:2])  # type: ignore[type-var]


@pytest.mark.parametrize("build,reason", [(b, r) for _, b, r in CASES], ids=[c[0] for c in CASES])
def test_refused_input_says_why_and_changes_nothing(
    build: Callable[[], tuple[Replica, object]], reason: str
) -> None:
    replica, event = build()
    assert refuse(replica, event) == reason


def test_the_limits_themselves_are_accepted() -> None:
    replica = me()
    replica.handle_strict(TxsAvailable((b"",) * (BLOCK_TXS_HARD_MAX * 4)))
    far = proposal(block_at_1(), round_=PROPOSAL_ROUNDS_AHEAD_MAX)
    replica.handle_strict(ProposalReceived(far))
    # it was kept: another one for that round is refused as a second proposal
    again = proposal(block_at_1(txs=(b"x",)), round_=PROPOSAL_ROUNDS_AHEAD_MAX)
    assert refuse(replica, ProposalReceived(again)) == "already have a proposal for this round"


def test_a_duplicate_vote_is_refused_as_such() -> None:
    replica = me()
    replica.handle(VoteReceived(prevote(1, 0, None)))
    assert refuse(replica, VoteReceived(prevote(1, 0, None))) == "duplicate vote"


def test_future_rounds_per_validator_are_bounded() -> None:
    replica = me()
    for r in range(5, 5 + FUTURE_ROUNDS_PER_VALIDATOR_MAX):
        replica.handle_strict(VoteReceived(prevote(1, r, None)))
    opened = VoteReceived(prevote(1, 5 + FUTURE_ROUNDS_PER_VALIDATOR_MAX, None))
    assert refuse(replica, opened) == "validator opened too many future rounds"
    # another vote in a round it already opened is fine
    replica.handle_strict(VoteReceived(precommit(1, 5, None)))


def test_next_height_duplicates_and_shares() -> None:
    replica = decided()
    early = prevote(1, 0, None, height=2)
    replica.handle_strict(VoteReceived(early))
    assert refuse(replica, VoteReceived(early)) == "next-height buffer full or duplicate"


def test_known_evidence_is_refused_as_known() -> None:
    replica = me()
    evidence = evidence_at_1(0)
    assert replica.handle_strict(EvidenceReceived(evidence)) == [ReportEvidence(evidence)]
    assert refuse(replica, EvidenceReceived(evidence)) == "evidence already known"


def test_committed_evidence_is_refused_as_known() -> None:
    evidence = evidence_at_1(0)
    block = make_block(
        chain_id=CHAIN,
        height=H1,
        time_ms=TimestampMs(2_000),
        proposer=VSET.validators[0].public_key,
        parent_hash=GENESIS_PARENT_HASH,
        last_commit=None,
        app_hash=GENESIS_APP_HASH,
        validators_hash=VSET.compute_hash(),
        evidence=(evidence,),
    )
    replica = me()
    replica.handle_strict(CommittedBlockReceived(block, certified(block.hash)))  # type: ignore[arg-type]
    assert refuse(replica, EvidenceReceived(evidence)) == "evidence already known"


def test_the_evidence_pool_is_bounded() -> None:
    replica = me()
    for r in range(PENDING_EVIDENCE_MAX):
        assert replica.handle_strict(EvidenceReceived(evidence_at_1(r))) != []
    one_more = evidence_at_1(PENDING_EVIDENCE_MAX)
    assert refuse(replica, EvidenceReceived(one_more)) == "evidence pool full"


def test_equivocation_seen_with_a_full_pool_is_reported_not_stored() -> None:
    replica = me()
    for r in range(PENDING_EVIDENCE_MAX):
        replica.handle_strict(EvidenceReceived(evidence_at_1(r)))
    replica.handle(VoteReceived(prevote(3, 0, None)))
    out = replica.handle(VoteReceived(prevote(3, 0, HASH)))
    [report] = [a for a in out if isinstance(a, ReportEvidence)]
    # not stored: offered again it is refused for the full pool, not as known
    assert refuse(replica, EvidenceReceived(report.evidence)) == "evidence pool full"


def test_the_next_height_buffer_is_bounded_across_validators() -> None:
    keys = [PrivateKey(bytes([7, i]) * 16) for i in range(80)]
    big = ValidatorSet.of([(k.public_key, 1) for k in keys])
    replica = Replica(CHAIN, keys[0], PARAMS, genesis(big))
    replica.handle_strict(Started(TimestampMs(1_500)))

    def early_vote(index: int, round_: int) -> VoteReceived:
        member = big.validators[index]
        key = next(k for k in keys if k.public_key == member.public_key)
        payload = compute_vote_sign_payload(VoteType.PREVOTE, 2, round_, None)
        signature = key.sign(SignPurpose.VOTE, CHAIN, payload)
        return VoteReceived(
            Vote(
                VoteType.PREVOTE,
                Height(2),
                Round(round_),
                None,
                ValidatorIndex(index),
                member.public_key,
                signature,
            )
        )

    stored, index = 0, 0
    while True:
        got = [reason_of(replica, early_vote(index, r)) for r in range(64)]
        stored += got.count("accepted")
        if got[0] != "accepted":
            break
        index += 1
    assert stored == FUTURE_HEIGHT_MESSAGES_MAX
    assert got[0] == "next-height buffer full or duplicate"


def reason_of(replica: Replica, event: object) -> str:
    try:
        replica.handle_strict(event)  # type: ignore[arg-type]
    except RejectedInput as refused:
        return str(refused)
    return "accepted"


def test_a_repeated_conflicting_vote_is_refused_as_a_duplicate() -> None:
    replica = me()
    replica.handle(VoteReceived(prevote(1, 0, None)))
    replica.handle(VoteReceived(prevote(1, 0, HASH)))  # equivocation, counted
    assert refuse(replica, VoteReceived(prevote(1, 0, HASH))) == "duplicate vote"


def test_an_equivocation_already_committed_is_not_reported_again() -> None:
    vote_a, vote_b = precommit(2, 0, None), precommit(2, 0, HASH)
    evidence = DuplicateVoteEvidence.of(vote_a, vote_b)
    block = make_block(
        chain_id=CHAIN,
        height=H1,
        time_ms=TimestampMs(2_000),
        proposer=VSET.validators[0].public_key,
        parent_hash=GENESIS_PARENT_HASH,
        last_commit=None,
        app_hash=GENESIS_APP_HASH,
        validators_hash=VSET.compute_hash(),
        evidence=(evidence,),
    )
    replica = me()
    replica.handle_strict(VoteReceived(vote_a))
    replica.handle_strict(CommittedBlockReceived(block, certified(block.hash)))  # type: ignore[arg-type]
    # the second vote of the pair arrives late, still at height 1
    out = replica.handle_strict(VoteReceived(vote_b))
    assert not [a for a in out if isinstance(a, ReportEvidence)]

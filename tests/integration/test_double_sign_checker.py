"""The cluster double-sign checker on hand-made signed messages (fast; no cluster).

What it must flag: two different payloads one validator key signed for one (height, round,
kind), votes and proposals alike, each pair once. What it must not: repeats of one message,
different rounds, heights or kinds, other validators, and messages it cannot attribute
(unknown key, bad signature), which must not frame anyone.
"""

from __future__ import annotations

from dataclasses import replace

from consensus.blocks import GENESIS_PARENT_HASH, Block, make_block
from consensus.crypto import PrivateKey, SignPurpose, sha256
from consensus.evidence import verify_evidence
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.types import (
    ChainId,
    Hash32,
    Height,
    PublicKey,
    Round,
    Signature,
    TimestampMs,
    ValidatorIndex,
)
from consensus.validators import ValidatorSet
from tests.integration.double_sign import DoubleSignChecker, SignedKind, SignedMessage, Slot

CHAIN = ChainId("depochain-checker-test")
KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(4)]
VSET = ValidatorSet.of([(k.public_key, 10) for k in KEYS])
A, B = Hash32(b"\x0a" * 32), Hash32(b"\x0b" * 32)


def index_of(key: PrivateKey) -> ValidatorIndex:
    index = VSET.get_index(key.public_key)
    assert index is not None
    return index


def vote(
    key: PrivateKey,
    vote_type: VoteType,
    round_: int,
    block_hash: Hash32 | None,
    height: int = 5,
    chain_id: ChainId = CHAIN,
) -> Vote:
    payload = compute_vote_sign_payload(vote_type, height, round_, block_hash)
    return Vote(
        vote_type,
        Height(height),
        Round(round_),
        block_hash,
        index_of(key),
        key.public_key,
        key.sign(SignPurpose.VOTE, chain_id, payload),
    )


def prevote(key: PrivateKey, round_: int, block_hash: Hash32 | None, height: int = 5) -> Vote:
    return vote(key, VoteType.PREVOTE, round_, block_hash, height)


def precommit(key: PrivateKey, round_: int, block_hash: Hash32 | None, height: int = 5) -> Vote:
    return vote(key, VoteType.PRECOMMIT, round_, block_hash, height)


def block(proposer: PrivateKey, time_ms: int) -> Block:
    return make_block(
        chain_id=CHAIN,
        height=Height(1),
        time_ms=TimestampMs(time_ms),
        proposer=proposer.public_key,
        parent_hash=GENESIS_PARENT_HASH,
        last_commit=None,
        app_hash=sha256(b"app"),
        validators_hash=VSET.compute_hash(),
        txs=(),
    )


def proposal(key: PrivateKey, round_: int, time_ms: int, pol_round: int = -1) -> Proposal:
    proposed = block(key, time_ms)
    payload = compute_proposal_sign_payload(1, round_, pol_round, proposed.hash)
    signature = key.sign(SignPurpose.PROPOSAL, CHAIN, payload)
    return Proposal(Height(1), Round(round_), pol_round, proposed, key.public_key, signature)


def checker() -> DoubleSignChecker:
    return DoubleSignChecker(CHAIN, [k.public_key for k in KEYS])


def flip(signature: Signature) -> Signature:
    return Signature(bytes([signature[0] ^ 1]) + signature[1:])


def test_two_prevotes_for_different_blocks_are_a_double_sign_with_valid_evidence() -> None:
    seen = checker()
    first, second = prevote(KEYS[0], 2, A), prevote(KEYS[0], 2, B)
    assert seen.observe(first) is None
    found = seen.observe(second)
    assert found is not None
    assert found.slot == Slot(KEYS[0].public_key, 5, 2, SignedKind.PREVOTE)
    assert (found.first, found.second) == (first, second)
    evidence = found.to_evidence()
    assert evidence is not None
    verify_evidence(evidence, VSET, CHAIN)  # the chain itself would accept it
    assert seen.double_signs == (found,)


def test_nil_against_a_block_is_a_double_sign() -> None:
    seen = checker()
    seen.observe(precommit(KEYS[1], 0, None))
    found = seen.observe(precommit(KEYS[1], 0, A))
    assert found is not None and found.slot.kind is SignedKind.PRECOMMIT
    assert "nil" in str(found)


def test_two_proposals_for_different_blocks_are_a_double_sign() -> None:
    seen = checker()
    seen.observe(proposal(KEYS[2], 1, time_ms=2_000))
    found = seen.observe(proposal(KEYS[2], 1, time_ms=2_001))
    assert found is not None and found.slot.kind is SignedKind.PROPOSAL
    assert found.to_evidence() is None  # no on-chain evidence kind for proposals
    same_block_other_pol_round = proposal(KEYS[2], 3, time_ms=2_000, pol_round=1)
    seen.observe(proposal(KEYS[2], 3, time_ms=2_000))
    assert seen.observe(same_block_other_pol_round) is not None  # a different signed payload


def test_repeats_and_different_slots_are_not_double_signs() -> None:
    seen = checker()
    messages: list[SignedMessage] = [
        prevote(KEYS[0], 0, A),
        prevote(KEYS[0], 0, A),  # re-broadcast
        precommit(KEYS[0], 0, B),  # other kind
        prevote(KEYS[0], 1, B),  # other round
        prevote(KEYS[0], 0, B, height=6),  # other height
        prevote(KEYS[1], 0, B),  # other validator
        proposal(KEYS[3], 0, time_ms=2_000),
        proposal(KEYS[3], 0, time_ms=2_000),
    ]
    assert [seen.observe(m) for m in messages] == [None] * len(messages)
    assert seen.double_signs == ()
    assert seen.rejected == 0


def test_each_conflicting_payload_is_reported_once() -> None:
    seen = checker()
    seen.observe(prevote(KEYS[0], 0, None))
    assert seen.observe(prevote(KEYS[0], 0, A)) is not None
    assert seen.observe(prevote(KEYS[0], 0, A)) is None  # the same double sign re-broadcast
    assert seen.observe(prevote(KEYS[0], 0, None)) is None
    assert seen.observe(prevote(KEYS[0], 0, B)) is not None  # a third payload: a new one
    assert len(seen.double_signs) == 2


def test_unattributable_messages_are_rejected_and_frame_no_one() -> None:
    seen = checker()
    seen.observe(prevote(KEYS[0], 0, A))
    forged = replace(prevote(KEYS[0], 0, B), signature=flip(prevote(KEYS[0], 0, B).signature))
    other_chain = vote(KEYS[0], VoteType.PREVOTE, 0, B, chain_id=ChainId("other-chain"))
    outsider = PrivateKey(b"\x99" * 32)
    unknown = replace(
        prevote(KEYS[0], 0, B),
        validator=PublicKey(outsider.public_key),
        signature=outsider.sign(
            SignPurpose.VOTE, CHAIN, compute_vote_sign_payload(VoteType.PREVOTE, 5, 0, B)
        ),
    )
    for message in (forged, other_chain, unknown):
        assert seen.observe(message) is None
    assert seen.double_signs == ()
    assert seen.rejected == 3


def test_slots_and_signed_messages_can_be_read_back() -> None:
    seen = checker()
    key = KEYS[0].public_key
    for height, round_ in [(7, 1), (6, 0), (7, 0)]:
        seen.observe(precommit(KEYS[0], round_, A, height=height))
    seen.observe(prevote(KEYS[0], 0, A, height=9))
    slots = seen.get_slots(key, SignedKind.PRECOMMIT)
    assert [(s.height, s.round) for s in slots] == [(6, 0), (7, 0), (7, 1)]
    first, second = prevote(KEYS[0], 0, A, height=9), prevote(KEYS[0], 0, B, height=9)
    seen.observe(second)
    assert seen.get_signed(Slot(key, 9, 0, SignedKind.PREVOTE)) == [first, second]

"""Duplicate-vote evidence: what verifies, what does not, and its wire form."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import codec
from consensus.evidence import InvalidEvidence, verify_evidence
from consensus.messages import DuplicateVoteEvidence
from consensus.types import ChainId, Round
from consensus.wire import decode_message, encode_message
from tests.consensus.replica_fixtures import CHAIN, VSET, bad_signature, precommit, prevote

A, B = b"\x0a" * 32, b"\x0b" * 32


def good() -> DuplicateVoteEvidence:
    return DuplicateVoteEvidence.of(prevote(2, 0, A), prevote(2, 0, B))


def test_conflicting_votes_verify() -> None:
    verify_evidence(good(), VSET, CHAIN)
    verify_evidence(
        DuplicateVoteEvidence.of(precommit(1, 3, None), precommit(1, 3, A)), VSET, CHAIN
    )


def test_order_is_canonical() -> None:
    assert DuplicateVoteEvidence.of(prevote(2, 0, B), prevote(2, 0, A)) == good()
    e = good()
    with pytest.raises(InvalidEvidence):
        verify_evidence(DuplicateVoteEvidence(e.vote_b, e.vote_a), VSET, CHAIN)


@pytest.mark.parametrize(
    "second",
    [
        prevote(2, 0, A),  # same block
        prevote(2, 1, B),  # other round
        precommit(2, 0, B),  # other type
        prevote(1, 0, B),  # other validator
        prevote(2, 0, B, height=2),  # other height
    ],
)
def test_non_conflicting_pairs_are_rejected(second: object) -> None:
    first = prevote(2, 0, A)
    with pytest.raises(InvalidEvidence):
        verify_evidence(DuplicateVoteEvidence.of(first, second), VSET, CHAIN)  # type: ignore[arg-type]


def test_bad_signature_or_wrong_chain_is_rejected() -> None:
    a, b = prevote(2, 0, A), prevote(2, 0, B)
    forged = DuplicateVoteEvidence.of(a, replace(b, signature=bad_signature(b.signature)))
    with pytest.raises(InvalidEvidence):
        verify_evidence(forged, VSET, CHAIN)
    with pytest.raises(InvalidEvidence):
        verify_evidence(good(), VSET, ChainId("other"))


def test_validator_not_in_the_set_is_rejected() -> None:
    e = good()
    moved = DuplicateVoteEvidence.of(
        replace(e.vote_a, validator_index=3), replace(e.vote_b, validator_index=3)
    )
    with pytest.raises(InvalidEvidence):
        verify_evidence(moved, VSET, CHAIN)


def test_wire_roundtrip_and_hash() -> None:
    e = good()
    assert decode_message(encode_message(e)) == e
    assert (
        e.compute_hash()
        != DuplicateVoteEvidence.of(prevote(2, 1, A), prevote(2, 1, B)).compute_hash()
    )
    with pytest.raises(codec.CodecError):
        DuplicateVoteEvidence.from_wire([2, e.vote_a.to_wire(), e.vote_b.to_wire()])
    assert e.height == 1 and e.vote_a.round == Round(0)

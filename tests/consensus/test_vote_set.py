"""Vote sets: Added / Duplicate / Equivocation, power tallies and quorums."""

from __future__ import annotations

import pytest

from consensus.evidence import verify_evidence
from consensus.messages import VoteType
from consensus.types import Height, Round
from consensus.vote_set import (
    Added,
    Duplicate,
    Equivocation,
    HeightVotes,
    InvalidVote,
    VoteSet,
    validate_vote,
)
from tests.consensus.replica_fixtures import CHAIN, VSET, bad_signature, precommit, prevote

A, B = b"\x0a" * 32, b"\x0b" * 32


def prevotes() -> VoteSet:
    return VoteSet(Height(1), Round(0), VoteType.PREVOTE, VSET)


def test_added_duplicate_equivocation() -> None:
    s = prevotes()
    assert isinstance(s.add_vote(prevote(0, 0, A)), Added)
    assert isinstance(s.add_vote(prevote(0, 0, A)), Duplicate)
    result = s.add_vote(prevote(0, 0, B))
    assert isinstance(result, Equivocation)
    verify_evidence(result.evidence, VSET, CHAIN)
    # the conflicting vote also counts for its block (an equivocator cannot hide a polka),
    # but "any" counts each validator once
    assert s.get_power(A) == 10 and s.get_power(B) == 10 and s.power_any == 10
    assert isinstance(s.add_vote(prevote(0, 0, B)), Duplicate)


def test_quorums() -> None:
    s = prevotes()
    s.add_vote(prevote(0, 0, A))
    s.add_vote(prevote(1, 0, A))
    assert not s.has_quorum_any() and s.get_quorum_block() is None
    s.add_vote(prevote(2, 0, None))
    assert s.has_quorum_any() and not s.has_quorum_for(A) and not s.has_quorum_for(None)
    s.add_vote(prevote(3, 0, A))
    assert s.has_quorum_for(A) and s.get_quorum_block() == A


def test_certificate_can_use_an_equivocators_second_vote() -> None:
    from consensus.certificate import make_certificate, verify_certificate

    s = VoteSet(Height(1), Round(0), VoteType.PRECOMMIT, VSET)
    s.add_vote(precommit(0, 0, None))
    s.add_vote(precommit(0, 0, A))
    s.add_vote(precommit(1, 0, A))
    s.add_vote(precommit(2, 0, A))
    cert = make_certificate(s, A)  # type: ignore[arg-type]
    verify_certificate(cert, A, 1, VSET, CHAIN)


def test_nil_quorum_is_not_a_block() -> None:
    s = prevotes()
    for i in range(3):
        s.add_vote(prevote(i, 0, None))
    assert s.has_quorum_for(None) and s.get_quorum_block() is None


def test_wrong_set_is_our_bug() -> None:
    with pytest.raises(ValueError):
        prevotes().add_vote(precommit(0, 0, A))


def test_validate_vote() -> None:
    validate_vote(prevote(1, 0, A), VSET, CHAIN)
    v = prevote(1, 0, A)
    from dataclasses import replace

    for bad in (replace(v, signature=bad_signature(v.signature)), replace(v, validator_index=2)):
        with pytest.raises(InvalidVote):
            validate_vote(bad, VSET, CHAIN)


def test_height_votes_round_power_and_future_rounds() -> None:
    hv = HeightVotes(Height(1), VSET)
    hv.add_vote(prevote(0, 2, None))
    hv.add_vote(precommit(0, 2, None))
    hv.add_vote(precommit(1, 2, A))
    assert hv.get_round_power(2) == 20  # validator 0 counted once
    assert hv.get_rounds() == [2]
    hv.add_vote(prevote(0, 5, None))
    assert hv.count_rounds_above(0, 0) == 2 and hv.count_rounds_above(0, 2) == 1  # type: ignore[arg-type]
    assert hv.prevotes(Round(7)).power_any == 0 and hv.get_rounds() == [2, 5]

"""What VoteSet.add_vote hands back, its bounds, and its errors.

Complements test_vote_set.py (result kinds, tallies, quorums).
"""

from __future__ import annotations

import pytest

from consensus.vote_set import (
    CONFLICTING_VOTES_MAX,
    Added,
    Duplicate,
    InvalidVote,
    validate_vote,
)
from tests.consensus.replica_fixtures import CHAIN, VSET, precommit, prevote
from tests.consensus.test_vote_set import A, B, prevotes


def test_results_carry_the_counted_vote() -> None:
    s = prevotes()
    first = prevote(0, 0, A)
    assert s.add_vote(first) == Added(first)
    assert s.add_vote(prevote(0, 0, A)) == Duplicate(first)
    conflicting = prevote(0, 0, B)
    s.add_vote(conflicting)
    assert s.add_vote(prevote(0, 0, B)) == Duplicate(conflicting)


def test_conflicting_votes_are_counted_up_to_the_bound() -> None:
    s = prevotes()
    s.add_vote(prevote(0, 0, None))
    hashes = [bytes([i + 1]) * 32 for i in range(CONFLICTING_VOTES_MAX + 1)]
    for h in hashes:
        s.add_vote(prevote(0, 0, h))
    assert [s.get_power(h) for h in hashes] == [10] * CONFLICTING_VOTES_MAX + [0]


def test_power_of_a_block_nobody_voted_for_is_zero() -> None:
    s = prevotes()
    assert s.get_power(A) == 0 and s.get_power(None) == 0
    s.add_vote(prevote(1, 0, A))
    assert s.get_power(B) == 0


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^vote added to the wrong VoteSet$"):
        prevotes().add_vote(precommit(0, 0, A))
    from dataclasses import replace

    v = prevote(1, 0, A)
    with pytest.raises(InvalidVote, match=r"^bad vote signature$"):
        validate_vote(replace(v, signature=bytes(64)), VSET, CHAIN)  # type: ignore[arg-type]
    with pytest.raises(
        InvalidVote, match=r"^validator index does not match a validator of this height$"
    ):
        validate_vote(replace(v, validator_index=2), VSET, CHAIN)  # type: ignore[arg-type]

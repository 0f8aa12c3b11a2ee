"""Validator sets: ordering, thresholds, and the weighted deterministic proposer rotation."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.crypto import PrivateKey
from consensus.types import PublicKey, VotingPower
from consensus.validators import (
    InvalidValidatorSet,
    Validator,
    ValidatorSet,
    compute_proposer_index,
)

KEYS = [PrivateKey(bytes([i + 1]) * 32).public_key for i in range(8)]


def vset(*powers: int) -> ValidatorSet:
    return ValidatorSet.of([(k, p) for k, p in zip(KEYS, powers, strict=False)])


def test_sorted_by_key_and_indexed() -> None:
    s = vset(1, 2, 3, 4)
    keys = [v.public_key for v in s.validators]
    assert keys == sorted(keys)
    for i, v in enumerate(s.validators):
        assert s.get_index(v.public_key) == i and s.get_by_index(i) == v
    assert s.get_index(b"\x00" * 32) is None and s.get_by_index(4) is None


def test_quorum_is_strictly_more_than_two_thirds() -> None:
    s = vset(10, 10, 10, 10)
    assert s.total_power == 40 and s.quorum_power == 27
    assert not s.is_quorum(26) and s.is_quorum(27)
    assert not s.is_one_third(13) and s.is_one_third(14)
    three = vset(1, 1, 1)
    assert not three.is_quorum(2) and three.is_quorum(3)


DESCENDING = sorted(KEYS[:2], reverse=True)


@pytest.mark.parametrize(
    "validators",
    [
        (),
        tuple(Validator(PublicKey(k), VotingPower(1)) for k in DESCENDING),  # not sorted
        (Validator(PublicKey(KEYS[0]), VotingPower(0)),),
        (Validator(PublicKey(b"short"), VotingPower(1)),),
    ],
)
def test_invalid_sets_are_refused(validators: tuple[Validator, ...]) -> None:
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet(validators)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet.of([(KEYS[0], 1), (KEYS[0], 2)])


def test_equal_powers_rotate_round_robin() -> None:
    s = vset(5, 5, 5, 5)
    picks = [s.validators.index(s.proposer(h, 0)) for h in range(8)]
    assert sorted(picks[:4]) == [0, 1, 2, 3] and picks[:4] == picks[4:]
    assert s.proposer(3, 1) == s.proposer(4, 0)  # consecutive rounds move on


def test_rotation_is_proportional_to_power() -> None:
    s = vset(1, 2, 3, 4)
    counts = Counter(s.validators.index(s.proposer(h, 0)) for h in range(1, 1_001))
    powers = [v.power for v in s.validators]
    for i, p in enumerate(powers):
        assert counts[i] == 100 * p


def test_rotation_is_smooth() -> None:
    # the heaviest validator does not propose many blocks in a row
    s = vset(1, 1, 1, 7)
    picks = [s.validators.index(s.proposer(h, 0)) for h in range(10)]
    heavy = max(range(4), key=lambda i: s.validators[i].power)
    runs = "".join("H" if p == heavy else "." for p in picks)
    assert "HHHH" not in runs


def test_huge_coprime_powers_use_a_weighted_hash_pick() -> None:
    powers = (2**39 + 1, 2**39 + 3, 7)
    picks = Counter(compute_proposer_index(powers, h) for h in range(300))
    assert picks[2] == 0 and picks[0] > 50 and picks[1] > 50
    assert compute_proposer_index(powers, 12) == compute_proposer_index(powers, 12)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=8), st.integers(0, 10**6))
def test_proposer_is_deterministic_member(powers: list[int], position: int) -> None:
    s = vset(*powers)
    p = s.proposer(position, 0)
    assert p in s.validators
    assert vset(*powers).proposer(position, 0) == p


def test_wire_roundtrip_and_hash() -> None:
    s = vset(3, 1, 4)
    assert ValidatorSet.from_wire(codec.decode(codec.encode(s.to_wire()))) == s
    assert s.compute_hash() != vset(3, 1, 5).compute_hash()
    with pytest.raises(codec.CodecError):
        ValidatorSet.from_wire([[k, 1] for k in DESCENDING])
    with pytest.raises(codec.CodecError):
        ValidatorSet.from_wire([])

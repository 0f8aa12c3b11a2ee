"""Validator sets: voting power, quorum thresholds and the weighted proposer rotation.

A set is sorted by public key so every node indexes validators identically. Quorum is strictly
more than 2/3 of the total power; "f+1" (enough to contain one honest validator) is strictly
more than 1/3. The proposer of (height, round) is a pure function of the set, so every node
agrees without any shared mutable priority state.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from consensus import codec, crypto
from consensus.errors import ConsensusError
from consensus.types import (
    PUBLIC_KEY_LEN,
    Hash32,
    Height,
    PublicKey,
    Round,
    ValidatorIndex,
    VotingPower,
)

VALIDATORS_MAX = 256
"""Most validators in one set (bounds certificates and vote sets)."""

POWER_MAX = 2**40
"""Largest power of one validator; keeps sums far from the codec's integer bound."""

ROTATION_CYCLE_MAX = 4_096
"""Longest precomputed weighted rotation; bigger (reduced) totals use a hashed weighted pick."""


class InvalidValidatorSet(ConsensusError, ValueError):
    """A validator set that breaks the rules (empty, duplicate keys, bad power)."""


@dataclass(frozen=True, slots=True)
class Validator:
    """One validator: its Ed25519 public key and voting power (> 0)."""

    public_key: PublicKey
    power: VotingPower

    def to_wire(self) -> list[object]:
        return [self.public_key, self.power]

    @classmethod
    def from_wire(cls, value: codec.Value) -> Validator:
        key, power = codec.expect_fields(value, "validator", 2)
        return cls(
            PublicKey(codec.expect_bytes(key, "public_key", PUBLIC_KEY_LEN)),
            VotingPower(codec.expect_int(power, "power", 1, POWER_MAX)),
        )


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """The validators of one height, sorted by public key; index = position in this order."""

    validators: tuple[Validator, ...]
    total_power: VotingPower = field(init=False, compare=False, repr=False)
    _index: dict[PublicKey, ValidatorIndex] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        vals = self.validators
        if not 1 <= len(vals) <= VALIDATORS_MAX:
            raise InvalidValidatorSet(f"a set holds 1..{VALIDATORS_MAX} validators")
        for v in vals:
            if len(v.public_key) != PUBLIC_KEY_LEN or not 1 <= v.power <= POWER_MAX:
                raise InvalidValidatorSet("bad public key length or power")
        keys = [v.public_key for v in vals]
        if any(a >= b for a, b in itertools.pairwise(keys)):
            raise InvalidValidatorSet("validators must be sorted by key and unique")
        object.__setattr__(self, "total_power", VotingPower(sum(v.power for v in vals)))
        index = {v.public_key: ValidatorIndex(i) for i, v in enumerate(vals)}
        object.__setattr__(self, "_index", index)

    @classmethod
    def of(cls, validators: Iterable[Validator | tuple[bytes, int]]) -> ValidatorSet:
        """Build a set from validators in any order (sorts them by public key)."""
        items = [
            v if isinstance(v, Validator) else Validator(PublicKey(v[0]), VotingPower(v[1]))
            for v in validators
        ]
        return cls(tuple(sorted(items, key=lambda v: v.public_key)))

    def __len__(self) -> int:
        return len(self.validators)

    @property
    def quorum_power(self) -> VotingPower:
        """Smallest power that is strictly more than 2/3 of the total."""
        return VotingPower(self.total_power * 2 // 3 + 1)

    def is_quorum(self, power: int) -> bool:
        """> 2/3 of the total power (2f+1)."""
        return power * 3 > self.total_power * 2

    def is_one_third(self, power: int) -> bool:
        """> 1/3 of the total power (f+1): at least one honest validator is among them."""
        return power * 3 > self.total_power

    def get_index(self, public_key: bytes) -> ValidatorIndex | None:
        return self._index.get(PublicKey(public_key))

    def get_by_index(self, index: int) -> Validator | None:
        return self.validators[index] if 0 <= index < len(self.validators) else None

    def contains(self, public_key: bytes) -> bool:
        return PublicKey(public_key) in self._index

    def compute_hash(self) -> Hash32:
        return crypto.sha256(codec.encode(self.to_wire()))

    def proposer(self, height: Height | int, round_: Round | int) -> Validator:
        """The proposer of (height, round): a weighted round-robin over the set.

        Position ``height + round`` in the smooth weighted round-robin cycle, so every validator
        proposes in proportion to its power and consecutive rounds rotate.
        """
        powers = tuple(v.power for v in self.validators)
        return self.validators[compute_proposer_index(powers, height + round_)]

    def to_wire(self) -> list[object]:
        return [v.to_wire() for v in self.validators]

    @classmethod
    def from_wire(cls, value: codec.Value) -> ValidatorSet:
        vals = codec.expect_list_of(value, "validators", Validator.from_wire, VALIDATORS_MAX)
        try:
            return cls(vals)
        except InvalidValidatorSet as exc:
            raise codec.CodecError(str(exc)) from exc


def compute_proposer_index(powers: tuple[int, ...], position: int) -> int:
    """Index of the proposer at ``position`` of the weighted rotation over ``powers``."""
    gcd = functools.reduce(_gcd, powers)
    reduced = tuple(p // gcd for p in powers)
    total = sum(reduced)
    if total <= ROTATION_CYCLE_MAX:
        cycle = _rotation_cycle(reduced)
        return cycle[position % len(cycle)]
    # Huge, coprime powers: a hashed pick, still weighted and deterministic.
    ticket = int.from_bytes(crypto.sha256(codec.encode([position])), "big") % total
    for i, p in enumerate(reduced):
        if ticket < p:
            return i
        ticket -= p
    raise AssertionError("unreachable: ticket < total")


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


@functools.lru_cache(maxsize=64)
def _rotation_cycle(powers: tuple[int, ...]) -> tuple[int, ...]:
    """Smooth weighted round-robin (as nginx / CometBFT priorities): after ``sum(powers)``
    picks every priority is back to zero, so one cycle describes the rotation forever."""
    total = sum(powers)
    priority = [0] * len(powers)
    picks = []
    for _ in range(total):
        for i, p in enumerate(powers):
            priority[i] += p
        # Ties go to the lowest index, i.e. the smallest public key.
        best = max(range(len(powers)), key=lambda i: (priority[i], -i))
        priority[best] -= total
        picks.append(best)
    return tuple(picks)

"""A tiny deterministic PRNG for the simulator: every choice of a run flows from one integer seed.

``random`` is banned in ``consensus/`` (its algorithm is an implementation detail of CPython and
it invites global state). xoshiro256** seeded through splitmix64 is small, fast enough in pure
Python and identical on every platform. Probabilities are integer parts per million so no float
rounding can ever make two machines disagree about a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

_MASK64 = (1 << 64) - 1
PPM = 1_000_000
"""Probabilities are expressed in parts per million."""

_T = TypeVar("_T")


def _splitmix64(state: int) -> tuple[int, int]:
    """One splitmix64 step: (new state, output). Used only to expand a seed into a full state."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & _MASK64


class Prng:
    """xoshiro256** with integer-only helpers. Not for cryptography: for reproducible tests."""

    __slots__ = ("_s",)

    def __init__(self, seed: int) -> None:
        state = seed & _MASK64
        words = []
        for _ in range(4):
            state, word = _splitmix64(state)
            words.append(word)
        self._s = words

    def next_u64(self) -> int:
        s = self._s
        result = (_rotl((s[1] * 5) & _MASK64, 7) * 9) & _MASK64
        t = (s[1] << 17) & _MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, bound: int) -> int:
        """Uniform integer in [0, bound), without modulo bias (rejection sampling)."""
        if bound <= 0:
            raise ValueError("bound must be positive")
        limit = (1 << 64) - ((1 << 64) % bound)
        while True:
            value = self.next_u64()
            if value < limit:
                return value % bound

    def between(self, low: int, high: int) -> int:
        """Uniform integer in [low, high] (both inclusive)."""
        if high < low:
            raise ValueError("empty range")
        return low + self.below(high - low + 1)

    def chance_ppm(self, probability_ppm: int) -> bool:
        """True with probability ``probability_ppm`` / 1,000,000."""
        if probability_ppm <= 0:
            return False
        return self.below(PPM) < probability_ppm

    def choice(self, items: Sequence[_T]) -> _T:
        return items[self.below(len(items))]

    def shuffled(self, items: Sequence[_T]) -> list[_T]:
        """A new list with ``items`` in a uniformly random order (Fisher-Yates)."""
        result = list(items)
        for i in range(len(result) - 1, 0, -1):
            j = self.below(i + 1)
            result[i], result[j] = result[j], result[i]
        return result

    def sample(self, items: Sequence[_T], count: int) -> list[_T]:
        return self.shuffled(items)[:count]

    def bytes(self, length: int) -> bytes:
        words = (length + 7) // 8
        raw = b"".join(self.next_u64().to_bytes(8, "little") for _ in range(words))
        return raw[:length]

    def fork(self) -> Prng:
        """An independent stream: lets one part of a run draw more without shifting the others."""
        return Prng(self.next_u64())

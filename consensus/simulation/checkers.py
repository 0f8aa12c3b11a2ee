"""Invariant checkers fed by the simulator as things happen.

* agreement: no two honest nodes commit different blocks at one height;
* validity: committed blocks are well formed, chain to their parent, carry the right app hash,
  their certificates verify, and their txs are ones the application produced;
* no honest double-sign: every message an honest key signs is watched; two different signed
  payloads for one (height, round, kind) is a violation;
* liveness (checked by the runner): new heights after the final heal within a bound.

A checker never raises on a violation: it records it, so one run can report everything it saw.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from consensus.blocks import Block
from consensus.types import Hash32, PublicKey


class ViolationKind(enum.Enum):
    AGREEMENT = "agreement"
    VALIDITY = "validity"
    DOUBLE_SIGN = "double-sign"
    LIVENESS = "liveness"

    @property
    def is_safety(self) -> bool:
        return self is not ViolationKind.LIVENESS


@dataclass(frozen=True, slots=True)
class Violation:
    kind: ViolationKind
    at_ms: int
    """Sim time since the start of the run."""
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value} at {self.at_ms} ms: {self.detail}"


SignedKind = str
"""'proposal', 'prevote' or 'precommit'."""


class AgreementChecker:
    """Height -> the first block hash an honest node committed there."""

    __slots__ = ("committed",)

    def __init__(self) -> None:
        self.committed: dict[int, tuple[int, Hash32]] = {}

    def on_commit(self, node: int, height: int, block_hash: Hash32, at_ms: int) -> list[Violation]:
        first = self.committed.get(height)
        if first is None:
            self.committed[height] = (node, block_hash)
            return []
        if first[1] == block_hash:
            return []
        return [
            Violation(
                ViolationKind.AGREEMENT,
                at_ms,
                f"height {height}: node {first[0]} committed {first[1].hex()[:16]}, "
                f"node {node} committed {block_hash.hex()[:16]}",
            )
        ]

    @property
    def max_height(self) -> int:
        return max(self.committed, default=0)


class DoubleSignChecker:
    """Watches every message signed by an honest key: one payload per (key, height, round, kind)."""

    __slots__ = ("_honest", "_signed")

    def __init__(self, honest_keys: Collection[PublicKey]) -> None:
        self._honest = frozenset(honest_keys)
        self._signed: dict[tuple[PublicKey, int, int, SignedKind], bytes] = {}

    def on_signed(
        self,
        key: PublicKey,
        height: int,
        round_: int,
        kind: SignedKind,
        sign_payload: bytes,
        at_ms: int,
    ) -> list[Violation]:
        """``sign_payload`` identifies what was signed (e.g. the block hash or nil marker)."""
        if key not in self._honest:
            return []
        slot = (key, height, round_, kind)
        previous = self._signed.setdefault(slot, sign_payload)
        if previous == sign_payload:
            return []
        return [
            Violation(
                ViolationKind.DOUBLE_SIGN,
                at_ms,
                f"honest key {key.hex()[:12]} signed two different {kind}s at "
                f"height {height} round {round_}",
            )
        ]


def check_proposer_fairness(
    proposers: Sequence[PublicKey], keys: Collection[PublicKey], max_gap: int
) -> list[str]:
    """Leader fairness: each of ``keys`` (validators up and connected all along) proposed at
    least one of every ``max_gap`` consecutive committed blocks (``proposers[i]``: the proposer
    of block ``i + 1``)."""
    problems = []
    for key in keys:
        last = 0
        for height in [*(i + 1 for i, p in enumerate(proposers) if p == key), len(proposers) + 1]:
            if height - last > max_gap:
                problems.append(
                    f"{key.hex()[:12]} proposed no block from height {last + 1} to {height - 1}"
                )
                break
            last = height
    return problems


def check_block_time(block: Block, true_now_ms: int, bound_ms: int) -> list[str]:
    """Proposer-based time: a block committed at true time ``true_now_ms`` cannot be stamped
    later than ``bound_ms`` after it (the honest clocks' skew plus the precision), whatever
    the clocks of fewer than 1/3 of the power say."""
    ahead = block.header.time_ms - true_now_ms
    if ahead > bound_ms:
        return [f"block {block.height} stamped {ahead} ms ahead of true time (bound {bound_ms})"]
    return []

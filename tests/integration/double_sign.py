"""Finds double signs among the consensus messages a cluster observer received.

A validator double-signs when it signs two different payloads for one slot: (key, height,
round, kind), kind being proposal, prevote or precommit. The checker keeps every distinct
payload per slot and reports each new one that meets an older one as a :class:`DoubleSign`,
an evidence-like record holding both signed messages (for votes, ``to_evidence`` gives the
chain's own :class:`DuplicateVoteEvidence`, which ``consensus.evidence`` can verify).

Only messages signed by a known validator key with a valid signature count: a forged message
must not frame a validator. The same message seen again (validators re-broadcast what they
signed) is not a conflict. Pure: no I/O, no clock; the observer feeds it.

Memory grows with the number of distinct signed messages; it is meant for one test's cluster
(minutes of a few validators), not for a long-running node.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from consensus.messages import DuplicateVoteEvidence, Vote, VoteType
from consensus.proposal import Proposal
from consensus.types import ChainId, PublicKey


class SignedKind(enum.Enum):
    PROPOSAL = "proposal"
    PREVOTE = "prevote"
    PRECOMMIT = "precommit"


SignedMessage = Proposal | Vote


@dataclass(frozen=True, slots=True)
class Slot:
    """What a validator may sign at most one payload for."""

    validator: PublicKey
    height: int
    round: int
    kind: SignedKind

    def __str__(self) -> str:
        return f"{self.validator.hex()[:12]}'s {self.kind.value} at {self.height}/{self.round}"


@dataclass(frozen=True, slots=True)
class DoubleSign:
    """Two different payloads one key signed for the same slot."""

    slot: Slot
    first: SignedMessage
    """The payload seen first in this slot."""
    second: SignedMessage
    """A later, different payload for the same slot."""

    def to_evidence(self) -> DuplicateVoteEvidence | None:
        """The chain's duplicate-vote evidence for two votes (None for two proposals)."""
        if isinstance(self.first, Vote) and isinstance(self.second, Vote):
            return DuplicateVoteEvidence.of(self.first, self.second)
        return None

    def __str__(self) -> str:
        slot = self.slot
        return (
            f"{slot.validator.hex()[:12]} signed two {slot.kind.value}s at height {slot.height} "
            f"round {slot.round}: {describe(self.first)} and {describe(self.second)}"
        )


def describe(message: SignedMessage) -> str:
    """What a signed message is for, in a few characters (block hash prefix or nil)."""
    if isinstance(message, Proposal):
        return f"block {message.block_hash.hex()[:12]} (pol_round {message.pol_round})"
    return "nil" if message.block_hash is None else f"block {message.block_hash.hex()[:12]}"


def get_slot(message: SignedMessage) -> Slot:
    if isinstance(message, Proposal):
        return Slot(message.proposer, message.height, message.round, SignedKind.PROPOSAL)
    kind = SignedKind.PREVOTE if message.type == VoteType.PREVOTE else SignedKind.PRECOMMIT
    return Slot(message.validator, message.height, message.round, kind)


class DoubleSignChecker:
    """Every distinct signed payload per slot, and the double signs among them."""

    def __init__(self, chain_id: ChainId, validators: Collection[PublicKey]) -> None:
        self.chain_id = chain_id
        self._validators = frozenset(validators)
        self._payloads: dict[Slot, dict[bytes, SignedMessage]] = {}
        self._double_signs: list[DoubleSign] = []
        self.rejected = 0
        """Messages not counted: unknown signer or a signature that does not verify."""

    def observe(self, message: SignedMessage) -> DoubleSign | None:
        """Record a received message; the double sign it reveals, if any."""
        slot = get_slot(message)
        if slot.validator not in self._validators or not message.is_signature_valid(self.chain_id):
            self.rejected += 1
            return None
        seen = self._payloads.setdefault(slot, {})
        payload = message.sign_payload()
        if payload in seen:
            return None
        first = next(iter(seen.values()), None)
        seen[payload] = message
        if first is None:
            return None
        found = DoubleSign(slot, first, message)
        self._double_signs.append(found)
        return found

    @property
    def double_signs(self) -> tuple[DoubleSign, ...]:
        return tuple(self._double_signs)

    def get_slots(self, validator: PublicKey, kind: SignedKind) -> list[Slot]:
        """The slots of ``kind`` in which ``validator`` was seen signing, in (height, round)
        order."""
        slots = [s for s in self._payloads if s.validator == validator and s.kind == kind]
        return sorted(slots, key=lambda s: (s.height, s.round))

    def get_signed(self, slot: Slot) -> list[SignedMessage]:
        """The distinct messages seen for ``slot``, first seen first."""
        return list(self._payloads.get(slot, {}).values())

"""The Proposal: the proposer of (height, round) signs a whole block for that round.

It sits above :mod:`consensus.blocks` (it carries a Block) and beside the votes of
:mod:`consensus.messages`; keeping it out of the votes' module is what lets blocks, whose
headers carry commit certificates, import the votes without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import codec, crypto
from consensus.blocks import Block
from consensus.crypto import SignPurpose
from consensus.messages import (
    ROUND_MAX,
    read_height,
    read_public_key,
    read_round,
    read_signature,
)
from consensus.types import ChainId, Hash32, Height, PublicKey, Round, Signature


def compute_proposal_sign_payload(
    height: int, round_: int, pol_round: int, block_hash: bytes
) -> bytes:
    """What a proposer signs (chain id and purpose are added by crypto.sign)."""
    return codec.encode([height, round_, pol_round, block_hash])


@dataclass(frozen=True, slots=True)
class Proposal:
    """The proposer of (height, round) proposes ``block``; ``pol_round`` is its valid round
    (-1 if none): the round in which > 2/3 prevoted this block (Algorithm 1, line 28)."""

    height: Height
    round: Round
    pol_round: int
    block: Block
    proposer: PublicKey
    signature: Signature

    @property
    def block_hash(self) -> Hash32:
        return self.block.hash

    def sign_payload(self) -> bytes:
        return compute_proposal_sign_payload(
            self.height, self.round, self.pol_round, self.block.hash
        )

    def is_signature_valid(self, chain_id: ChainId) -> bool:
        return crypto.verify(
            self.proposer, SignPurpose.PROPOSAL, chain_id, self.sign_payload(), self.signature
        )

    def to_wire(self) -> list[object]:
        return [
            self.height,
            self.round,
            self.pol_round,
            self.block.to_wire(),
            self.proposer,
            self.signature,
        ]

    @classmethod
    def from_wire(cls, value: codec.Value) -> Proposal:
        f = codec.expect_fields(value, "proposal", 6)
        return cls(
            height=read_height(f[0]),
            round=read_round(f[1]),
            pol_round=codec.expect_int(f[2], "pol_round", -1, ROUND_MAX),
            block=Block.from_wire(f[3]),
            proposer=read_public_key(f[4]),
            signature=read_signature(f[5]),
        )

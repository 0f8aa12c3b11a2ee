"""Votes and what is made of them: Vote, CommitCertificate and DuplicateVoteEvidence.

Each has ``to_wire``/``from_wire`` (positional lists, strict readers, ``CodecError`` only) and
each signed one has a ``sign_payload``: the bytes that go into ``crypto.sign(purpose, chain_id,
payload)``. The ``read_*`` field readers are shared with the other message modules.

This module sits below blocks (a header carries a CommitCertificate); the Proposal, which
carries a whole block, is in :mod:`consensus.proposal`, and the network envelope of all
consensus messages in :mod:`consensus.wire`. Never: import either of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from consensus import codec, crypto
from consensus.crypto import SignPurpose
from consensus.types import (
    HASH_LEN,
    PUBLIC_KEY_LEN,
    SIGNATURE_LEN,
    ChainId,
    Hash32,
    Height,
    PublicKey,
    Round,
    Signature,
    ValidatorIndex,
)

HEIGHT_MAX = 2**62
ROUND_MAX = 2**31
"""Rounds beyond this are rejected as malformed (a real network never gets near)."""

COMMIT_SIGS_MAX = 256
"""Equals validators.VALIDATORS_MAX: a certificate has at most one signature per validator."""

MESSAGE_BYTES_MAX = 9 * 1024 * 1024
"""Largest encoded message accepted (a proposal with a maximal block, plus slack)."""

VOTE_BYTES_MAX = 512


class VoteType(enum.IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


def read_height(value: codec.Value) -> Height:
    return Height(codec.expect_int(value, "height", 1, HEIGHT_MAX))


def read_round(value: codec.Value) -> Round:
    return Round(codec.expect_int(value, "round", 0, ROUND_MAX))


def read_hash(value: codec.Value, name: str = "hash") -> Hash32:
    return Hash32(codec.expect_bytes(value, name, HASH_LEN))


def read_optional_hash(value: codec.Value) -> Hash32 | None:
    return codec.expect_optional(value, read_hash)


def read_public_key(value: codec.Value) -> PublicKey:
    return PublicKey(codec.expect_bytes(value, "public_key", PUBLIC_KEY_LEN))


def read_signature(value: codec.Value) -> Signature:
    return Signature(codec.expect_bytes(value, "signature", SIGNATURE_LEN))


def compute_vote_sign_payload(
    vote_type: VoteType, height: int, round_: int, block_hash: bytes | None
) -> bytes:
    """What a validator signs for a vote (chain id and purpose are added by crypto.sign)."""
    return codec.encode([int(vote_type), height, round_, block_hash])


@dataclass(frozen=True, slots=True)
class Vote:
    """A prevote or precommit for ``block_hash`` (None = nil) at (height, round)."""

    type: VoteType
    height: Height
    round: Round
    block_hash: Hash32 | None
    """The voted block's hash, or None for a nil vote."""
    validator_index: ValidatorIndex
    """Position of the signer in the height's validator set."""
    validator: PublicKey
    """The signer's public key (must match ``validator_index`` in the set)."""
    signature: Signature

    def sign_payload(self) -> bytes:
        return compute_vote_sign_payload(self.type, self.height, self.round, self.block_hash)

    def is_signature_valid(self, chain_id: ChainId) -> bool:
        return crypto.verify(
            self.validator, SignPurpose.VOTE, chain_id, self.sign_payload(), self.signature
        )

    def to_wire(self) -> list[object]:
        return [
            int(self.type),
            self.height,
            self.round,
            self.block_hash,
            self.validator_index,
            self.validator,
            self.signature,
        ]

    @classmethod
    def from_wire(cls, value: codec.Value) -> Vote:
        f = codec.expect_fields(value, "vote", 7)
        return cls(
            type=VoteType(codec.expect_int(f[0], "vote_type", 1, 2)),
            height=read_height(f[1]),
            round=read_round(f[2]),
            block_hash=read_optional_hash(f[3]),
            validator_index=ValidatorIndex(codec.expect_uint(f[4], "index", COMMIT_SIGS_MAX - 1)),
            validator=read_public_key(f[5]),
            signature=read_signature(f[6]),
        )


@dataclass(frozen=True, slots=True)
class CommitSig:
    """One validator's precommit signature inside a certificate."""

    validator_index: ValidatorIndex
    signature: Signature

    def to_wire(self) -> list[object]:
        return [self.validator_index, self.signature]

    @classmethod
    def from_wire(cls, value: codec.Value) -> CommitSig:
        index, sig = codec.expect_fields(value, "commit_sig", 2)
        return cls(
            ValidatorIndex(codec.expect_uint(index, "index", COMMIT_SIGS_MAX - 1)),
            read_signature(sig),
        )


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """> 2/3 of the power's precommits for ``block_hash`` at (height, round).

    Signatures are sorted by validator index; each covers
    ``compute_vote_sign_payload(PRECOMMIT, height, round, block_hash)``.
    Verify with :func:`consensus.certificate.verify_certificate`.
    """

    height: Height
    round: Round
    block_hash: Hash32
    signatures: tuple[CommitSig, ...]

    def to_wire(self) -> list[object]:
        return [self.height, self.round, self.block_hash, [s.to_wire() for s in self.signatures]]

    @classmethod
    def from_wire(cls, value: codec.Value) -> CommitCertificate:
        f = codec.expect_fields(value, "certificate", 4)
        sigs = codec.expect_list_of(f[3], "signatures", CommitSig.from_wire, COMMIT_SIGS_MAX)
        return cls(read_height(f[0]), read_round(f[1]), read_hash(f[2], "block_hash"), sigs)

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())

    @classmethod
    def decode(cls, data: bytes) -> CommitCertificate:
        return cls.from_wire(codec.decode(data, MESSAGE_BYTES_MAX))


EVIDENCE_KIND_DUPLICATE_VOTE = 1


@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence:
    """Two signed votes by one validator for the same (height, round, type), different blocks.

    Canonical order: ``vote_a`` is the one whose encoded vote sorts first, so the same pair
    always has one encoding and one hash. Build with :meth:`of`. Verify with
    :func:`consensus.evidence.verify_evidence`.
    """

    vote_a: Vote
    vote_b: Vote

    @classmethod
    def of(cls, first: Vote, second: Vote) -> DuplicateVoteEvidence:
        a, b = sorted((first, second), key=lambda v: codec.encode(v.to_wire()))
        return cls(a, b)

    @property
    def height(self) -> Height:
        return self.vote_a.height

    @property
    def validator(self) -> PublicKey:
        return self.vote_a.validator

    def compute_hash(self) -> Hash32:
        return crypto.sha256(codec.encode(self.to_wire()))

    def to_wire(self) -> list[object]:
        return [EVIDENCE_KIND_DUPLICATE_VOTE, self.vote_a.to_wire(), self.vote_b.to_wire()]

    @classmethod
    def from_wire(cls, value: codec.Value) -> DuplicateVoteEvidence:
        kind, a, b = codec.expect_fields(value, "evidence", 3)
        codec.expect_int(kind, "evidence_kind", 1, 1)
        return cls(Vote.from_wire(a), Vote.from_wire(b))


Evidence = DuplicateVoteEvidence
"""The one kind of evidence so far; a union once there are more."""

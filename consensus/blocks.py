"""Blocks and headers.

The block hash is sha256 of the encoded header; the header commits to the txs (Merkle root of
the raw tx bytes, RFC 6962) and to the evidence, so the hash covers the whole block. As in
Tendermint, ``app_hash`` is the ledger state after executing the PARENT block,
``last_results_hash`` the Merkle root of the PARENT block's receipts (a block's results exist
only once it is executed, after it is committed, so the next header carries them, as CometBFT's
LastResultsHash), and ``last_commit`` is the parent's commit certificate (None only at height 1).

This module checks what a block says about itself (:func:`validate_block_shape`); whether it
extends our chain is the replica's job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from consensus import codec, crypto
from consensus.certificate import CertificateError, verify_certificate
from consensus.errors import ConsensusError
from consensus.messages import (
    HEIGHT_MAX,
    CommitCertificate,
    DuplicateVoteEvidence,
)
from consensus.params import BLOCK_TXS_HARD_MAX, EVIDENCE_HARD_MAX, ConsensusParams
from consensus.types import (
    CHAIN_ID_MAX_LEN,
    HASH_LEN,
    PUBLIC_KEY_LEN,
    ChainId,
    Hash32,
    Height,
    PublicKey,
    TimestampMs,
)
from consensus.validators import ValidatorSet

GENESIS_PARENT_HASH = Hash32(bytes(HASH_LEN))
"""``parent_hash`` of block 1."""

BLOCK_TX_BYTES_MAX = 1024 * 1024
"""Largest tx a block may carry on the wire (a decoding bound; the ledger's own limit,
``consensus.ledger.codes.TX_BYTES_MAX``, is far lower and makes a bigger tx fail its receipt)."""


class InvalidBlock(ConsensusError, ValueError):
    """A block whose contents contradict its header, or exceed the params' bounds."""


def compute_txs_root(txs: tuple[bytes, ...]) -> Hash32:
    return crypto.merkle_root(txs)


def compute_results_hash(encoded_receipts: Sequence[bytes]) -> Hash32:
    """RFC 6962 Merkle root of a block's encoded receipts, in block order (a receipt is proven
    with ``crypto.merkle_proof`` against the next header's ``last_results_hash``)."""
    return crypto.merkle_root(encoded_receipts)


EMPTY_RESULTS_HASH = compute_results_hash(())
"""``last_results_hash`` of block 1 (no parent) and after a block without txs."""


def compute_evidence_hash(evidence: tuple[DuplicateVoteEvidence, ...]) -> Hash32:
    return crypto.merkle_root([codec.encode(e.to_wire()) for e in evidence])


@dataclass(frozen=True, slots=True)
class Header:
    """What the block hash covers."""

    chain_id: ChainId
    height: Height
    time_ms: TimestampMs
    """The proposer's clock when it built the block; strictly after the parent's."""
    proposer: PublicKey
    """The validator that built the block (it may be re-proposed by others in later rounds)."""
    parent_hash: Hash32
    last_commit: CommitCertificate | None
    """Commit certificate of the parent block; None at height 1."""
    txs_root: Hash32
    app_hash: Hash32
    """Ledger app hash after executing the parent block."""
    last_results_hash: Hash32
    """Merkle root of the parent block's receipts (:func:`compute_results_hash`)."""
    validators_hash: Hash32
    """Hash of the validator set of this height."""
    evidence_hash: Hash32
    hash: Hash32 = field(init=False, compare=False, repr=False)
    """sha256 of the encoded header (computed once)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", crypto.sha256(codec.encode(self.to_wire())))

    def to_wire(self) -> list[object]:
        return [
            self.chain_id,
            self.height,
            self.time_ms,
            self.proposer,
            self.parent_hash,
            None if self.last_commit is None else self.last_commit.to_wire(),
            self.txs_root,
            self.app_hash,
            self.last_results_hash,
            self.validators_hash,
            self.evidence_hash,
        ]

    @classmethod
    def from_wire(cls, value: codec.Value) -> Header:
        f = codec.expect_fields(value, "header", 11)
        return cls(
            chain_id=ChainId(codec.expect_str(f[0], "chain_id", CHAIN_ID_MAX_LEN, 1)),
            height=Height(codec.expect_int(f[1], "height", 1, HEIGHT_MAX)),
            time_ms=TimestampMs(codec.expect_uint(f[2], "time_ms", 2**62)),
            proposer=PublicKey(codec.expect_bytes(f[3], "proposer", PUBLIC_KEY_LEN)),
            parent_hash=Hash32(codec.expect_bytes(f[4], "parent_hash", HASH_LEN)),
            last_commit=codec.expect_optional(f[5], CommitCertificate.from_wire),
            txs_root=Hash32(codec.expect_bytes(f[6], "txs_root", HASH_LEN)),
            app_hash=Hash32(codec.expect_bytes(f[7], "app_hash", HASH_LEN)),
            last_results_hash=Hash32(codec.expect_bytes(f[8], "last_results_hash", HASH_LEN)),
            validators_hash=Hash32(codec.expect_bytes(f[9], "validators_hash", HASH_LEN)),
            evidence_hash=Hash32(codec.expect_bytes(f[10], "evidence_hash", HASH_LEN)),
        )


@dataclass(frozen=True, slots=True)
class Block:
    header: Header
    txs: tuple[bytes, ...]
    """Opaque raw transaction bytes, in execution order."""
    evidence: tuple[DuplicateVoteEvidence, ...] = ()

    @property
    def hash(self) -> Hash32:
        return self.header.hash

    @property
    def height(self) -> Height:
        return self.header.height

    def to_wire(self) -> list[object]:
        return [self.header.to_wire(), list(self.txs), [e.to_wire() for e in self.evidence]]

    @classmethod
    def from_wire(cls, value: codec.Value) -> Block:
        header, txs, evidence = codec.expect_fields(value, "block", 3)
        return cls(
            Header.from_wire(header),
            codec.expect_list_of(
                txs,
                "txs",
                lambda t: codec.expect_bytes(t, "tx", max_len=BLOCK_TX_BYTES_MAX),
                BLOCK_TXS_HARD_MAX,
            ),
            codec.expect_list_of(
                evidence, "evidence", DuplicateVoteEvidence.from_wire, EVIDENCE_HARD_MAX
            ),
        )

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())

    @classmethod
    def decode(cls, data: bytes) -> Block:
        return cls.from_wire(codec.decode(data))


def make_block(
    *,
    chain_id: ChainId,
    height: Height,
    time_ms: TimestampMs,
    proposer: PublicKey,
    parent_hash: Hash32,
    last_commit: CommitCertificate | None,
    app_hash: Hash32,
    validators_hash: Hash32,
    txs: tuple[bytes, ...] = (),
    evidence: tuple[DuplicateVoteEvidence, ...] = (),
    last_results_hash: Hash32 = EMPTY_RESULTS_HASH,
) -> Block:
    """Build a block whose header roots match its txs and evidence."""
    header = Header(
        chain_id=chain_id,
        height=height,
        time_ms=time_ms,
        proposer=proposer,
        parent_hash=parent_hash,
        last_commit=last_commit,
        txs_root=compute_txs_root(txs),
        app_hash=app_hash,
        last_results_hash=last_results_hash,
        validators_hash=validators_hash,
        evidence_hash=compute_evidence_hash(evidence),
    )
    return Block(header, txs, evidence)


def validate_block_shape(block: Block, params: ConsensusParams) -> None:
    """Raise :class:`InvalidBlock` unless the header's roots match and bounds hold."""
    if len(block.txs) > params.block_txs_max:
        raise InvalidBlock(f"{len(block.txs)} txs exceed block_txs_max")
    if len(block.evidence) > params.evidence_max:
        raise InvalidBlock(f"{len(block.evidence)} evidence exceed evidence_max")
    if compute_txs_root(block.txs) != block.header.txs_root:
        raise InvalidBlock("txs_root does not match the txs")
    if compute_evidence_hash(block.evidence) != block.header.evidence_hash:
        raise InvalidBlock("evidence_hash does not match the evidence")
    if len(block.encode()) > params.block_bytes_max:
        raise InvalidBlock("encoded block exceeds block_bytes_max")
    hashes = [e.compute_hash() for e in block.evidence]
    if len(set(hashes)) != len(hashes):
        raise InvalidBlock("duplicate evidence")
    if (block.header.height == 1) != (block.header.last_commit is None):
        raise InvalidBlock("last_commit must be absent exactly at height 1")


# ---------------------------------------------------------------------------------------------
# chain rules: does a block extend a given chain tip? (the replica's valid(v))


@dataclass(frozen=True, slots=True)
class ChainTip:
    """What the next block must extend: the last committed block and the state after it."""

    chain_id: ChainId
    height: Height
    """Last committed height (0 before block 1)."""
    last_block_hash: Hash32
    last_commit: CommitCertificate | None
    last_block_time_ms: TimestampMs
    app_hash: Hash32
    """App hash after executing block ``height``; the next header must carry it."""
    validator_sets: Mapping[int, ValidatorSet]
    """Must hold the sets of ``height`` (if > 0) and ``height + 1``."""
    last_results_hash: Hash32 = EMPTY_RESULTS_HASH
    """Results root of block ``height``; the next header must carry it."""


class TxsRule(Protocol):
    """What the application says about the txs of the block after its state (the ledger's
    ``LedgerTxsRule``). Pure: a function of the application state the node handed over."""

    def get_invalidity(self, txs: Sequence[bytes], height: int, time_ms: int) -> str | None:
        """Why a block at ``height`` and ``time_ms`` may not hold ``txs`` (None if it may)."""
        ...

    def select(self, txs: Sequence[bytes], height: int, time_ms: int) -> tuple[bytes, ...]:
        """The txs of ``txs``, in order, that such a block may hold."""
        ...


EvidenceCheck = Callable[[DuplicateVoteEvidence, int], "str | None"]
"""``(evidence, block_height) -> reason it may not be included, or None``."""


def get_block_invalidity(
    block: Block, tip: ChainTip, params: ConsensusParams, check_evidence: EvidenceCheck
) -> str | None:
    """Why ``block`` may not be the block after ``tip`` (None if it may)."""
    try:
        validate_block_shape(block, params)
    except InvalidBlock as exc:
        return str(exc)
    header = block.header
    vset = tip.validator_sets[tip.height + 1]
    reason = _get_header_mismatch(header, tip, vset)
    if reason is not None:
        return reason
    if header.last_commit is not None:
        try:
            verify_certificate(
                header.last_commit,
                tip.last_block_hash,
                tip.height,
                tip.validator_sets[tip.height],
                tip.chain_id,
            )
        except CertificateError as exc:
            return f"last_commit: {exc}"
    for evidence in block.evidence:
        reason = check_evidence(evidence, header.height)
        if reason is not None:
            return f"evidence: {reason}"
    return None


def _get_header_mismatch(header: Header, tip: ChainTip, vset: ValidatorSet) -> str | None:
    checks = (
        (header.chain_id == tip.chain_id, "wrong chain_id"),
        (header.height == tip.height + 1, "wrong height"),
        (header.parent_hash == tip.last_block_hash, "wrong parent_hash"),
        (header.app_hash == tip.app_hash, "wrong app_hash"),
        (header.last_results_hash == tip.last_results_hash, "wrong last_results_hash"),
        (header.validators_hash == vset.compute_hash(), "wrong validators_hash"),
        (vset.contains(header.proposer), "proposer is not a validator"),
        (header.time_ms > tip.last_block_time_ms, "time_ms not after the parent's"),
    )
    for ok, reason in checks:
        if not ok:
            return reason
    return None


TX_OVERHEAD_BYTES = 5
"""msgpack bin header of one tx (at most 5 bytes for bin32)."""


def build_block(
    tip: ChainTip,
    params: ConsensusParams,
    validator_set: ValidatorSet,
    proposer: PublicKey,
    now_ms: TimestampMs,
    txs: tuple[bytes, ...],
    evidence: tuple[DuplicateVoteEvidence, ...],
) -> Block:
    """The proposer's block: the waiting txs in order, as many as the params allow."""
    evidence = evidence[: params.evidence_max]

    def make(chosen: tuple[bytes, ...]) -> Block:
        return make_block(
            chain_id=tip.chain_id,
            height=Height(tip.height + 1),
            time_ms=TimestampMs(max(now_ms, tip.last_block_time_ms + 1)),
            proposer=proposer,
            parent_hash=tip.last_block_hash,
            last_commit=tip.last_commit,
            app_hash=tip.app_hash,
            validators_hash=validator_set.compute_hash(),
            txs=chosen,
            evidence=evidence,
            last_results_hash=tip.last_results_hash,
        )

    budget = params.block_bytes_max - len(make(()).encode()) - 8
    chosen: list[bytes] = []
    for tx in txs:
        if len(chosen) >= params.block_txs_max:
            break
        cost = len(tx) + TX_OVERHEAD_BYTES
        if cost > budget:
            continue  # a big tx may not fit while smaller ones after it still do
        chosen.append(tx)
        budget -= cost
    block = make(tuple(chosen))
    while len(block.encode()) > params.block_bytes_max and chosen:  # estimate was off
        chosen.pop()
        block = make(tuple(chosen))
    return block

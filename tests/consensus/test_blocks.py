"""Blocks: the hash covers every header field and (through roots) the txs and evidence; shape
checks; the proposer's block builder respects the bounds."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from consensus import codec
from consensus.blocks import (
    EMPTY_RESULTS_HASH,
    Block,
    ChainTip,
    Header,
    InvalidBlock,
    build_block,
    get_block_invalidity,
    validate_block_shape,
)
from consensus.crypto import sha256
from consensus.messages import DuplicateVoteEvidence
from consensus.params import ConsensusParams
from consensus.types import Hash32, Height
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    GENESIS_TIME_MS,
    PARAMS,
    VSET,
    block_at_1,
    genesis,
    prevote,
)


def tip() -> ChainTip:
    g = genesis()
    return ChainTip(
        chain_id=CHAIN,
        height=g.height,
        last_block_hash=g.last_block_hash,
        last_commit=None,
        last_block_time_ms=GENESIS_TIME_MS,
        app_hash=GENESIS_APP_HASH,
        validator_sets=g.validator_sets,
    )


def no_evidence(evidence: DuplicateVoteEvidence, height: int) -> str | None:
    return "no evidence expected"


def test_block_round_trip() -> None:
    block = block_at_1(txs=(b"a", b"b"))
    assert Block.decode(block.encode()) == block
    assert Block.decode(block.encode()).hash == block.hash


def test_hash_covers_every_header_field() -> None:
    header = block_at_1().header
    changes = {
        "chain_id": "other",
        "height": 2,
        "time_ms": 7,
        "proposer": b"\x01" * 32,
        "parent_hash": b"\x02" * 32,
        "txs_root": b"\x03" * 32,
        "app_hash": b"\x04" * 32,
        "validators_hash": b"\x05" * 32,
        "evidence_hash": b"\x06" * 32,
        "last_results_hash": b"\x07" * 32,
    }
    names = {f.name for f in fields(Header) if f.init} - {"last_commit"}
    assert names == set(changes)
    for name, value in changes.items():
        assert replace(header, **{name: value}).hash != header.hash  # type: ignore[arg-type]


def test_shape_checks() -> None:
    good = block_at_1(txs=(b"a",))
    validate_block_shape(good, PARAMS)
    with pytest.raises(InvalidBlock):
        validate_block_shape(Block(good.header, (b"b",)), PARAMS)  # txs_root mismatch
    e = DuplicateVoteEvidence.of(prevote(1, 0, None), prevote(1, 0, b"\x01" * 32))
    with pytest.raises(InvalidBlock):
        validate_block_shape(Block(good.header, good.txs, (e,)), PARAMS)  # evidence_hash
    with pytest.raises(InvalidBlock):
        validate_block_shape(block_at_1(txs=(b"a", b"b")), replace(PARAMS, block_txs_max=1))
    big = block_at_1(txs=(b"x" * 2_000,))
    with pytest.raises(InvalidBlock):
        validate_block_shape(big, replace(PARAMS, block_bytes_max=1_024))


def test_chain_rules() -> None:
    assert get_block_invalidity(block_at_1(), tip(), PARAMS, no_evidence) is None
    wrong = [
        block_at_1(app_hash=b"\x00" * 32),  # type: ignore[arg-type]
        block_at_1(time_ms=GENESIS_TIME_MS),
    ]
    for block in wrong:
        assert get_block_invalidity(block, tip(), PARAMS, no_evidence) is not None
    header = block_at_1().header
    for name, value in (("chain_id", "x"), ("parent_hash", b"\x01" * 32), ("height", 2)):
        changed = Block(replace(header, **{name: value}), ())  # type: ignore[arg-type]
        assert get_block_invalidity(changed, tip(), PARAMS, no_evidence) is not None


def test_the_next_header_must_carry_the_parent_results_hash() -> None:
    results = Hash32(b"\x09" * 32)
    with_results = replace(tip(), last_results_hash=results)
    proposer = VSET.validators[0].public_key
    block = build_block(with_results, PARAMS, VSET, proposer, GENESIS_TIME_MS, (), ())
    assert block.header.last_results_hash == results
    assert get_block_invalidity(block, with_results, PARAMS, no_evidence) is None
    reason = get_block_invalidity(block_at_1(), with_results, PARAMS, no_evidence)
    assert reason == "wrong last_results_hash"
    assert block_at_1().header.last_results_hash == EMPTY_RESULTS_HASH == sha256(b"")


def test_build_block_respects_count_and_bytes() -> None:
    txs = tuple(bytes([i]) * 300 for i in range(50))
    proposer = VSET.validators[0].public_key
    params = replace(PARAMS, block_txs_max=10)
    block = build_block(tip(), params, VSET, proposer, GENESIS_TIME_MS, txs, ())
    assert block.txs == txs[:10]
    assert get_block_invalidity(block, tip(), params, no_evidence) is None
    small = replace(PARAMS, block_bytes_max=4_000)
    block = build_block(tip(), small, VSET, proposer, GENESIS_TIME_MS, txs, ())
    assert 0 < len(block.txs) < 13 and len(block.encode()) <= 4_000
    assert block.txs == txs[: len(block.txs)]
    assert block.header.time_ms == GENESIS_TIME_MS + 1  # always after the parent
    assert block.height == Height(1)


def test_build_block_skips_a_tx_that_cannot_fit() -> None:
    proposer = VSET.validators[0].public_key
    params = replace(PARAMS, block_bytes_max=2_000)
    txs = (b"a", b"x" * 5_000, b"b")
    block = build_block(tip(), params, VSET, proposer, 5_000, txs, ())  # type: ignore[arg-type]
    assert block.txs == (b"a", b"b")


def test_decoding_rejects_bad_blocks() -> None:
    wire = block_at_1().to_wire()
    with pytest.raises(codec.CodecError):
        Block.from_wire([wire[0], [1], []])  # a tx that is not bytes
    with pytest.raises(codec.CodecError):
        Block.from_wire(wire[:2])


def test_params_defaults_are_valid() -> None:
    ConsensusParams()

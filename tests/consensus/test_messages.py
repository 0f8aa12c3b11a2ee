"""Message wire forms: round trips, strict decoding (CodecError only), signatures."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.messages import Vote, VoteType
from consensus.params import ConsensusParams
from consensus.types import ChainId
from consensus.wire import MessageTag, decode_message, encode_message
from tests.consensus.replica_fixtures import CHAIN, block_at_1, precommit, prevote, proposal


def messages() -> list[object]:
    block = block_at_1(txs=(b"a", b"bb"))
    return [
        prevote(1, 0, None),
        precommit(2, 3, block.hash),
        proposal(block),
        proposal(block, round_=2, pol_round=1),
    ]


@pytest.mark.parametrize("message", messages())
def test_round_trip(message: object) -> None:
    data = encode_message(message)  # type: ignore[arg-type]
    assert decode_message(data) == message
    assert encode_message(decode_message(data)) == data


def test_signatures_cover_every_signed_field() -> None:
    v = prevote(1, 0, None)
    assert v.is_signature_valid(CHAIN)
    assert not v.is_signature_valid(ChainId("other"))
    for changed in (
        replace(v, round=1),
        replace(v, height=2),
        replace(v, block_hash=b"\x01" * 32),
        replace(v, type=VoteType.PRECOMMIT),
    ):
        assert not changed.is_signature_valid(CHAIN)
    p = proposal(block_at_1())
    assert p.is_signature_valid(CHAIN)
    assert not replace(p, pol_round=0, round=1).is_signature_valid(CHAIN)
    assert not replace(p, block=block_at_1(txs=(b"x",))).is_signature_valid(CHAIN)


@given(st.binary(max_size=300))
def test_garbage_raises_only_codec_error(data: bytes) -> None:
    with contextlib.suppress(codec.CodecError):
        decode_message(data)


@given(st.data())
def test_mutated_messages_raise_only_codec_error(data: st.DataObject) -> None:
    original = encode_message(data.draw(st.sampled_from(messages())))  # type: ignore[arg-type]
    index = data.draw(st.integers(0, len(original) - 1))
    byte = data.draw(st.integers(0, 255))
    mutated = original[:index] + bytes([byte]) + original[index + 1 :]
    with contextlib.suppress(codec.CodecError):
        decode_message(mutated)


@pytest.mark.parametrize(
    "wire",
    [
        [9, []],
        [int(MessageTag.VOTE), [3, 1, 0, None, 0, b"\x00" * 32, b"\x00" * 64]],  # vote type 3
        [int(MessageTag.VOTE), [1, 0, 0, None, 0, b"\x00" * 32, b"\x00" * 64]],  # height 0
        [int(MessageTag.VOTE), [1, 1, -1, None, 0, b"\x00" * 32, b"\x00" * 64]],  # round -1
        [int(MessageTag.VOTE), [1, 1, 0, b"\x00", 0, b"\x00" * 32, b"\x00" * 64]],  # short hash
        [int(MessageTag.VOTE), [1, 1, 0, None, 0, b"\x00" * 32]],  # missing field
    ],
)
def test_malformed_fields_are_rejected(wire: list[object]) -> None:
    with pytest.raises(codec.CodecError):
        decode_message(codec.encode(wire))


def test_oversized_input_is_rejected() -> None:
    with pytest.raises(codec.CodecError):
        decode_message(encode_message(prevote(1, 0, None)), max_bytes=10)


def test_vote_wire_is_positional() -> None:
    v = prevote(1, 0, None)
    assert Vote.from_wire(v.to_wire()) == v
    assert v.to_wire()[0] == int(VoteType.PREVOTE)


def test_params_round_trip_and_bounds() -> None:
    p = ConsensusParams(create_empty_blocks=False, empty_block_interval_ms=5_000)
    assert ConsensusParams.from_wire(codec.decode(codec.encode(p.to_wire()))) == p
    with pytest.raises(codec.CodecError):
        ConsensusParams.from_wire([*p.to_wire()[:6], 0, *p.to_wire()[7:]])  # block_txs_max 0
    with pytest.raises(ValueError):
        ConsensusParams(timeout_propose_ms=-1)

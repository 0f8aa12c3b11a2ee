"""Wire formats: every tx type, receipt and event round-trips to the same bytes; garbage and
mutated bytes raise only CodecError (and become a MALFORMED receipt inside a block)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.codec import CodecError
from consensus.ledger import Code, decode_tx, encode_receipts, execute_block
from consensus.ledger.codes import TX_BYTES_MAX
from consensus.ledger.events import (
    Receipt,
    decode_receipts,
    encode_each,
    event_from_wire,
    event_to_wire,
)
from consensus.ledger.txs import SignedTx, Transfer, TxType, UnsignedTx, verify_tx_signatures
from consensus.types import Signature

from . import strategies as S
from .world import GENESIS_TIME_MS, genesis_state


@given(S.signed_txs())
def test_signed_tx_round_trips_to_the_same_bytes(tx: SignedTx) -> None:
    raw = tx.encode()
    decoded = decode_tx(raw)
    assert decoded == tx
    assert decoded.encode() == raw
    assert raw == codec.encode(tx.to_wire())  # the fast path agrees with the canonical codec
    assert verify_tx_signatures(decoded)


@pytest.mark.parametrize("tx_type", list(TxType))
def test_every_tx_type_is_generated(tx_type: TxType) -> None:
    @given(S.unsigned_txs(S.BODY_STRATEGIES[tx_type]))
    def check(unsigned: UnsignedTx) -> None:
        assert unsigned.tx_type is tx_type
        raw = SignedTx(unsigned, ((S.SEEDS[0].public_key, Signature(b"\x00" * 64)),)).encode()
        assert decode_tx(raw).unsigned == unsigned

    check()


@given(S.signed_txs())
def test_the_sign_payload_is_the_canonical_encoding_of_the_unsigned_tx(tx: SignedTx) -> None:
    """The packer's shortcut in ``UnsignedTx.sign_payload`` gives the codec's bytes, so every
    node signs and verifies the same bytes as before it."""
    assert tx.unsigned.sign_payload() == codec.encode(tx.unsigned.to_wire())


@given(S.receipts)
def test_receipt_round_trips(receipt: Receipt) -> None:
    raw = receipt.encode()
    assert Receipt.decode(raw) == receipt
    assert Receipt.decode(raw).encode() == raw
    assert decode_receipts(encode_receipts([receipt, receipt])) == (receipt, receipt)
    # the packer's shortcut gives the canonical codec's bytes, field by field in declared order
    assert raw == codec.encode([int(receipt.code), receipt.log, [
        [int(event.TAG), *(getattr(event, f.name) for f in dataclasses.fields(event))]
        for event in receipt.events
    ]])  # fmt: skip
    assert encode_receipts([receipt, receipt]) == codec.encode([receipt.to_wire()] * 2)
    assert encode_each([receipt, receipt]) == [raw, raw]


@given(S.events)
def test_event_round_trips(event: object) -> None:
    wire = event_to_wire(event)  # type: ignore[arg-type]
    assert event_from_wire(codec.decode(codec.encode(wire))) == event


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_codec_error(data: bytes) -> None:
    try:
        tx = decode_tx(data)
    except CodecError:
        return
    assert tx.encode() == data


@given(S.signed_txs(), st.data())
def test_mutated_tx_bytes_raise_codec_error_or_decode_canonically(
    tx: SignedTx, data: st.DataObject
) -> None:
    mutated = S.mutate_bytes(tx.encode(), data, ("flip", "insert", "delete", "truncate"))
    try:
        decoded = decode_tx(mutated)
    except CodecError:
        return
    assert decoded.encode() == mutated


@given(st.lists(st.binary(max_size=80), min_size=1, max_size=5))
def test_garbage_in_a_block_gets_malformed_receipts(raws: list[bytes]) -> None:
    state = genesis_state()
    result = execute_block(state, raws, 1, GENESIS_TIME_MS + 1)
    assert len(result.receipts) == len(raws)
    assert all(r.code in (Code.MALFORMED,) for r in result.receipts)
    assert result.state.to_kv().keys() == state.to_kv().keys()


def test_oversized_and_non_canonical_txs_are_rejected() -> None:
    with pytest.raises(CodecError):
        decode_tx(b"\x00" * (TX_BYTES_MAX + 1))
    with pytest.raises(CodecError):
        decode_tx(bytearray(b"\x90"))  # type: ignore[arg-type]
    # a non-minimal integer spelling of the same value: msgpack uint16 for 5
    raw = codec.encode([1, 2])
    with pytest.raises(CodecError):
        decode_tx(raw)
    with pytest.raises(CodecError):
        decode_tx(b"\xcd\x00\x05")


def _base_wire() -> list[object]:
    from .world import TxFactory

    raw = TxFactory().raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 5))
    return codec.decode(raw)  # type: ignore[no-any-return]


def _edit(path: list[int], value: object) -> bytes:
    wire = _base_wire()
    target: object = wire
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return codec.encode(wire)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ([0, 6], "m" * 257),  # memo too long
        ([0, 3], 0),  # nonce must be >= 1
        ([0, 3], -1),
        ([0, 4], "has space"),  # idempotency key
        ([0, 4], "k" * 65),
        ([0, 4], ""),
        ([0, 2], "lowercase"),  # submitter
        ([0, 2], "BANKA/" + "x" * 60),  # account id too long
        ([0, 1], 99),  # unknown tx type
        ([0, 0], ""),  # chain id
        ([0, 5], [2, 5]),  # valid_until kind
        ([0, 7, 2], 0),  # amount 0
        ([0, 7, 2], 2**63),  # amount too large
        ([0, 7, 1], "BANKA:usd"),  # instrument id
        ([0, 7], ["BANKA/bob", "BANKA:USD"]),  # missing field
        ([1], []),  # no signatures
        ([1], [[b"\x01" * 32, b"\x02" * 64]] * 2),  # duplicate signer
        ([1], [[bytes([i]) * 32, b"\x02" * 64] for i in range(17)]),  # too many signatures
        ([1], [[b"\x02" * 32, b"\x02" * 64], [b"\x01" * 32, b"\x02" * 64]]),  # unsorted
        ([1, 0], [b"\x01" * 31, b"\x02" * 64]),  # short key
    ],
)
def test_bounds_and_shapes_are_enforced(path: list[int], value: object) -> None:
    with pytest.raises(CodecError):
        decode_tx(_edit(path, value))


def test_keysets_are_bounded_and_sorted() -> None:
    from consensus.ledger.txs import AccountOpen

    keys = [bytes([i]) * 32 for i in range(1, 18)]
    for bad_keys, threshold in [(keys, 1), (keys[:2][::-1], 1), (keys[:2], 3), ([], 1)]:
        with pytest.raises(CodecError):
            AccountOpen.from_wire(["BANKA/x", bad_keys, threshold, b"h" * 32, 1])
    assert AccountOpen.from_wire(["BANKA/x", keys[:16], 16, b"h" * 32, 1]).threshold == 16


def test_the_unedited_base_tx_decodes() -> None:
    assert decode_tx(codec.encode(_base_wire())).unsigned.submitter == "BANKA/alice"

"""The tx decoder against a plain reference: the same byte strings accepted, the same values.

``decode_tx`` is tuned for speed (objects built slot by slot, checks inlined, str methods for a
regex). The reference below is the straightforward reading of the format: constructors, the
``codec.expect_*`` helpers, regexes, ``msgpack.packb`` for the canonical check. Whatever the
input, both must accept with equal values (repr too: an enum stays an enum) or both refuse with
the same message. Bodies other than a transfer go through their own ``from_wire`` in both.
"""

from __future__ import annotations

import re
from typing import Any

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.codec import CodecError
from consensus.ledger import txs
from consensus.ledger.bodies import BODY_TYPES
from consensus.ledger.codes import AMOUNT_MAX, MEMO_LEN_MAX, SIGNATURES_MAX, TX_BYTES_MAX
from consensus.ledger.policies import TravelRecord
from consensus.ledger.records import (
    validate_account_id,
    validate_amount,
    validate_instrument_id,
)
from consensus.ledger.txs import (
    SignedTx,
    Transfer,
    TxType,
    UnsignedTx,
    ValidUntil,
    ValidUntilKind,
)
from consensus.types import CHAIN_ID_MAX_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN

from . import strategies as S

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,64}")


def ref_transfer(value: Any) -> Transfer:
    if type(value) is not list or len(value) not in (3, 4):
        raise CodecError("transfer: expected 3 fields, or 4 with a travel-rule record")
    travel = TravelRecord.from_wire(value[3]) if len(value) == 4 else None
    return Transfer(
        validate_account_id(value[0]),
        validate_instrument_id(value[1]),
        validate_amount(value[2]),
        travel,
    )


def ref_valid_until(value: Any) -> ValidUntil:
    if type(value) is not list or len(value) != 2:
        raise CodecError("valid_until: expected [kind, value]")
    kind, limit = value
    if type(kind) is not int or kind not in (0, 1):
        raise CodecError("valid_until.kind: 0 (height) or 1 (time_ms)")
    if type(limit) is not int or not 0 <= limit <= AMOUNT_MAX:
        raise CodecError("valid_until: expected an int in 0..2**63-1")
    return ValidUntil(ValidUntilKind(kind), limit)


def ref_unsigned(value: Any) -> UnsignedTx:
    if type(value) is not list or len(value) != 8:
        raise CodecError("tx: expected 8 fields")
    chain, kind, submitter, nonce, key, until, memo, body = value
    if type(chain) is not str or not 0 < len(chain) <= CHAIN_ID_MAX_LEN:
        raise CodecError("chain_id: expected a str of 1..50 chars")
    if type(kind) is not int or not 0 < kind <= len(TxType):
        raise CodecError("type: unknown transaction type")
    if type(nonce) is not int or not 0 < nonce <= AMOUNT_MAX:
        raise CodecError("nonce: expected an int in 1..2**63-1")
    if type(memo) is not str or len(memo) > MEMO_LEN_MAX:
        raise CodecError(f"memo: expected a str of <= {MEMO_LEN_MAX} chars")
    if type(key) is not str or not IDEMPOTENCY_KEY.fullmatch(key):
        raise CodecError("idempotency_key: 1..64 printable ASCII chars without spaces")
    read_body = ref_transfer if kind == TxType.TRANSFER else BODY_TYPES[TxType(kind)].from_wire
    return UnsignedTx(
        chain, txs.validate_submitter(submitter), nonce, key, ref_valid_until(until), memo,
        read_body(body),
    )  # fmt: skip


def ref_signature(value: Any) -> tuple[bytes, bytes]:
    if type(value) is not list or len(value) != 2:
        raise CodecError("signature: expected [public_key, signature]")
    key, signature = value
    if type(key) is not bytes or len(key) != PUBLIC_KEY_LEN:
        raise CodecError("signature: public key must be 32 bytes")
    if type(signature) is not bytes or len(signature) != SIGNATURE_LEN:
        raise CodecError("signature: signature must be 64 bytes")
    return key, signature


def ref_decode(raw: bytes) -> SignedTx:
    if not 0 < len(raw) <= TX_BYTES_MAX:
        raise CodecError(f"tx size {len(raw)} outside 1..{TX_BYTES_MAX}")
    value = codec.unpack(raw, TX_BYTES_MAX)
    if type(value) is not list or len(value) != 2:
        raise CodecError("signed_tx: expected [unsigned, signatures]")
    unsigned, signatures = value
    if type(signatures) is not list or not 0 < len(signatures) <= SIGNATURES_MAX:
        raise CodecError(f"signatures: 1..{SIGNATURES_MAX} expected")
    pairs = tuple(ref_signature(item) for item in signatures)
    codec.sorted_unique([key for key, _ in pairs], "signatures")
    tx = SignedTx(ref_unsigned(unsigned), pairs)  # type: ignore[arg-type]
    if msgpack.packb(value, use_bin_type=True) != raw:
        raise CodecError("non-canonical tx encoding")
    return tx


def outcome(decode: Any, raw: bytes) -> tuple[str, Any]:
    try:
        tx = decode(raw)
    except CodecError as error:
        return "refused", str(error)
    return "decoded", (tx, repr(tx), hash(tx))


def assert_same(raw: bytes) -> None:
    txs._DECODED.clear()
    assert outcome(txs.decode_tx, raw) == outcome(ref_decode, raw)


@given(S.signed_txs(), st.data())
def test_mutated_tx_bytes_get_the_reference_verdict(tx: SignedTx, data: st.DataObject) -> None:
    assert_same(tx.encode())
    assert_same(S.mutate_bytes(tx.encode(), data))


IDS = st.from_regex(
    r"[A-Za-z0-9_]{0,3}[A-Z][A-Z0-9_]{0,6}[/:][A-Za-z0-9_.\- ]{0,8}", fullmatch=True
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, 1, 2, AMOUNT_MAX, AMOUNT_MAX + 1, len(TxType), len(TxType) + 1]),
    st.text(max_size=70),
    st.text(st.characters(max_codepoint=0x80), min_size=1, max_size=66),
    IDS,
    st.sampled_from(["BANKA/alice", "BANKB:USD", "CB", "CB:USD", "B" * 32 + "/x", "A/" + "b" * 48]),
    st.binary(max_size=70),
    st.sampled_from([b"\x01" * 32, b"\x02" * 64]),
)
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=5), max_leaves=8)


def _paths(value: Any, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Every position inside ``value`` (a nested list), leaves first."""
    if type(value) is not list:
        return [path]
    inner = [found for index, item in enumerate(value) for found in _paths(item, (*path, index))]
    return [*inner, path] if path else inner


@given(S.signed_txs(), st.data())
def test_edited_wire_values_get_the_reference_verdict(tx: SignedTx, data: st.DataObject) -> None:
    wire = tx.to_wire()
    for _ in range(data.draw(st.integers(1, 2))):
        paths = _paths(wire)
        path = data.draw(st.sampled_from(paths[: data.draw(st.sampled_from([-1, len(paths)]))]))
        target = wire
        for step in path[:-1]:
            target = target[step]
        if data.draw(st.integers(0, 9)):
            target[path[-1]] = data.draw(VALUES)
        else:
            del target[path[-1]]
    assert_same(msgpack.packb(wire, use_bin_type=True))


TRAVEL = st.one_of(VALUES, st.sampled_from([[b"\x03" * 32, "SALA"], [b"\x03" * 32, "SAL A"]]))


@given(S.signed_txs(), st.data())
def test_transfers_with_edited_fields_get_the_reference_verdict(
    tx: SignedTx, data: st.DataObject
) -> None:
    fields: list[Any] = ["BANKB/bob", "BANKA:USD", 3]  # the hot body, edited
    for _ in range(data.draw(st.integers(0, 2))):
        fields[data.draw(st.integers(0, 2))] = data.draw(VALUES)
    if data.draw(st.booleans()):
        fields.append(data.draw(TRAVEL))
    wire = tx.to_wire()
    wire[0][1], wire[0][7] = int(TxType.TRANSFER), fields
    assert_same(msgpack.packb(wire, use_bin_type=True))


def test_the_idempotency_key_check_accepts_exactly_the_regex() -> None:
    # Per character: every code point alone, then the length bounds around one valid char.
    for point in range(0x110000):
        char = chr(point)
        try:
            txs.validate_idempotency_key(char)
            accepted = True
        except CodecError:
            accepted = False
        assert accepted == bool(IDEMPOTENCY_KEY.fullmatch(char)), hex(point)
    for length in (0, 1, 63, 64, 65):
        key = "k" * length
        try:
            assert txs.validate_idempotency_key(key) == key and 0 < length <= 64
        except CodecError:
            assert not 0 < length <= 64


def test_the_inlined_idempotency_key_check_in_decoding_agrees() -> None:
    tx = _TRANSFER_TX.to_wire()
    points = [*range(0x100), *range(0x100, 0x110000, 251), 0x2028, 0x3000, 0xFEFF, 0x10FFFF]
    for point in points:
        if 0xD800 <= point <= 0xDFFF:  # a lone surrogate has no UTF-8 encoding at all
            continue
        for key in (chr(point), "k" + chr(point), chr(point) * 64):
            tx[0][4] = key
            assert_same(msgpack.packb(tx, use_bin_type=True))


_TRANSFER_TX = SignedTx(
    UnsignedTx(
        "depochain-test", "BANKA/alice", 1, "k", ValidUntil(ValidUntilKind.HEIGHT, 9), "",
        Transfer("BANKB/bob", "BANKA:USD", 3),
    ),  # type: ignore[arg-type]
    ((b"\x01" * 32, b"\x02" * 64),),  # type: ignore[arg-type]
)  # fmt: skip

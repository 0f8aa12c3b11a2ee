"""A tx batch frame is decoded with a cheaper canonical check than the codec's generic one: it
must accept exactly the frames the codec accepts (one spelling per frame), and give the same
transactions."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from node.gossip import Channel, TxBatch, decode_gossip, encode_gossip

# Spellings of the same value: the first of each is the canonical (shortest) one.
LIST_HEADERS = ("fix", "array16", "array32")
INT_FORMS = ("fix", "uint8", "uint16", "uint32")
TX_FORMS = ("bin8", "bin16", "bin32", "str8")


def _list_header(count: int, form: str) -> bytes:
    if form == "fix":
        assert count < 16
        return bytes([0x90 | count])
    return (
        b"\xdc" + struct.pack(">H", count)
        if form == "array16"
        else b"\xdd" + struct.pack(">I", count)
    )


def _int(value: int, form: str) -> bytes:
    formats = {"fix": b"", "uint8": b"\xcc", "uint16": b"\xcd", "uint32": b"\xce"}
    size = {"fix": None, "uint8": ">B", "uint16": ">H", "uint32": ">I"}[form]
    return bytes([value]) if size is None else formats[form] + struct.pack(size, value)


def _tx(raw: bytes, form: str) -> bytes:
    head = {"bin8": b"\xc4", "bin16": b"\xc5", "bin32": b"\xc6", "str8": b"\xd9"}[form]
    size = {"bin8": ">B", "bin16": ">H", "bin32": ">I", "str8": ">B"}[form]
    return head + struct.pack(size, len(raw)) + raw


@st.composite
def tx_batch_spellings(draw: st.DrawFn) -> tuple[bytes, list[bytes], bool]:
    """A frame spelling a tx batch, its txs, and whether the spelling is the canonical one."""
    txs = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=20))
    outer, inner = draw(st.sampled_from(LIST_HEADERS)), draw(st.sampled_from(LIST_HEADERS))
    if len(txs) >= 16 and inner == "fix":
        inner = "array16"
    channel = draw(st.sampled_from(INT_FORMS))
    forms = [draw(st.sampled_from(TX_FORMS[:1] * 3 + TX_FORMS)) for _ in txs]
    frame = _list_header(2, outer) + _int(int(Channel.TXS), channel)
    frame += _list_header(len(txs), inner) + b"".join(
        _tx(t, f) for t, f in zip(txs, forms, strict=True)
    )
    canonical_inner = "fix" if len(txs) < 16 else "array16"
    is_canonical = (outer, channel, inner) == ("fix", "fix", canonical_inner) and all(
        f == "bin8" for f in forms
    )
    return frame, txs, is_canonical


def _codec_accepts(frame: bytes) -> bool:
    try:
        codec.decode(frame)
    except codec.CodecError:
        return False
    return True


@given(tx_batch_spellings())
def test_a_tx_batch_frame_is_accepted_exactly_when_it_is_canonical(
    spelling: tuple[bytes, list[bytes], bool],
) -> None:
    frame, txs, is_canonical = spelling
    assert _codec_accepts(frame) == is_canonical  # the generator's idea of canonical is right
    if is_canonical:
        assert decode_gossip(frame) == TxBatch(tuple(txs))
        assert encode_gossip(TxBatch(tuple(txs))) == frame
    else:
        with pytest.raises(codec.CodecError):
            decode_gossip(frame)


@given(st.lists(st.binary(max_size=300), max_size=50))
def test_tx_batches_round_trip(txs: list[bytes]) -> None:
    assert decode_gossip(encode_gossip(TxBatch(tuple(txs)))) == TxBatch(tuple(txs))


@pytest.mark.parametrize(
    "frame",
    [
        codec.encode([2, [b"a", "str"]]),  # canonical, but a tx that is not bytes
        codec.encode([2, [b"a", [b"nested"]]]),
        codec.encode([2, [b"a"], b"extra"]),
        codec.encode([2, b"not a list"]),
        codec.encode([2, [b"a"]]) + b"\x00",  # trailing bytes
        b"\x92\x02\x91\xcb" + struct.pack(">d", 1.0),  # a float where a tx goes
    ],
)
def test_malformed_tx_batches_are_refused(frame: bytes) -> None:
    with pytest.raises(codec.CodecError):
        decode_gossip(frame)

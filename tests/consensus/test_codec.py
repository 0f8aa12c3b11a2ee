"""Canonical msgpack: round trips, strictness, and garbage never escaping as another error."""

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import codec
from consensus.codec import CodecError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=codec.INT_MIN, max_value=codec.INT_MAX)
    | st.binary(max_size=64)
    | st.text(max_size=32)
)
keys = st.text(max_size=8) | st.integers(min_value=-1000, max_value=1000) | st.binary(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=30,
)


@given(values)
def test_round_trip_is_identity_and_bytes_are_stable(value: object) -> None:
    data = codec.encode(value)
    decoded = codec.decode(data)
    assert decoded == value
    assert codec.encode(decoded) == data


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_codec_error(data: bytes) -> None:
    try:
        value = codec.decode(data)
    except CodecError:
        return
    assert codec.encode(value) == data


@given(values, st.data())
def test_mutated_encodings_raise_only_codec_error(value: object, data: st.DataObject) -> None:
    encoded = bytearray(codec.encode(value))
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=1, max_value=len(encoded)))
    try:
        again = codec.decode(bytes(encoded[:cut]))
    except CodecError:
        return
    assert codec.encode(again) == bytes(encoded[:cut])


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("non-minimal uint8 for 1", b"\xcc\x01"),
        ("non-minimal uint16", b"\xcd\x00\x05"),
        ("non-minimal int64", b"\xd3\x00\x00\x00\x00\x00\x00\x00\x01"),
        ("non-minimal str8 length", b"\xd9\x01a"),
        ("non-minimal array16", b"\xdc\x00\x01\x01"),
        ("unsorted map keys", b"\x82\xa1b\x01\xa1a\x02"),
        ("duplicate map keys", b"\x82\xa1a\x01\xa1a\x02"),
        ("float32", b"\xca\x00\x00\x00\x00"),
        ("float64", b"\xcb" + b"\x00" * 8),
        ("ext type", b"\xd4\x01\x00"),
        ("timestamp ext", b"\xd6\xff\x00\x00\x00\x00"),
        ("trailing bytes", b"\x01\x02"),
        ("truncated", b"\x92\x01"),
        ("empty", b""),
        ("invalid utf-8", b"\xa2\xff\xfe"),
        ("unhashable key", b"\x81\x90\x01"),
        ("nil map key", b"\x81\xc0\x01"),
        ("raw str as bytes key", b"\x81\xc3\x01"),
        ("reserved byte", b"\xc1"),
    ],
)
def test_non_canonical_or_malformed_is_rejected(label: str, data: bytes) -> None:
    with pytest.raises(CodecError):
        codec.decode(data)


def test_depth_and_size_bounds() -> None:
    deep: object = 1
    for _ in range(codec.DEPTH_MAX + 1):
        deep = [deep]
    with pytest.raises(CodecError):
        codec.encode(deep)
    with pytest.raises(CodecError):
        codec.decode(msgpack.packb(deep))
    with pytest.raises(CodecError):
        codec.decode(codec.encode(b"x" * 100), max_bytes=50)
    with pytest.raises(CodecError):
        codec.decode(b"\xdd\xff\xff\xff\xff")  # claims 4 billion items


@pytest.mark.parametrize("bad", [1.5, {1.0: 2}, {(1,): 2}, object(), 2**64, -(2**63) - 1])
def test_values_outside_the_space_do_not_encode(bad: object) -> None:
    with pytest.raises(CodecError):
        codec.encode(bad)


def test_map_keys_sort_by_encoded_bytes_regardless_of_insertion() -> None:
    assert codec.encode({"b": 1, "a": 2}) == codec.encode({"a": 2, "b": 1})
    assert codec.encode({"b": 1, "a": 2}) == b"\x82\xa1a\x02\xa1b\x01"


def test_expect_helpers_reject_wrong_types() -> None:
    with pytest.raises(CodecError):
        codec.expect_int(True, "flag-as-int")
    with pytest.raises(CodecError):
        codec.expect_bytes(b"12", "h", length=32)
    with pytest.raises(CodecError):
        codec.expect_fields([1, 2], "rec", 3)
    with pytest.raises(CodecError):
        codec.sorted_unique([2, 1], "set")
    assert codec.expect_uint(5, "n") == 5

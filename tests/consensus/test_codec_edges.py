"""The canonical codec at its exact bounds, and the error each refusal gives.

Every bound is inclusive on the accepted side: the largest accepted value encodes and decodes,
the next one is refused with a CodecError that says why (decoders pass the text on to peers'
logs and RPC clients). Complements test_codec.py (round trips and strictness in general).
"""

from __future__ import annotations

import msgpack
import pytest

from consensus import codec
from consensus.codec import CodecError


def refusal(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(CodecError) as error:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(error.value)


def nested(depth: int, inner: object = 1) -> object:
    value = inner
    for _ in range(depth):
        value = [value]
    return value


# -- encode -----------------------------------------------------------------------------------


def test_nesting_is_accepted_up_to_the_limit() -> None:
    deepest = nested(codec.DEPTH_MAX)
    assert codec.decode(codec.encode(deepest)) == deepest
    assert refusal(codec.encode, nested(codec.DEPTH_MAX + 1)) == "nesting deeper than 16"


def test_a_map_at_the_last_level_but_one_holds_scalars() -> None:
    # keys and values of a map sit one level below it
    value = nested(codec.DEPTH_MAX - 1, {"k": 1, b"b": 2})
    assert codec.decode(codec.encode(value)) == value
    assert refusal(codec.encode, nested(codec.DEPTH_MAX, {"k": 1})) == "nesting deeper than 16"
    # a map's value is one level below the map, and its items one more
    inner_list = nested(codec.DEPTH_MAX - 2, {"k": [1]})
    assert codec.decode(codec.encode(inner_list)) == inner_list
    too_deep = nested(codec.DEPTH_MAX - 1, {"k": [1]})
    assert refusal(codec.encode, too_deep) == "nesting deeper than 16"


def test_integers_at_the_limits() -> None:
    for edge in (codec.INT_MIN, codec.INT_MAX):
        assert codec.decode(codec.encode(edge)) == edge
    assert refusal(codec.encode, codec.INT_MAX + 1) == f"integer out of range: {codec.INT_MAX + 1}"
    assert refusal(codec.encode, codec.INT_MIN - 1) == f"integer out of range: {codec.INT_MIN - 1}"


def test_containers_at_the_length_limit() -> None:
    longest = [0] * codec.CONTAINER_LEN_MAX
    assert codec.decode(codec.encode(longest)) == longest
    assert refusal(codec.encode, [0] * (codec.CONTAINER_LEN_MAX + 1)) == "list too long"
    widest = {i: 0 for i in range(codec.CONTAINER_LEN_MAX)}
    assert codec.decode(codec.encode(widest)) == widest
    wider = {i: 0 for i in range(codec.CONTAINER_LEN_MAX + 1)}
    assert refusal(codec.encode, wider) == "map too long"


def test_values_outside_the_space_are_named() -> None:
    assert refusal(codec.encode, 1.5) == "type not encodable: float"
    assert refusal(codec.encode, {1.5: 0}) == "map key type not allowed: float"
    assert refusal(codec.encode, {None: 0}) == "map key type not allowed: NoneType"


def test_map_keys_sort_by_their_encoding_across_types() -> None:
    # "b" encodes as a1 62, b"a" as c4 01 61: the str key sorts first although b"a" < b"b"
    assert codec.encode({b"a": 2, "b": 1}) == bytes.fromhex("82a16201c4016102")
    assert codec.encode({1: 0, "a": 0, b"a": 0}) == bytes.fromhex("830100a16100c4016100")


# -- decode -----------------------------------------------------------------------------------


def test_decode_takes_bytes_like_input_only() -> None:
    data = codec.encode([1, "x"])
    assert codec.decode(bytearray(data)) == [1, "x"]
    assert codec.decode(memoryview(data)) == [1, "x"]
    assert refusal(codec.decode, "text") == "expected bytes, got str"


def test_decode_size_bound_is_inclusive() -> None:
    data = codec.encode(b"x" * 100)
    assert codec.decode(data, max_bytes=len(data)) == b"x" * 100
    assert refusal(codec.decode, data, max_bytes=len(data) - 1) == (
        f"input of {len(data)} bytes exceeds {len(data) - 1}"
    )
    assert refusal(codec.decode, b"") == "empty input"


@pytest.mark.parametrize(
    "data,message",
    [
        (b"\xcd\x00\x05", "non-canonical encoding"),
        (b"\x82\xa1b\x01\xa1a\x02", "non-canonical encoding"),
        (b"\x01\x02", "trailing bytes after value"),
        (b"\xc7\x00\x05", "extension type 5 not allowed"),
    ],
)
def test_decode_refusals_say_why(data: bytes, message: str) -> None:
    assert refusal(codec.decode, data) == message


def test_malformed_input_names_what_msgpack_found() -> None:
    for data in (b"\x92\x01", b"\xa2\xff\xfe", b"\xc1"):
        message = refusal(codec.decode, data)
        kind = message.removeprefix("malformed msgpack: ")
        assert kind != message and kind in {"ValueError", "UnicodeDecodeError", "FormatError"}


def test_an_extension_with_a_payload_is_refused_by_the_parser() -> None:
    # max_ext_len=0: the parser refuses any ext payload before it is buffered; only an empty
    # one reaches the hook (tested above)
    for data in (b"\xd4\x01\x00", b"\xc7\x01\x05\x00"):
        assert refusal(codec.decode, data).startswith("malformed msgpack: ")


def test_unpack_bounds_every_item_length() -> None:
    data = msgpack.packb(["abcd", b"wxyz", [1, 2, 3, 4], {"k": 1}])
    assert codec.unpack(data, item_len_max=4) == ["abcd", b"wxyz", [1, 2, 3, 4], {"k": 1}]
    for too_long in ("abcde", b"vwxyz", [1, 2, 3, 4, 5], {str(i): i for i in range(5)}):
        with pytest.raises(CodecError):
            codec.unpack(msgpack.packb(too_long), item_len_max=4)
    assert codec.unpack(msgpack.packb("a" * 10)) == "a" * 10


def test_unpack_default_bounds_are_the_module_bounds() -> None:
    longest = "s" * codec.STR_BYTES_MAX
    assert codec.unpack(msgpack.packb(longest)) == longest
    with pytest.raises(CodecError):
        codec.unpack(msgpack.packb(longest + "s"))
    biggest = b"b" * codec.BIN_BYTES_MAX
    assert codec.unpack(msgpack.packb(biggest)) == biggest
    with pytest.raises(CodecError):
        codec.unpack(msgpack.packb(biggest + b"b"))
    with pytest.raises(CodecError):
        codec.unpack(msgpack.packb([0] * (codec.CONTAINER_LEN_MAX + 1)))
    with pytest.raises(CodecError):
        codec.unpack(msgpack.packb({i: 0 for i in range(codec.CONTAINER_LEN_MAX + 1)}))


# -- typed field readers ------------------------------------------------------------------------


def test_expect_int_bounds_are_inclusive_and_named() -> None:
    assert codec.expect_int(3, "n", 3, 5) == 3
    assert codec.expect_int(5, "n", 3, 5) == 5
    assert refusal(codec.expect_int, 6, "n", 3, 5) == "n: 6 outside [3, 5]"
    assert refusal(codec.expect_int, 2, "n", 3, 5) == "n: 2 outside [3, 5]"
    assert refusal(codec.expect_int, True, "flag") == "flag: expected int, got bool"
    assert codec.expect_uint(codec.INT_MAX, "u") == codec.INT_MAX
    assert refusal(codec.expect_uint, -1, "u") == f"u: -1 outside [0, {codec.INT_MAX}]"
    assert refusal(codec.expect_uint, 8, "u", 7) == "u: 8 outside [0, 7]"


def test_expect_bool() -> None:
    assert codec.expect_bool(False, "b") is False
    assert refusal(codec.expect_bool, 0, "b") == "b: expected bool, got int"


def test_expect_bytes_length_and_bound() -> None:
    assert codec.expect_bytes(b"ab", "h", 2) == b"ab"
    assert refusal(codec.expect_bytes, b"abc", "h", 2) == "h: expected 2 bytes, got 3"
    assert codec.expect_bytes(b"abc", "h", max_len=3) == b"abc"
    assert refusal(codec.expect_bytes, b"abcd", "h", max_len=3) == "h: 4 bytes exceeds 3"
    assert refusal(codec.expect_bytes, "ab", "h") == "h: expected bytes, got str"
    big = b"x" * codec.BIN_BYTES_MAX
    assert codec.expect_bytes(big, "h") is big
    assert refusal(codec.expect_bytes, big + b"x", "h") == (
        f"h: {codec.BIN_BYTES_MAX + 1} bytes exceeds {codec.BIN_BYTES_MAX}"
    )


def test_expect_str_length_bounds_are_inclusive() -> None:
    assert codec.expect_str("x" * 256, "s") == "x" * 256
    assert refusal(codec.expect_str, "x" * 257, "s") == "s: length 257 outside [0, 256]"
    assert codec.expect_str("", "s") == ""
    assert codec.expect_str("ab", "s", max_len=2, min_len=2) == "ab"
    assert refusal(codec.expect_str, "a", "s", 4, 2) == "s: length 1 outside [2, 4]"
    assert refusal(codec.expect_str, b"a", "s") == "s: expected str, got bytes"


def test_expect_list_and_fields() -> None:
    assert codec.expect_list([1, 2], "l", 2) == [1, 2]
    assert refusal(codec.expect_list, [1, 2, 3], "l", 2) == "l: 3 items exceeds 2"
    assert refusal(codec.expect_list, (1,), "l") == "l: expected list, got tuple"
    items = [0] * codec.CONTAINER_LEN_MAX
    assert codec.expect_list(items, "l") is items
    assert refusal(codec.expect_list, [*items, 0], "l") == (
        f"l: {codec.CONTAINER_LEN_MAX + 1} items exceeds {codec.CONTAINER_LEN_MAX}"
    )
    assert codec.expect_fields([1, 2, 3], "rec", 3) == [1, 2, 3]
    assert refusal(codec.expect_fields, [1, 2], "rec", 3) == "rec: expected 3 fields, got 2"
    assert refusal(codec.expect_fields, [1, 2, 3, 4], "rec", 3) == "rec: 4 items exceeds 3"


def test_expect_optional_and_list_of() -> None:
    assert codec.expect_optional(None, lambda v: codec.expect_int(v, "n")) is None
    assert codec.expect_optional(0, lambda v: codec.expect_int(v, "n")) == 0
    read = lambda v: codec.expect_int(v, "n")  # noqa: E731
    assert codec.expect_list_of([1, 2], "l", read) == (1, 2)
    assert codec.expect_list_of([1, 2], "l", read, max_len=2) == (1, 2)
    assert refusal(codec.expect_list_of, [1, 2, 3], "l", read, 2) == "l: 3 items exceeds 2"


def test_sorted_unique_needs_strictly_increasing_items() -> None:
    codec.sorted_unique([1, 2, 3], "set")
    codec.sorted_unique([], "set")
    assert refusal(codec.sorted_unique, [1, 1], "set") == "set: items must be sorted and unique"
    assert refusal(codec.sorted_unique, [2, 1], "set") == "set: items must be sorted and unique"

"""Canonical msgpack: the one byte encoding for everything that is hashed, signed or stored.

Two honest nodes must produce the same bytes for the same value, and a node must never accept two
different byte strings as the same value (that would give one transaction two hashes). So:

* the value space is small: ``None``, ``bool``, ``int`` (-2**63 .. 2**64-1), ``bytes``, ``str``,
  ``list`` (tuples encode as lists) and ``dict`` with ``str``/``int``/``bytes`` keys. No floats, no
  extension types;
* encoding is minimal (msgpack's packer always picks the shortest form) and map keys are sorted
  by their encoded bytes;
* decoding is strict: after decoding, the value is re-encoded and must give back the very same
  bytes. That one check rejects non-minimal integers and lengths, unsorted or duplicate keys,
  and any other second spelling of a value. Trailing bytes, floats, ext types, invalid UTF-8,
  and anything larger or deeper than the bounds below are rejected too.

Every failure raises :class:`CodecError` and nothing else; the decoder never crashes on garbage.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgpack

from consensus.errors import ConsensusError

Value = Any
"""A plain value of the canonical value space (see the module docstring)."""

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

DEPTH_MAX = 16
"""Deepest nesting of lists/maps that is accepted (a block holding txs needs about 6)."""

INPUT_BYTES_MAX = 16 * 1024 * 1024
"""Largest encoded value accepted at all; callers pass tighter bounds for messages."""

CONTAINER_LEN_MAX = 100_000
"""Most items in one list or map."""

STR_BYTES_MAX = 1024 * 1024
BIN_BYTES_MAX = 8 * 1024 * 1024


class CodecError(ConsensusError, ValueError):
    """Bytes or a value that is not canonical, is malformed or exceeds a bound."""


_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------------
# encode


def encode(value: Value) -> bytes:
    """Encode ``value`` canonically. Raises :class:`CodecError` if it is outside the value space."""
    return _packer_for_validated(value)


def _packer_for_validated(value: Value) -> bytes:
    canonical = _canonicalize(value, 0)
    return msgpack.packb(canonical, use_bin_type=True, strict_types=True)  # type: ignore[no-any-return]


def _canonicalize(value: Value, depth: int) -> Value:
    """Check the value space and sort map keys; returns a value msgpack packs canonically."""
    if depth > DEPTH_MAX:
        raise CodecError(f"nesting deeper than {DEPTH_MAX}")
    kind = type(value)
    if value is None or kind is bool or kind is bytes or kind is str:
        return value
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise CodecError(f"integer out of range: {value}")
        return value
    if kind is list or kind is tuple:
        if len(value) > CONTAINER_LEN_MAX:
            raise CodecError("list too long")
        return [_canonicalize(item, depth + 1) for item in value]
    if kind is dict:
        return _canonical_map(value, depth)
    raise CodecError(f"type not encodable: {kind.__name__}")


def _canonical_map(value: dict[Any, Any], depth: int) -> dict[Any, Any]:
    if len(value) > CONTAINER_LEN_MAX:
        raise CodecError("map too long")
    keyed: list[tuple[bytes, Any, Any]] = []
    for key, item in value.items():
        if type(key) not in (str, int, bytes):
            raise CodecError(f"map key type not allowed: {type(key).__name__}")
        ckey = _canonicalize(key, depth + 1)
        encoded_key = msgpack.packb(ckey, use_bin_type=True, strict_types=True)
        keyed.append((encoded_key, ckey, _canonicalize(item, depth + 1)))
    keyed.sort(key=lambda entry: entry[0])
    # dicts keep insertion order, and msgpack packs them in that order.
    return {ckey: item for _, ckey, item in keyed}


# ---------------------------------------------------------------------------------------------
# decode


def _reject_ext(code: int, data: bytes) -> Any:
    raise CodecError(f"extension type {code} not allowed")


def decode(data: bytes, max_bytes: int = INPUT_BYTES_MAX) -> Value:
    """Decode canonical bytes. Raises :class:`CodecError` for anything non-canonical or too big."""
    if type(data) is not bytes:
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        else:
            raise CodecError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise CodecError(f"input of {len(data)} bytes exceeds {max_bytes}")
    if not data:
        raise CodecError("empty input")
    value = unpack(data)
    # Re-encoding checks the value space and depth (floats, odd key types fail here) and
    # rejects every second spelling of a value.
    if _packer_for_validated(value) != data:
        raise CodecError("non-canonical encoding")
    return value


def unpack(data: bytes, item_len_max: int | None = None) -> Value:
    """msgpack bytes to a plain value, bounded, WITHOUT the canonical check: for decoders that
    check every field's type themselves and then compare a re-encoding (the tx decoder).
    ``item_len_max`` caps every string, bytes, list and map length (default: the module bounds).
    Raises only :class:`CodecError`."""
    str_max = STR_BYTES_MAX if item_len_max is None else item_len_max
    bin_max = BIN_BYTES_MAX if item_len_max is None else item_len_max
    len_max = CONTAINER_LEN_MAX if item_len_max is None else item_len_max
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=False,
            ext_hook=_reject_ext,
            max_str_len=str_max,
            max_bin_len=bin_max,
            max_array_len=len_max,
            max_map_len=len_max,
            max_ext_len=0,
        )
    except CodecError:
        raise
    except msgpack.ExtraData as exc:
        raise CodecError("trailing bytes after value") from exc
    except Exception as exc:  # truncation, bad UTF-8, unhashable keys, depth, bounds, odd types
        raise CodecError(f"malformed msgpack: {type(exc).__name__}") from exc


# ---------------------------------------------------------------------------------------------
# typed field readers: turn a decoded plain value into a typed one or raise CodecError


def expect_int(value: Value, name: str, lo: int = INT_MIN, hi: int = INT_MAX) -> int:
    if type(value) is not int:
        raise CodecError(f"{name}: expected int, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise CodecError(f"{name}: {value} outside [{lo}, {hi}]")
    return value


def expect_uint(value: Value, name: str, hi: int = INT_MAX) -> int:
    return expect_int(value, name, 0, hi)


def expect_bool(value: Value, name: str) -> bool:
    if type(value) is not bool:
        raise CodecError(f"{name}: expected bool, got {type(value).__name__}")
    return value


def expect_bytes(
    value: Value, name: str, length: int | None = None, max_len: int = BIN_BYTES_MAX
) -> bytes:
    if type(value) is not bytes:
        raise CodecError(f"{name}: expected bytes, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise CodecError(f"{name}: expected {length} bytes, got {len(value)}")
    if len(value) > max_len:
        raise CodecError(f"{name}: {len(value)} bytes exceeds {max_len}")
    return value


def expect_str(value: Value, name: str, max_len: int = 256, min_len: int = 0) -> str:
    if type(value) is not str:
        raise CodecError(f"{name}: expected str, got {type(value).__name__}")
    if not min_len <= len(value) <= max_len:
        raise CodecError(f"{name}: length {len(value)} outside [{min_len}, {max_len}]")
    return value


def expect_list(value: Value, name: str, max_len: int = CONTAINER_LEN_MAX) -> list[Any]:
    if type(value) is not list:
        raise CodecError(f"{name}: expected list, got {type(value).__name__}")
    if len(value) > max_len:
        raise CodecError(f"{name}: {len(value)} items exceeds {max_len}")
    return value


def expect_fields(value: Value, name: str, count: int) -> list[Any]:
    """A positional record: a list of exactly ``count`` items."""
    items = expect_list(value, name, count)
    if len(items) != count:
        raise CodecError(f"{name}: expected {count} fields, got {len(items)}")
    return items


def expect_optional(value: Value, read: Callable[[Value], _T]) -> _T | None:
    return None if value is None else read(value)


def expect_list_of(
    value: Value, name: str, read: Callable[[Value], _T], max_len: int = CONTAINER_LEN_MAX
) -> tuple[_T, ...]:
    return tuple(read(item) for item in expect_list(value, name, max_len))


def sorted_unique(items: Sequence[_T], name: str) -> None:
    """Raise unless ``items`` are strictly increasing (canonical sets are sorted lists)."""
    for previous, current in itertools.pairwise(items):
        if not previous < current:  # type: ignore[operator]
            raise CodecError(f"{name}: items must be sorted and unique")

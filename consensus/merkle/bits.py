"""Keys as bit strings: the order-preserving, prefix-free encoding the tree branches on.

A raw key is read as 9 bits per byte, a ``1`` then the byte's 8 bits (most significant first),
and ends with one ``0``. Two encodings compare as their raw keys compare bytewise, and no
encoding is a prefix of another, so keys of any length (``b"P1"`` and ``b"P10"``) can sit in one
binary trie whose in-order walk is key order. Nothing here materialises the bits: positions are
computed from the bytes.
"""

from __future__ import annotations

BITS_PER_BYTE = 9
"""Encoded bits per raw byte (a continuation bit, then the byte)."""


def get_bit(key: bytes, index: int) -> int:
    """Bit ``index`` of the encoding of ``key`` (0 past the terminator)."""
    byte, offset = divmod(index, BITS_PER_BYTE)
    if byte >= len(key):
        return 0
    if offset == 0:
        return 1
    return (key[byte] >> (BITS_PER_BYTE - 1 - offset)) & 1


def find_first_difference(a: bytes, b: bytes) -> int | None:
    """The first bit index at which the encodings of ``a`` and ``b`` differ (None if a == b)."""
    if a == b:
        return None
    common = min(len(a), len(b))
    diff = int.from_bytes(a[:common], "big") ^ int.from_bytes(b[:common], "big")
    if diff == 0:  # one is a proper prefix of the other: the terminator meets a continuation
        return BITS_PER_BYTE * common
    position = 8 * common - diff.bit_length()
    byte, bit = divmod(position, 8)
    return BITS_PER_BYTE * byte + 1 + bit


def has_prefix(key: bytes, prefix: bytes, length: int) -> bool:
    """True if ``key``'s encoding starts with the first ``length`` bits of ``prefix`` (a
    :func:`cut_prefix` form): the fast test of whether a key belongs under an inner node."""
    byte, offset = divmod(length, BITS_PER_BYTE)
    if key[:byte] != prefix[:byte]:
        return False
    if offset == 0:
        return True
    if len(key) <= byte:
        return False  # the key ends where the prefix goes on
    mask = (0xFF << (9 - offset)) & 0xFF
    return key[byte] & mask == prefix[byte]


def cut_prefix(key: bytes, length: int) -> bytes:
    """The shortest bytes whose encoding agrees with ``key``'s on the first ``length`` bits,
    bits past ``length`` zeroed: the canonical form of a node's shared prefix."""
    byte, offset = divmod(length, BITS_PER_BYTE)
    if offset == 0:
        return key[:byte]
    kept = offset - 1  # bits of byte ``byte`` inside the prefix, after its continuation bit
    mask = (0xFF << (8 - kept)) & 0xFF
    return key[:byte] + bytes([key[byte] & mask])


def compare_subtree(prefix: bytes, length: int, bound: bytes) -> int:
    """Where every key whose encoding starts with the first ``length`` bits of ``prefix`` lies
    against ``bound``: -1 all below it, 1 all above it, 0 undecided (the bound's own prefix)."""
    first = find_first_difference(prefix, bound)
    if first is None or first >= length:
        return 0
    return 1 if get_bit(bound, first) == 0 else -1


def compare_child(prefix: bytes, length: int, side: int, bound: bytes) -> int:
    """:func:`compare_subtree` for the child on ``side`` (0 left, 1 right) of a node whose keys
    share ``length`` bits and branch on bit ``length``."""
    parent = compare_subtree(prefix, length, bound)
    if parent != 0:
        return parent
    bound_bit = get_bit(bound, length)
    if side == bound_bit:
        return 0
    return -1 if side < bound_bit else 1

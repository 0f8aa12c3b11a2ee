"""Key layout of the block store: one prefix byte, then a fixed-width or opaque suffix.

Every key starts with a single prefix byte naming its column. Heights are written as
``height.to_bytes(8, "big")`` so LevelDB's bytewise order is numeric order (height 256 sorts after
255, unlike CometBFT's decimal ``H:256`` keys) and a range scan over one column is one contiguous
slice of the keyspace.

=====================  ==================================  ====================================
key                    value                               written by
=====================  ==================================  ====================================
``b"B" + height8``     encoded block (opaque)              ``commit_block``
``b"C" + height8``     commit certificate of that block    ``commit_block``
``b"R" + height8``     encoded receipts of that block      ``commit_block``
``b"A" + height8``     32-byte app hash after that block   ``commit_block``
``b"T" + tx_hash32``   ``height8 + index4`` (big-endian)   ``commit_block``; first inclusion wins
``b"S" + ledger_key``  ledger value                        ``commit_block`` (``None`` deletes)
``b"N" + tree_key``    state tree node / root / stale mark ``commit_block``; ``prune_tree`` deletes
``b"M" + utf8 name``   small node metadata                 ``put_meta``
``b"L"``               ``height8`` of the latest block     ``commit_block``, in the same batch
``b"V"``               ``version4`` of this layout         opening an empty database
=====================  ==================================  ====================================

``b"L"`` and ``b"V"`` are exactly one byte long and no other key is, so no column can shadow them.
This module only builds and parses keys: it never touches a database.
"""

from __future__ import annotations

from typing import Final

HEIGHT_BYTES: Final = 8
TX_INDEX_BYTES: Final = 4
TX_HASH_BYTES: Final = 32
HEIGHT_MAX: Final = 2**64 - 1
TX_INDEX_MAX: Final = 2**32 - 1

FORMAT_VERSION: Final = 2
"""Bump when the layout changes; a store refuses to open a database of another version.
2: the state tree's column ``N`` (the app hash became the tree's root)."""

PREFIX_BLOCK: Final = b"B"
PREFIX_CERTIFICATE: Final = b"C"
PREFIX_RESULTS: Final = b"R"
PREFIX_APP_HASH: Final = b"A"
PREFIX_TX: Final = b"T"
PREFIX_STATE: Final = b"S"
PREFIX_META: Final = b"M"
PREFIX_TREE: Final = b"N"
LATEST_HEIGHT_KEY: Final = b"L"
FORMAT_VERSION_KEY: Final = b"V"

HEIGHT_PREFIXES: Final = (PREFIX_BLOCK, PREFIX_CERTIFICATE, PREFIX_RESULTS, PREFIX_APP_HASH)
"""Columns keyed by height: exactly one entry per committed height in each."""


def is_valid_height(height: object) -> bool:
    """True for an ``int`` (not ``bool``) that fits the 8-byte big-endian encoding."""
    return type(height) is int and 0 <= height <= HEIGHT_MAX


def encode_height(height: int) -> bytes:
    """8-byte big-endian height; raises ``OverflowError`` outside 0 .. 2**64-1."""
    return height.to_bytes(HEIGHT_BYTES, "big")


def decode_height(raw: bytes) -> int:
    """Inverse of :func:`encode_height`; raises ``ValueError`` on a wrong length."""
    if len(raw) != HEIGHT_BYTES:
        raise ValueError(f"height record is {len(raw)} bytes, expected {HEIGHT_BYTES}")
    return int.from_bytes(raw, "big")


def block_key(height: int) -> bytes:
    return PREFIX_BLOCK + encode_height(height)


def certificate_key(height: int) -> bytes:
    return PREFIX_CERTIFICATE + encode_height(height)


def results_key(height: int) -> bytes:
    return PREFIX_RESULTS + encode_height(height)


def app_hash_key(height: int) -> bytes:
    return PREFIX_APP_HASH + encode_height(height)


def height_of_key(key: bytes) -> int:
    """The height in a ``prefix + height8`` key (any of :data:`HEIGHT_PREFIXES`)."""
    if len(key) != 1 + HEIGHT_BYTES or key[:1] not in HEIGHT_PREFIXES:
        raise ValueError(f"not a height key: {key!r}")
    return int.from_bytes(key[1:], "big")


def tx_key(tx_hash: bytes) -> bytes:
    return PREFIX_TX + tx_hash


def encode_tx_location(height: int, index: int) -> bytes:
    """``height8 + index4``, both big-endian."""
    return encode_height(height) + index.to_bytes(TX_INDEX_BYTES, "big")


def decode_tx_location(raw: bytes) -> tuple[int, int]:
    """Inverse of :func:`encode_tx_location`; raises ``ValueError`` on a wrong length."""
    if len(raw) != HEIGHT_BYTES + TX_INDEX_BYTES:
        raise ValueError(f"tx location is {len(raw)} bytes, expected 12")
    return int.from_bytes(raw[:HEIGHT_BYTES], "big"), int.from_bytes(raw[HEIGHT_BYTES:], "big")


def state_key(ledger_key: bytes) -> bytes:
    return PREFIX_STATE + ledger_key


def ledger_key_of(key: bytes) -> bytes:
    """The ledger's own key inside a state-column key."""
    if key[:1] != PREFIX_STATE:
        raise ValueError(f"not a state key: {key!r}")
    return key[1:]


def tree_key(key: bytes) -> bytes:
    """A key of the state tree's own key space (``consensus.merkle.store``) in the store."""
    return PREFIX_TREE + key


def meta_key(name: str) -> bytes:
    return PREFIX_META + name.encode("utf-8")


def encode_format_version(version: int) -> bytes:
    return version.to_bytes(4, "big")


def compute_prefix_upper_bound(prefix: bytes) -> bytes | None:
    """Smallest key greater than every key starting with ``prefix`` (None: no such key).

    Used as the exclusive ``stop`` of a prefix scan so an iterator never walks past its column.
    """
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])

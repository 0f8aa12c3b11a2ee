"""Tree nodes: their hashes, their stored encoding, and the keys they are stored under.

Hashes (SHA-256, a one-byte domain tag first so a leaf can never pass for an inner node):

- leaf:  ``H(0x00 || u16 len(key) || key || H(value))``
- inner: ``H(0x01 || u32 bit || u16 len(prefix) || prefix || left_hash || right_hash)``, where
  ``bit`` is the index the node branches on and ``prefix`` is ``bits.cut_prefix`` of its keys:
  an inner node commits to the key range below it, which is what lets a proof show that a
  subtree it leaves out holds no key of a range.
- the empty tree: :data:`EMPTY_ROOT`.

A stored node is addressed by its *node key* ``version (8 bytes, big-endian) || hash``: the
version that created it (so old versions can be pruned by version, Jellyfish-style) and its
hash (so two forks that build different nodes at one version never collide).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Final

import msgpack

from consensus.codec import CodecError

HASH_BYTES = 32
VERSION_BYTES = 8
NODE_KEY_BYTES = VERSION_BYTES + HASH_BYTES
KEY_BYTES_MAX = 0xFFFF
EMPTY_ROOT = hashlib.sha256(b"depochain/state-tree/empty/v1").digest()
"""Root hash of the tree that holds no key."""

_LEAF_HEAD = struct.Struct(">xH")
"""The leaf tag (0x00) and u16 len(key): one pack per leaf (a block hashes thousands)."""
_INNER_TAG = 1
_INNER_HEAD = struct.Struct(">BIH")
"""The inner tag, u32 bit and u16 len(prefix), packed at once."""
_sha256 = hashlib.sha256


def hash_leaf(key: bytes, value: bytes) -> bytes:
    return _sha256(_LEAF_HEAD.pack(len(key)) + key + _sha256(value).digest()).digest()


def hash_leaf_of_value_hash(key: bytes, value_hash: bytes) -> bytes:
    return _sha256(_LEAF_HEAD.pack(len(key)) + key + value_hash).digest()


def hash_inner(bit: int, prefix: bytes, left: bytes, right: bytes) -> bytes:
    return _sha256(_INNER_HEAD.pack(_INNER_TAG, bit, len(prefix)) + prefix + left + right).digest()


def make_node_key(version: int, node_hash: bytes) -> bytes:
    return version.to_bytes(VERSION_BYTES, "big") + node_hash


def hash_of(node_key: bytes) -> bytes:
    return node_key[VERSION_BYTES:]


def version_of(node_key: bytes) -> int:
    return int.from_bytes(node_key[:VERSION_BYTES], "big")


PACKER = msgpack.Packer(use_bin_type=True)
"""One packer for every node (``msgpack.packb`` builds a new one per call; a block writes
thousands of nodes). Packing is synchronous and resets after each call."""


Leaf = tuple[bytes, bytes]
"""``(key, value)``."""
Inner = tuple[int, bytes, bytes, bytes]
"""``(bit, prefix, left, right)``: ``bit`` is the index of the encoded bit the node branches
on (left: 0, right: 1), ``prefix`` the ``cut_prefix`` of any key below (the first ``bit`` bits
every key below shares), ``left`` and ``right`` the node keys of the children."""
Node = Leaf | Inner
"""A decoded node: a plain tuple, told apart by its length (:data:`LEAF_FIELDS`).

Plain, not named: CPython's cyclic collector stops tracking a tuple that holds only bytes and
ints, but never a tuple subclass. The node cache keeps ~130 k nodes and a block adds ~40 k at
1 M accounts; as named tuples each full collection walked them all (~17 % of a block's CPU)."""
LEAF_FIELDS: Final = 2


def encode_node(node: Node) -> bytes:
    packed: bytes = PACKER.pack([0, *node] if len(node) == LEAF_FIELDS else [1, *node])
    return packed


def child_of(node: Inner, side: int) -> bytes:
    """The node key of the child on ``side`` (0 left, 1 right)."""
    return node[3] if side else node[2]


def decode_node(raw: bytes) -> Node:
    """A stored node (our own bytes, read back from the node store)."""
    try:
        wire = msgpack.unpackb(raw, raw=False, use_list=True)
        if wire[0] == 0:
            return (bytes(wire[1]), bytes(wire[2]))
        if wire[0] == 1:
            return (int(wire[1]), bytes(wire[2]), bytes(wire[3]), bytes(wire[4]))
    except (ValueError, TypeError, IndexError, msgpack.ExtraData) as exc:
        raise CodecError(f"corrupt tree node: {exc}") from exc
    raise CodecError("corrupt tree node: unknown tag")

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
from typing import NamedTuple

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


class Leaf(NamedTuple):
    """A key and its value (a named tuple: a block builds thousands, and tuples build fast)."""

    key: bytes
    value: bytes

    def encode(self) -> bytes:
        packed: bytes = PACKER.pack([0, self.key, self.value])
        return packed


class Inner(NamedTuple):
    bit: int
    """The index of the encoded bit this node branches on (left: 0, right: 1)."""
    prefix: bytes
    """``cut_prefix`` of any key below: the first ``bit`` bits every key below shares."""
    left: bytes
    """Node key of the left child."""
    right: bytes

    def encode(self) -> bytes:
        packed: bytes = PACKER.pack([1, self.bit, self.prefix, self.left, self.right])
        return packed

    def child(self, side: int) -> bytes:
        return self.right if side else self.left


Node = Leaf | Inner


def decode_node(raw: bytes) -> Node:
    """A stored node (our own bytes, read back from the node store)."""
    try:
        wire = msgpack.unpackb(raw, raw=False, use_list=True)
        if wire[0] == 0:
            return Leaf(bytes(wire[1]), bytes(wire[2]))
        if wire[0] == 1:
            return Inner(int(wire[1]), bytes(wire[2]), bytes(wire[3]), bytes(wire[4]))
    except (ValueError, TypeError, IndexError, msgpack.ExtraData) as exc:
        raise CodecError(f"corrupt tree node: {exc}") from exc
    raise CodecError("corrupt tree node: unknown tag")

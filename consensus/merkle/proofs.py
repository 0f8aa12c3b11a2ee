"""Proofs against a state root: membership, non-membership and complete ranges, one format.

A proof is the part of the tree a verifier needs, as a flat pre-order list of entries (flat so
its encoding stays shallow whatever the tree's depth):

====================================  =======================================================
entry                                 meaning
====================================  =======================================================
``[0, key, value]``                   a leaf inside the proven range, with its value
``[1, bit, prefix]``                  an inner node; its left, then its right subtree follow
``[2, hash]``                         a subtree left out; it must lie wholly outside the range
``[3, key, value_hash]``              a leaf outside the range (a neighbour; value hidden)
====================================  =======================================================

Encoded as ``codec.encode([PROOF_FORMAT, [entries...]])``. The verifier rebuilds the root hash
from the entries, checks that every inner node, leaf and left-out subtree sits where its bits
say (inner nodes commit to their prefix, so a left-out subtree's key range is known) and that no
left-out subtree or hidden leaf can hold a key of the range. What remains are all the keys of the
range: a range proof with no ``[0, …]`` entry proves absence, one with a single entry proves
membership. The range is ``[lo, hi)`` (``hi`` None: to the end).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from consensus import codec
from consensus.errors import ConsensusError
from consensus.merkle import bits, nodes
from consensus.merkle.nodes import EMPTY_ROOT, HASH_BYTES, KEY_BYTES_MAX, LEAF_FIELDS
from consensus.merkle.tree import StateTree

PROOF_FORMAT = 1
LEAF, INNER, OPAQUE, HIDDEN_LEAF = 0, 1, 2, 3
PROOF_ENTRIES_MAX = codec.CONTAINER_LEN_MAX
BIT_MAX = 9 * KEY_BYTES_MAX + 1
VALUE_BYTES_MAX = 16 * 1024 * 1024

Entry = tuple[int, int | bytes, bytes]


class ProofError(ConsensusError, ValueError):
    """The proof does not prove the claim against the root."""


@dataclass(frozen=True, slots=True)
class Proof:
    entries: tuple[Entry, ...]

    def encode(self) -> bytes:
        return codec.encode([PROOF_FORMAT, [list(e) for e in self.entries]])

    @classmethod
    def decode(cls, data: bytes) -> Proof:
        try:
            fmt, raw_entries = codec.expect_fields(codec.decode(data), "proof", 2)
            if fmt != PROOF_FORMAT:
                raise ProofError(f"unknown proof format {fmt!r}")
            entries = codec.expect_list_of(raw_entries, "entries", _read_entry, PROOF_ENTRIES_MAX)
        except codec.CodecError as exc:
            raise ProofError(f"malformed proof: {exc}") from exc
        return cls(tuple(entries))


def _read_entry(value: codec.Value) -> Entry:
    kind, first, second = codec.expect_fields(value, "entry", 3)
    if kind == INNER:
        bit = codec.expect_int(first, "bit", 0, BIT_MAX)
        return INNER, bit, codec.expect_bytes(second, "prefix", max_len=KEY_BYTES_MAX)
    if kind == OPAQUE:
        return OPAQUE, codec.expect_bytes(first, "hash", HASH_BYTES), b""
    if kind == LEAF:
        key = codec.expect_bytes(first, "key", max_len=KEY_BYTES_MAX)
        return LEAF, key, codec.expect_bytes(second, "value", max_len=VALUE_BYTES_MAX)
    if kind == HIDDEN_LEAF:
        key = codec.expect_bytes(first, "key", max_len=KEY_BYTES_MAX)
        return HIDDEN_LEAF, key, codec.expect_bytes(second, "value_hash", HASH_BYTES)
    raise codec.CodecError(f"unknown proof entry kind {kind!r}")


def successor(key: bytes) -> bytes:
    """The smallest key above ``key``: ``[key, successor(key))`` holds ``key`` alone."""
    return key + b"\x00"


def _is_inside(key: bytes, lo: bytes, hi: bytes | None) -> bool:
    return lo <= key and (hi is None or key < hi)


def _is_child_outside(prefix: bytes, bit: int, side: int, lo: bytes, hi: bytes | None) -> bool:
    """True if no key of the child can lie in ``[lo, hi)`` (conservative at the bounds)."""
    if bits.compare_child(prefix, bit, side, lo) < 0:
        return True
    return hi is not None and bits.compare_child(prefix, bit, side, hi) > 0


# ---------------------------------------------------------------------------------------------
# proving (the node's side)


def prove_range(tree: StateTree, lo: bytes, hi: bytes | None) -> Proof:
    """The proof of every key of ``[lo, hi)`` in ``tree`` (none: a proof of absence)."""
    entries: list[Entry] = []
    stack: list[tuple[bytes, bool]] = [] if tree.root is None else [(tree.root, False)]
    while stack:
        node_key, outside = stack.pop()
        if outside:
            entries.append((OPAQUE, nodes.hash_of(node_key), b""))
            continue
        node = tree.load(node_key)
        if len(node) == LEAF_FIELDS:
            key, value = node
            if _is_inside(key, lo, hi):
                entries.append((LEAF, key, value))
            else:
                entries.append((HIDDEN_LEAF, key, hashlib.sha256(value).digest()))
            continue
        bit, prefix = node[0], node[1]
        entries.append((INNER, bit, prefix))
        for side in (1, 0):  # the right child is pushed first, so the left one comes out first
            outside = _is_child_outside(prefix, bit, side, lo, hi)
            stack.append((nodes.child_of(node, side), outside))
    return Proof(tuple(entries))


def prove_key(tree: StateTree, key: bytes) -> Proof:
    """Membership of ``key`` if it is in ``tree``, else its absence."""
    return prove_range(tree, key, successor(key))


# ---------------------------------------------------------------------------------------------
# verifying (anyone's side: pure functions of the root, the claim and the proof)


@dataclass(slots=True)
class _Frame:
    """An inner node whose children are being read."""

    bit: int
    prefix: bytes
    hashes: list[bytes]


def _check_position(key: bytes, parent: _Frame | None) -> None:
    """``key`` (a leaf key or an inner prefix) must sit on its parent's side of its parent."""
    if parent is None:
        return
    first = bits.find_first_difference(key, parent.prefix)
    if first is not None and first < parent.bit:
        raise ProofError("a node lies outside its parent's prefix")
    if bits.get_bit(key, parent.bit) != len(parent.hashes):
        raise ProofError("a node lies on the wrong side of its parent")


def _hash_entry(entry: Entry, parent: _Frame | None, lo: bytes, hi: bytes | None) -> bytes:
    """The hash of a leaf or left-out entry, after checking it may stand where it stands."""
    kind, first, second = entry
    if kind == OPAQUE:
        if parent is None or not _is_child_outside(
            parent.prefix, parent.bit, len(parent.hashes), lo, hi
        ):
            raise ProofError("a left-out subtree may hold keys of the range")
        assert isinstance(first, bytes)
        return first
    assert isinstance(first, bytes)
    _check_position(first, parent)
    if kind == LEAF:
        if not _is_inside(first, lo, hi):
            raise ProofError("a revealed leaf lies outside the range")
        return nodes.hash_leaf(first, second)
    if _is_inside(first, lo, hi):
        raise ProofError("a leaf of the range has its value hidden")
    return nodes.hash_leaf_of_value_hash(first, second)


def verify_range(
    root: bytes, lo: bytes, hi: bytes | None, proof: Proof
) -> list[tuple[bytes, bytes]]:
    """Every (key, value) with ``lo <= key < hi`` under ``root``, in key order; ProofError if
    the proof does not show them all against ``root``."""
    if not proof.entries:
        if root != EMPTY_ROOT:
            raise ProofError("an empty proof proves only the empty tree")
        return []
    found: list[tuple[bytes, bytes]] = []
    stack: list[_Frame] = []
    computed: bytes | None = None
    for entry in proof.entries:
        if computed is not None:
            raise ProofError("entries after the root is complete")
        parent = stack[-1] if stack else None
        kind, first, second = entry
        if kind == INNER:
            assert isinstance(first, int)
            _check_inner(first, second, parent)
            stack.append(_Frame(first, second, []))
            continue
        node_hash = _hash_entry(entry, parent, lo, hi)
        if kind == LEAF:
            assert isinstance(first, bytes)
            found.append((first, second))
        computed = _fold(stack, node_hash)
    if computed is None or stack:
        raise ProofError("the proof ends inside the tree")
    if computed != root:
        raise ProofError("the proof does not lead to the root")
    return found


def _check_inner(bit: int, prefix: bytes, parent: _Frame | None) -> None:
    if parent is not None and bit <= parent.bit:
        raise ProofError("an inner node branches above its parent")
    byte, offset = divmod(bit, bits.BITS_PER_BYTE)
    if len(prefix) != byte + (offset > 0) or bits.cut_prefix(prefix, bit) != prefix:
        raise ProofError("an inner node's prefix is not canonical")
    _check_position(prefix, parent)


def _fold(stack: list[_Frame], node_hash: bytes) -> bytes | None:
    """Give ``node_hash`` to its parent, hashing every inner node it completes; the root's hash
    once the whole tree is complete, else None."""
    while stack:
        frame = stack[-1]
        frame.hashes.append(node_hash)
        if len(frame.hashes) < 2:
            return None
        stack.pop()
        node_hash = nodes.hash_inner(frame.bit, frame.prefix, *frame.hashes)
    return node_hash


def verify_membership(root: bytes, key: bytes, value: bytes, proof: Proof) -> None:
    """Raise ProofError unless ``key`` holds exactly ``value`` under ``root``."""
    found = verify_range(root, key, successor(key), proof)
    if found != [(key, value)]:
        raise ProofError("the proof does not show this key with this value")


def verify_non_membership(root: bytes, key: bytes, proof: Proof) -> None:
    """Raise ProofError unless ``key`` is absent under ``root``."""
    if verify_range(root, key, successor(key), proof):
        raise ProofError("the key is present")

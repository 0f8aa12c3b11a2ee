"""Proofs a dishonest node might send: a subtree of the range left out behind its true hash, or
an inner node moved (its prefix rewritten) so that its subtree seems to lie outside the range.
Both keep every hash the verifier can check on its own, so only the rules catch them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from consensus.merkle import (
    Proof,
    ProofError,
    StateTree,
    bits,
    build_tree,
    nodes,
    prove_range,
    verify_range,
)
from consensus.merkle.proofs import HIDDEN_LEAF, INNER, LEAF, OPAQUE, Entry, successor

keys = st.binary(min_size=1, max_size=3).map(lambda b: bytes(b"AB\x00"[x % 3] for x in b))
contents = st.dictionaries(keys, st.binary(max_size=2), min_size=2, max_size=24)


@dataclass
class Parsed:
    """One entry of a proof with its subtree: where it starts and ends, and its hash."""

    start: int
    end: int
    hash: bytes
    bit: int = -1
    prefix: bytes = b""
    parent_bit: int = -1
    leaves: tuple[bytes, ...] = ()


def parse(entries: tuple[Entry, ...], at: int, parent_bit: int, out: list[Parsed]) -> Parsed:
    kind, first, second = entries[at]
    if kind == INNER:
        assert isinstance(first, int)
        left = parse(entries, at + 1, first, out)
        right = parse(entries, left.end, first, out)
        node_hash = nodes.hash_inner(first, second, left.hash, right.hash)
        leaves = left.leaves + right.leaves
        parsed = Parsed(at, right.end, node_hash, first, second, parent_bit, leaves)
    elif kind == OPAQUE:
        assert isinstance(first, bytes)
        parsed = Parsed(at, at + 1, first)
    else:
        assert isinstance(first, bytes)
        leaf_hash = nodes.hash_leaf(first, second)
        if kind == HIDDEN_LEAF:
            leaf_hash = nodes.hash_leaf_of_value_hash(first, second)
        parsed = Parsed(at, at + 1, leaf_hash, leaves=(first,) if kind == LEAF else ())
    out.append(parsed)
    return parsed


def parse_all(proof: Proof) -> list[Parsed]:
    out: list[Parsed] = []
    parse(proof.entries, 0, -1, out)
    return out


@given(contents, st.data())
def test_a_range_item_hidden_behind_its_hash_fails(
    items: dict[bytes, bytes], data: st.DataObject
) -> None:
    tree = build_tree(list(items.items()))
    lo = data.draw(st.sampled_from(sorted(items)))
    proof = prove_range(tree, lo, None)
    spans = [p for p in parse_all(proof) if p.leaves and p.start > 0]
    assume(spans)
    span = data.draw(st.sampled_from(spans))
    entries = proof.entries
    forged = (*entries[: span.start], (OPAQUE, span.hash, b""), *entries[span.end :])
    with pytest.raises(ProofError):
        verify_range(tree.root_hash, lo, None, Proof(forged))


def _subtree_range(tree: StateTree, node: Parsed) -> tuple[bytes, bytes]:
    """[lo, hi) covering exactly the keys of one subtree of ``tree``."""
    inside = [
        k
        for k, _ in tree.items()
        if (bits.find_first_difference(k, node.prefix) or 10**9) >= node.bit
    ]
    return min(inside), successor(max(inside))


@given(contents, st.data())
def test_a_moved_inner_node_fails(items: dict[bytes, bytes], data: st.DataObject) -> None:
    tree = build_tree(list(items.items()))
    everything = [p for p in parse_all(prove_range(tree, b"", None)) if p.bit > p.parent_bit + 1]
    assume(everything)
    target = data.draw(st.sampled_from(everything))
    lo, hi = _subtree_range(tree, target)
    proof = prove_range(tree, lo, hi)
    node = next(p for p in parse_all(proof) if (p.bit, p.prefix) == (target.bit, target.prefix))
    left = parse(proof.entries, node.start + 1, node.bit, [])
    right = parse(proof.entries, left.end, node.bit, [])
    for free in range(node.parent_bit + 1, node.bit):  # bits the node's position leaves open
        if free % bits.BITS_PER_BYTE == 0:
            continue  # a continuation bit: flipping it makes no canonical prefix
        moved = _flip(node.prefix, node.bit, free)
        forged = (
            *proof.entries[: node.start],
            (INNER, node.bit, moved),
            (OPAQUE, left.hash, b""),
            (OPAQUE, right.hash, b""),
            *proof.entries[node.end :],
        )
        with pytest.raises(ProofError):
            verify_range(tree.root_hash, lo, hi, Proof(forged))


def _flip(prefix: bytes, length: int, index: int) -> bytes:
    """``prefix`` (``length`` bits) with encoded bit ``index`` flipped, in canonical form."""
    byte, offset = divmod(index, bits.BITS_PER_BYTE)
    raw = bytearray(prefix)
    raw[byte] ^= 1 << (8 - offset)
    return bits.cut_prefix(bytes(raw) + b"\x00", length)

"""Property tests of the state tree against a plain dict: contents, history independence,
proofs that verify, and proofs that must not (tampered, wrong root, missing items)."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    Proof,
    ProofError,
    StateTree,
    bits,
    build_tree,
    plan_prune,
    prove_key,
    prove_range,
    successor,
    verify_membership,
    verify_non_membership,
    verify_range,
)
from consensus.merkle.proofs import HIDDEN_LEAF, INNER, LEAF, Entry
from consensus.merkle.store import ROOT_PREFIX, STALE_PREFIX

# small alphabets make shared prefixes, prefix keys (b"A" and b"A\x00") and collisions common
keys = st.binary(min_size=1, max_size=4).map(lambda b: bytes(b"AB\x00\xff"[x % 4] for x in b))
values = st.binary(max_size=3)
Batch = dict[bytes, bytes | None]
batches = st.lists(st.dictionaries(keys, st.none() | values, max_size=12), max_size=8)


def apply(model: dict[bytes, bytes], batch: dict[bytes, bytes | None]) -> None:
    for key, value in batch.items():
        if value is None:
            model.pop(key, None)
        else:
            model[key] = value


def run(batch_list: list[Batch]) -> tuple[StateTree, MemoryNodeStore]:
    store = MemoryNodeStore()
    tree = StateTree(store, 0, None)
    for version, batch in enumerate(batch_list, start=1):
        tree, writes = tree.update(version, batch)
        store.apply(writes)
        tree = tree.persisted()
    return tree, store


@given(st.binary(max_size=6), st.binary(max_size=6))
def test_bit_encoding_keeps_key_order(a: bytes, b: bytes) -> None:
    first = bits.find_first_difference(a, b)
    if a == b:
        assert first is None
        return
    assert first is not None
    assert (bits.get_bit(a, first) < bits.get_bit(b, first)) == (a < b)
    assert all(bits.get_bit(a, i) == bits.get_bit(b, i) for i in range(first))


@given(st.binary(max_size=5), st.binary(min_size=1, max_size=5), st.integers(0, 50))
def test_has_prefix_agrees_with_the_first_difference(key: bytes, other: bytes, length: int) -> None:
    length = min(length, 9 * len(other))
    first = bits.find_first_difference(key, other)
    expected = first is None or first >= length
    assert bits.has_prefix(key, bits.cut_prefix(other, length), length) == expected


@given(batches)
def test_tree_holds_what_a_dict_holds_and_proves_it(batch_list: list[Batch]) -> None:
    store = MemoryNodeStore()
    tree = StateTree(store, 0, None)
    model: dict[bytes, bytes] = {}
    for version, batch in enumerate(batch_list, start=1):
        tree, writes = tree.update(version, batch)
        store.apply(writes)
        apply(model, batch)
        assert list(tree.items()) == sorted(model.items())
        root = tree.root_hash
        for key in set(batch) | set(list(model)[:3]):
            proof = Proof.decode(prove_key(tree, key).encode())
            if key in model:
                assert tree.get(key) == model[key]
                verify_membership(root, key, model[key], proof)
            else:
                assert tree.get(key) is None
                verify_non_membership(root, key, proof)


@given(batches, keys, st.none() | keys)
def test_a_range_proof_gives_exactly_the_range(
    batch_list: list[Batch], lo: bytes, hi: bytes | None
) -> None:
    tree, _ = run(batch_list)
    model = dict(tree.items())
    proof = Proof.decode(prove_range(tree, lo, hi).encode())
    expected = sorted((k, v) for k, v in model.items() if lo <= k and (hi is None or k < hi))
    assert verify_range(tree.root_hash, lo, hi, proof) == expected


@given(batches, st.randoms(use_true_random=False))
def test_root_depends_only_on_the_final_contents(
    batch_list: list[Batch], rnd: random.Random
) -> None:
    tree, _ = run(batch_list)
    model = dict(tree.items())
    assert tree.root_hash == build_tree(list(model.items())).root_hash
    # the same final contents written in another order, split into other batches
    items = list(model.items())
    rnd.shuffle(items)
    cut = rnd.randint(0, len(items))
    noise = {key + b"\x01": b"x" for key, _ in items[:2]}  # written, then deleted again
    again, _ = run([{**dict(items[:cut]), **noise}, {**dict(items[cut:]), **dict.fromkeys(noise)}])
    assert again.root_hash == tree.root_hash
    assert (tree.root_hash == EMPTY_ROOT) == (not model)


def _proof_of(entries: list[Entry]) -> Proof:
    return Proof(tuple(entries))


@given(batches.filter(lambda b: any(v is not None for batch in b for v in batch.values())))
def test_tampered_proofs_and_wrong_roots_fail(batch_list: list[Batch]) -> None:
    tree, _ = run(batch_list)
    model = dict(tree.items())
    if not model:
        return
    key, value = sorted(model.items())[len(model) // 2]
    proof = prove_key(tree, key)
    verify_membership(tree.root_hash, key, value, proof)
    with pytest.raises(ProofError):
        verify_membership(tree.root_hash, key, value + b"!", proof)
    with pytest.raises(ProofError):
        verify_membership(hashlib.sha256(tree.root_hash).digest(), key, value, proof)
    with pytest.raises(ProofError):
        verify_non_membership(tree.root_hash, key, proof)
    entries = list(proof.entries)
    at = next(i for i, e in enumerate(entries) if e[0] == LEAF)
    tampered = entries.copy()
    tampered[at] = (LEAF, key, value + b"!")
    with pytest.raises(ProofError):
        verify_range(tree.root_hash, key, successor(key), _proof_of(tampered))
    for i, entry in enumerate(entries):  # an inner node that claims another key range
        if entry[0] == INNER:
            moved = entries.copy()
            bit, prefix = entry[1], entry[2]
            assert isinstance(bit, int)
            flipped = bits.cut_prefix(bytes(b ^ 0xFF for b in prefix) + b"\x00", bit)
            if flipped == prefix:
                continue  # a prefix with no free bit (the root of all keys) cannot move
            moved[i] = (INNER, bit, flipped)
            with pytest.raises(ProofError):
                verify_range(tree.root_hash, key, successor(key), _proof_of(moved))
    hidden = entries.copy()  # the prover hides the value of the very key asked for
    hidden[at] = (HIDDEN_LEAF, key, hashlib.sha256(value).digest())
    with pytest.raises(ProofError):
        verify_range(tree.root_hash, key, successor(key), _proof_of(hidden))


@given(batches, keys)
def test_a_range_proof_missing_an_item_fails(batch_list: list[Batch], lo: bytes) -> None:
    tree, _ = run(batch_list)
    proof = prove_range(tree, lo, None)
    leaves = [i for i, e in enumerate(proof.entries) if e[0] == LEAF]
    if not leaves:
        return
    # a proof built for a narrower range leaves out the last item: it must not pass for [lo, ∞)
    last_key = proof.entries[leaves[-1]][1]
    assert isinstance(last_key, bytes)
    narrower = prove_range(tree, lo, last_key)
    with pytest.raises(ProofError):
        verify_range(tree.root_hash, lo, None, narrower)
    dropped = list(proof.entries)
    del dropped[leaves[0]]
    with pytest.raises(ProofError):
        verify_range(tree.root_hash, lo, None, _proof_of(dropped))


def test_pruning_keeps_the_window_and_drops_older_versions() -> None:
    batch_list: list[Batch] = [{bytes([65 + i % 5]): bytes([i])} for i in range(12)]
    tree, store = run(batch_list)
    stale = [k for k, _ in store.scan(STALE_PREFIX)]
    roots = [int.from_bytes(k[1:], "big") for k, _ in store.scan(ROOT_PREFIX)]
    store.apply(dict.fromkeys(plan_prune(stale, roots, 9)))
    for version in (9, 10, 11, 12):
        fresh = StateTree.open(store, version)
        assert dict(fresh.items()) == dict(tree.at(version).items())
    with pytest.raises(LookupError):
        StateTree.open(store, 8)
    live = StateTree.open(store, 12)
    assert dict(live.items()) == {bytes([65 + i % 5]): bytes([i]) for i in range(7, 12)}

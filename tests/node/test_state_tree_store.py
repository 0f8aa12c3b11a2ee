"""The state tree in a real LevelDB: a model test against the same tree kept in a dict (random
batches, the node's pruning rule), and a restarted chain that proves balances and receipts
against its stored headers."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import crypto
from consensus.ledger.commitment import to_tree_key
from consensus.ledger.state import balance_key
from consensus.ledger.txs import Transfer
from consensus.merkle import (
    MemoryNodeStore,
    NodeCache,
    StateTree,
    build_tree,
    prove_key,
    prove_range,
    verify_membership,
    verify_range,
)
from consensus.merkle.nodes import LEAF_FIELDS
from consensus.types import Height
from node.chain import Chain, CommittedBlock
from node.state_tree import open_state_tree, prune_state_tree
from node.storage import BlockWrite, LevelDBStore, MemoryStore
from tests.consensus.ledger import world
from tests.node.ledger_blocks import _certify, _make_block, make_genesis

keys = st.binary(min_size=1, max_size=3).map(lambda b: bytes(b"AB\x00"[x % 3] for x in b))
batches = st.lists(
    st.dictionaries(keys, st.none() | st.binary(max_size=3), max_size=10), min_size=1, max_size=10
)


def _reachable(tree: StateTree) -> set[bytes]:
    """Node keys of every node of one version."""
    found, stack = set(), [] if tree.root is None else [tree.root]
    while stack:
        node_key = stack.pop()
        found.add(node_key)
        node = tree.load(node_key)
        if len(node) != LEAF_FIELDS:
            stack += [node[2], node[3]]
    return found


def _block_write(height: int, tree_writes: dict[bytes, bytes | None]) -> BlockWrite:
    return BlockWrite(
        height=height,
        block=b"\x90",
        certificate=b"\x90",
        results=b"",
        tx_hashes=[],
        state_changes={},
        app_hash=bytes(32),
        tree_writes=tree_writes,
    )


@given(batches, st.integers(min_value=1, max_value=4))
def test_leveldb_tree_matches_the_dict_tree(
    batch_list: list[dict[bytes, bytes | None]], kept: int
) -> None:
    memory = MemoryNodeStore()
    model = StateTree(memory, 0, None)
    history: dict[int, list[tuple[bytes, bytes]]] = {}
    with tempfile.TemporaryDirectory() as path:
        store = LevelDBStore(path)
        try:
            for height, batch in enumerate(batch_list, start=1):
                model, writes = model.update(height, batch)
                memory.apply(writes)
                history[height] = list(model.items())
                store.commit_block(_block_write(height, dict(writes)))
                prune_state_tree(store, height, kept)
                stored = open_state_tree(store, height, NodeCache())  # cold: reads LevelDB
                assert stored.root_hash == model.root_hash
                assert list(stored.items()) == history[height]
        finally:
            store.close()
        reopened = LevelDBStore(path)  # what a restarted node reads
        try:
            top = len(batch_list)
            for height in range(1, top + 1):
                if height > top - kept:  # inside the window: still provable
                    tree = open_state_tree(reopened, height, NodeCache())
                    assert list(tree.items()) == history[height]
                    proof = prove_range(tree, b"A", b"B")
                    expected = [(k, v) for k, v in history[height] if b"A" <= k < b"B"]
                    assert verify_range(tree.root_hash, b"A", b"B", proof) == expected
                else:
                    with pytest.raises(LookupError):
                        open_state_tree(reopened, height, NodeCache())
            stored_nodes = {key[1:] for key in reopened.iter_tree(b"n")}
            kept_versions = range(max(1, top - kept + 1), top + 1)
            used = set().union(*(_reachable(model.at(h)) for h in kept_versions))
            assert stored_nodes == used  # pruning drops exactly what no kept version uses
        finally:
            reopened.close()


def test_a_restarted_chain_proves_state_and_receipts_against_its_headers(tmp_path: Path) -> None:
    genesis = make_genesis()
    factory = world.TxFactory()
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(genesis, store, state_versions_kept=2)
    committed: list[CommittedBlock] = []
    for height in (1, 2, 3):
        ok = factory.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", height))
        replay = ok if height == 1 else committed[-1].block.txs[0]  # rejected: nonce used
        block = _make_block(chain, Height(height), (ok, replay))
        committed.append(chain.commit(block, _certify(chain, block)))
    store.close()
    store = LevelDBStore(tmp_path / "db")
    try:
        again = Chain(genesis, store, state_versions_kept=2)
        assert again.compute_chain_state().last_results_hash == committed[-1].results_hash
        # receipts of block 2, accepted and rejected, each proven under block 3's header
        header_3 = again.get_block(3)
        assert header_3 is not None
        receipts = again.get_receipts(2)
        assert receipts is not None and [r.is_ok for r in receipts] == [True, False]
        leaves = [receipt.encode() for receipt in receipts]
        for index, leaf in enumerate(leaves):
            proof = crypto.merkle_proof(leaves, index)
            assert crypto.verify_merkle_proof(header_3.header.last_results_hash, leaf, proof)
        assert not crypto.verify_merkle_proof(
            header_3.header.last_results_hash, leaves[1], crypto.merkle_proof(leaves, 0)
        )
        # a balance at heights 2 and 3 (kept), proven against the stored app hashes
        key = to_tree_key(balance_key("BANKA/alice", "BANKA:USD"))
        for height in (2, 3):
            tree = again.state.tree.at(height)
            value = tree.get(key)
            app_hash = store.get_app_hash(height)
            assert value is not None and app_hash is not None
            verify_membership(app_hash, key, value, prove_key(tree, key))
        with pytest.raises(LookupError):
            again.state.tree.at(1)  # pruned: outside the two versions kept
    finally:
        store.close()


def test_the_node_handles_the_deepest_path_long_keys_allow() -> None:
    Chain(make_genesis(), MemoryStore())  # what the node does before any tree work
    base = b"K" + b"\xff" * 129  # as long as an idempotency key's tree key gets
    comb = [base]
    for index in range(8 * len(base)):  # each key leaves the path at a later bit: one level
        byte, bit = divmod(index, 8)
        comb.append(base[:byte] + bytes([base[byte] ^ (0x80 >> bit)]) + base[byte + 1 :])
    tree = build_tree([(key, b"v") for key in comb])
    tree, _ = tree.update(1, {comb[-1]: b"w", base + b"\x00": b"x"})
    for key, value in ((comb[-1], b"w"), (base, b"v"), (base + b"\x00", b"x")):
        verify_membership(tree.root_hash, key, value, prove_key(tree, key))

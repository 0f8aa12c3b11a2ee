"""Model test: the state tree kept in a real LevelDB (through the block store, pruned by the
node's rule) against the same tree kept in a dict, over random batches of writes."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.merkle import MemoryNodeStore, NodeCache, StateTree, prove_range, verify_range
from consensus.merkle.nodes import Inner
from node.state_tree import open_state_tree, prune_state_tree
from node.storage import BlockWrite, LevelDBStore

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
        if isinstance(node, Inner):
            stack += [node.left, node.right]
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

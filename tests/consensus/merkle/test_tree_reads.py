"""What a batch update reads, and that the read-sparing hints never change a result: the prior
values the ledger knows (``StateTree.update(..., prior)``) and the node cache's dropping of
replaced nodes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consensus.merkle import MemoryNodeStore, NodeCache, StateTree
from consensus.merkle.nodes import LEAF_FIELDS, decode_node
from consensus.merkle.store import NODE_PREFIX

keys = st.binary(min_size=1, max_size=4).map(lambda b: bytes(b"AB\x00\xff"[x % 4] for x in b))
values = st.binary(max_size=3)
Batch = dict[bytes, bytes | None]
batches = st.lists(st.dictionaries(keys, st.none() | values, max_size=12), min_size=1, max_size=6)
hints = st.sampled_from(["right", "wrong", "absent"])


class CountingStore(MemoryNodeStore):
    """A node store that records which nodes were read from it."""

    __slots__ = ("reads",)

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[bytes] = []

    def get(self, key: bytes) -> bytes | None:
        if key.startswith(NODE_PREFIX):
            self.reads.append(key)
        return super().get(key)


def grow(
    batch_list: list[Batch], hint: str, cache: NodeCache | None = None
) -> tuple[StateTree, CountingStore, dict[bytes, bytes]]:
    """Apply the batches one version each, persisting each, with ``hint`` as the prior."""
    store, model = CountingStore(), dict[bytes, bytes]()
    tree = StateTree(store, 0, None, cache=cache)
    for version, batch in enumerate(batch_list, start=1):
        seen = dict(model)

        def prior(key: bytes, seen: dict[bytes, bytes] = seen) -> bytes | None:
            if hint == "right":
                return seen.get(key)
            return seen.get(key, b"?") + b"!" if hint == "wrong" else None

        tree, writes = tree.update(version, batch, prior)
        store.apply(writes)
        tree = tree.persisted()
        for key, value in batch.items():
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
    return tree, store, model


@given(batches, hints)
def test_prior_values_never_change_the_tree(batch_list: list[Batch], hint: str) -> None:
    plain, _, model = grow(batch_list, "absent", NodeCache(0))
    hinted, _, _ = grow(batch_list, hint, NodeCache(0))
    assert hinted.root == plain.root
    assert dict(hinted.items()) == model


def test_an_update_with_known_prior_values_reads_no_leaf() -> None:
    before: Batch = {b"acct-%04d" % i: b"%d" % i for i in range(300)}
    change = {b"acct-%04d" % i: b"new" for i in range(0, 300, 7)}
    for hint, leaves_read in (("absent", len(change)), ("right", 0)):
        tree, store, _ = grow([before], hint, NodeCache(0))  # no cache: every node is a read
        store.reads.clear()
        tree.update(2, change, before.get if hint == "right" else None)
        read = [decode_node(store.data[key]) for key in store.reads]
        assert sum(len(node) == LEAF_FIELDS for node in read) == leaves_read, hint


def test_replaced_nodes_leave_the_cache_and_the_tree_stays_readable() -> None:
    before: Batch = {b"k%03d" % i: b"v" for i in range(64)}
    cache = NodeCache(1 << 12)
    tree, store, _ = grow([before], "right", cache)
    old_nodes = {key[len(NODE_PREFIX) :] for key in store.data if key.startswith(NODE_PREFIX)}
    newer, writes = tree.update(2, {b"k007": b"w", b"k040": None}, before.get)
    replaced = [key for key in old_nodes if cache.get(key) is None]
    assert replaced  # the path to each change, root included
    assert cache.get(tree.root or b"") is None
    store.apply(writes)
    assert tree.get(b"k040") == b"v" and newer.persisted().get(b"k040") is None

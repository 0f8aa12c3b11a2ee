"""The authenticated state tree: a binary Patricia (crit-bit) Merkle trie over ordered keys.

Its shape is a function of the set of keys alone (every inner node branches on the first bit
where the keys below it differ), so the root depends on the state and on nothing else: not on
the order of writes in a block, nor on how writes were split into blocks. Keys stay in order
(``bits`` encodes them order-preserving), so the keys of one prefix sit in one run of leaves and
a range of them can be proven complete (``proofs``).

A :class:`StateTree` is an immutable view of one version. :meth:`StateTree.update` applies one
block's writes as a batch and returns the next version's view plus the writes to persist; the
view keeps those writes in memory layers until the node says they are stored
(:meth:`StateTree.persisted`). Decoded nodes are kept in a bounded cache shared by the views
(node keys are content-addressed, so sharing is safe).

The update recurses once or twice per level, and a path can be as deep as the longest key has
bits (keys are ids of up to 64 characters, some chosen by clients): the process that runs it
must allow a few thousand frames (the node raises the limit: ``node.state_tree``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence

from consensus.codec import CodecError
from consensus.merkle import bits, nodes
from consensus.merkle.nodes import EMPTY_ROOT, VERSION_BYTES, Inner, Leaf, Node
from consensus.merkle.store import (
    NODE_PREFIX,
    MemoryNodeStore,
    NodeReader,
    TreeWrites,
    node_entry,
    root_entry,
    stale_entry,
)

NODE_CACHE_MAX = 1 << 18
"""Decoded nodes kept (about 100 MB at most; evicted oldest first): the hot top of the tree."""


class NodeCache:
    """Decoded nodes by node key, bounded; oldest evicted first (dicts keep insertion order)."""

    __slots__ = ("_nodes", "limit")

    def __init__(self, limit: int = NODE_CACHE_MAX) -> None:
        self._nodes: dict[bytes, Node] = {}
        self.limit = limit

    def get(self, node_key: bytes) -> Node | None:
        return self._nodes.get(node_key)

    def put_many(self, built: dict[bytes, Node]) -> None:
        cached = self._nodes
        if len(cached) + len(built) > self.limit:
            for old in list(cached)[: max(len(built), self.limit // 8)]:
                del cached[old]
        cached.update(built)
        if len(cached) > self.limit:  # one batch larger than the whole cache: keep its newest
            for old in list(cached)[: len(cached) - self.limit]:
                del cached[old]

    def put(self, node_key: bytes, node: Node) -> None:
        cached = self._nodes
        if len(cached) >= self.limit:
            for old in list(cached)[: max(1, self.limit // 8)]:
                del cached[old]
        cached[node_key] = node


class StateTree:
    """One version of the tree, readable through ``reader`` plus unpersisted ``layers``."""

    __slots__ = ("_cache", "_layers", "_reader", "root", "version")

    def __init__(
        self,
        reader: NodeReader,
        version: int,
        root: bytes | None,
        layers: tuple[dict[bytes, bytes | None], ...] = (),
        cache: NodeCache | None = None,
    ) -> None:
        self._reader = reader
        self.version = version
        self.root = root
        """Node key of the root; None for the empty tree."""
        self._layers = layers
        self._cache = NodeCache() if cache is None else cache

    @classmethod
    def empty(cls, version: int = 0) -> StateTree:
        return cls(MemoryNodeStore(), version, None)

    @classmethod
    def open(cls, reader: NodeReader, version: int, cache: NodeCache | None = None) -> StateTree:
        """The stored version ``version``; LookupError if it was never written or was pruned."""
        root = reader.get(root_entry(version))
        if root is None:
            raise LookupError(f"state tree version {version} is not stored")
        return cls(reader, version, root or None, (), cache)

    @property
    def root_hash(self) -> bytes:
        return EMPTY_ROOT if self.root is None else nodes.hash_of(self.root)

    def at(self, version: int) -> StateTree:
        """An older (or the same) stored version, for proofs at recent heights."""
        if version == self.version:
            return self
        root = self._read(root_entry(version))
        if root is None:
            raise LookupError(f"state tree version {version} is not kept")
        return StateTree(self._reader, version, root or None, self._layers, self._cache)

    def persisted(self, reader: NodeReader | None = None) -> StateTree:
        """This view once its writes are stored in ``reader`` (default: the same reader)."""
        store = self._reader if reader is None else reader
        return StateTree(store, self.version, self.root, (), self._cache)

    def unpersisted(self) -> dict[bytes, bytes | None]:
        """Every write this view holds in memory (e.g. genesis's, stored with block 1)."""
        merged: dict[bytes, bytes | None] = {}
        for layer in reversed(self._layers):
            merged.update(layer)
        return merged

    # -- reads ---------------------------------------------------------------------------------

    def _read(self, key: bytes) -> bytes | None:
        for layer in self._layers:
            if key in layer:
                return layer[key]
        return self._reader.get(key)

    def load(self, node_key: bytes) -> Node:
        node = self._cache.get(node_key)
        if node is None:
            raw = self._read(node_entry(node_key))
            if raw is None:
                raise CodecError(f"state tree node {node_key.hex()} is missing")
            node = nodes.decode_node(raw)
            self._cache.put(node_key, node)
        return node

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key`` in this version (None if absent)."""
        ref = self.root
        while ref is not None:
            node = self.load(ref)
            if isinstance(node, Leaf):
                return node.value if node.key == key else None
            ref = node.child(bits.get_bit(key, node.bit))
        return None

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value), in key order."""
        stack = [] if self.root is None else [self.root]
        while stack:
            node = self.load(stack.pop())
            if isinstance(node, Leaf):
                yield node.key, node.value
            else:
                stack += [node.right, node.left]

    # -- the batch update ------------------------------------------------------------------------

    def update(
        self, version: int, changes: Mapping[bytes, bytes | None]
    ) -> tuple[StateTree, dict[bytes, bytes | None]]:
        """Apply one batch (None deletes) as version ``version``; return its view and writes."""
        if version <= self.version and self.root is not None:
            raise ValueError(f"version {version} does not follow {self.version}")
        batch = _Batch(self, version, sorted(changes.items()))
        root = batch.update(self.root, 0, len(batch.keys))
        self._cache.put_many(batch.cache)
        writes = batch.writes
        for node_key in batch.stale:
            writes[stale_entry(version, node_key)] = b""
        writes[root_entry(version)] = root or b""
        layers = [writes, *self._layers]
        while len(layers) > 1 and 2 * len(layers[0]) >= len(layers[1]):
            layers[:2] = [{**layers[1], **layers[0]}]
        view = StateTree(self._reader, version, root, tuple(layers), self._cache)
        return view, writes


class _Batch:
    """One update: the sorted changes, and the nodes it creates and retires."""

    __slots__ = ("cache", "keys", "stale", "tree", "values", "version", "version_bytes", "writes")

    def __init__(
        self, tree: StateTree, version: int, changes: Sequence[tuple[bytes, bytes | None]]
    ) -> None:
        self.tree = tree
        self.version = version
        self.version_bytes = version.to_bytes(VERSION_BYTES, "big")
        self.keys = [key for key, _ in changes]
        self.values = [value for _, value in changes]
        self.writes: dict[bytes, bytes | None] = {}
        self.stale: set[bytes] = set()
        self.cache: dict[bytes, Node] = {}
        """Nodes this batch built; given to the shared cache once, at the end."""

    def update(self, ref: bytes | None, lo: int, hi: int) -> bytes | None:
        """The new subtree for ``ref`` with changes ``lo:hi`` (all of which belong here)."""
        if lo == hi:
            return ref
        if ref is None:
            items = [
                (k, v)
                for k, v in zip(self.keys[lo:hi], self.values[lo:hi], strict=True)
                if v is not None
            ]
            return self.build(items, 0, len(items))
        node = self.tree.load(ref)
        if isinstance(node, Leaf):
            return self.merge_leaf(ref, node, lo, hi)
        return self.update_inner(ref, node, lo, hi)

    def update_inner(self, ref: bytes, node: Inner, lo: int, hi: int) -> bytes | None:
        keys, prefix, bit = self.keys, node.prefix, node.bit
        # keys under a prefix are contiguous: the two ends tell whether every change is inside
        if bits.has_prefix(keys[lo], prefix, bit) and bits.has_prefix(keys[hi - 1], prefix, bit):
            middle = self.find_side_start(lo, hi, node.bit)
            left = self.update(node.left, lo, middle)
            right = self.update(node.right, middle, hi)
            if left == node.left and right == node.right:
                return ref
            self.stale.add(ref)
            if left is None or right is None:
                return left or right
            return self.store_inner(Inner(node.bit, node.prefix, left, right))
        # some changes lie outside this subtree: a new node branches above it, on bit ``split``
        split = min(
            _difference_below(keys[lo], prefix, bit), _difference_below(keys[hi - 1], prefix, bit)
        )
        middle = self.find_side_start(lo, hi, split)
        if bits.get_bit(node.prefix, split):
            left, right = self.update(None, lo, middle), self.update(ref, middle, hi)
        else:
            left, right = self.update(ref, lo, middle), self.update(None, middle, hi)
        if left is None or right is None:
            return left or right
        return self.store_inner(Inner(split, bits.cut_prefix(node.prefix, split), left, right))

    def merge_leaf(self, ref: bytes, leaf: Leaf, lo: int, hi: int) -> bytes | None:
        keys, values = self.keys, self.values
        at = bisect.bisect_left(keys, leaf.key, lo, hi)
        replaced = at < hi and keys[at] == leaf.key
        if replaced and hi - lo == 1 and values[at] == leaf.value:
            return ref
        if not replaced and all(v is None for v in values[lo:hi]):
            return ref  # only deletes of keys that are not there
        self.stale.add(ref)
        return self.build_from(lo, hi, [] if replaced else [(leaf.key, leaf.value)])

    def build_from(self, lo: int, hi: int, extra: list[tuple[bytes, bytes]]) -> bytes | None:
        """A fresh subtree of the writes ``lo:hi`` (deletes dropped) and ``extra`` items."""
        pairs = zip(self.keys[lo:hi], self.values[lo:hi], strict=True)
        items = [(k, v) for k, v in pairs if v is not None]
        for item in extra:
            bisect.insort(items, item)
        return self.build(items, 0, len(items))

    def build(self, items: list[tuple[bytes, bytes]], lo: int, hi: int) -> bytes | None:
        """A fresh subtree of ``items[lo:hi]`` (sorted, distinct keys)."""
        if lo == hi:
            return None
        if hi - lo == 1:
            key, value = items[lo]
            return self.store_leaf(Leaf(key, value))
        bit = bits.find_first_difference(items[lo][0], items[hi - 1][0])
        assert bit is not None  # distinct keys
        middle = _find_side_start([k for k, _ in items[lo:hi]], 0, hi - lo, bit) + lo
        left, right = self.build(items, lo, middle), self.build(items, middle, hi)
        assert left is not None and right is not None
        return self.store_inner(Inner(bit, bits.cut_prefix(items[lo][0], bit), left, right))

    def find_side_start(self, lo: int, hi: int, bit: int) -> int:
        return _find_side_start(self.keys, lo, hi, bit)

    def store_leaf(self, leaf: Leaf) -> bytes:
        return self.store(leaf, nodes.hash_leaf(leaf.key, leaf.value))

    def store_inner(self, inner: Inner) -> bytes:
        left, right = inner.left[VERSION_BYTES:], inner.right[VERSION_BYTES:]
        return self.store(inner, nodes.hash_inner(inner.bit, inner.prefix, left, right))

    def store(self, node: Node, node_hash: bytes) -> bytes:
        node_key = self.version_bytes + node_hash
        self.writes[NODE_PREFIX + node_key] = node.encode()
        self.cache[node_key] = node
        return node_key


def _difference_below(key: bytes, prefix: bytes, bit: int) -> int:
    """The first bit where ``key`` leaves a prefix of ``bit`` bits (``bit`` if it does not)."""
    first = bits.find_first_difference(key, prefix)
    return bit if first is None or first > bit else first


def _find_side_start(keys: Sequence[bytes], lo: int, hi: int, bit: int) -> int:
    """First index in ``keys[lo:hi]`` whose ``bit`` is 1 (keys share every bit before it, so
    the zeros come first)."""
    return bisect.bisect_left(keys, 1, lo, hi, key=lambda k: bits.get_bit(k, bit))


def build_tree(items: Sequence[tuple[bytes, bytes]], version: int = 0) -> StateTree:
    """A tree of ``items`` (any order, distinct keys) from scratch, e.g. genesis."""
    view, _ = StateTree.empty(version).update(version, dict(items))
    return view


__all__ = ["NodeCache", "StateTree", "TreeWrites", "build_tree"]

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import cast

from consensus.codec import CodecError
from consensus.merkle import bits, nodes
from consensus.merkle.nodes import EMPTY_ROOT, LEAF_FIELDS, VERSION_BYTES, Inner, Leaf, Node
from consensus.merkle.store import (
    NODE_PREFIX,
    STALE_PREFIX,
    MemoryNodeStore,
    NodeReader,
    TreeWrites,
    node_entry,
    root_entry,
)

NODE_CACHE_MAX = 1 << 18
"""Decoded nodes kept (about 100 MB at most; evicted oldest first): the hot top of the tree."""

PriorValues = Callable[[bytes], bytes | None]
"""The value a key holds in the version an update starts from (None: absent)."""


class NodeCache:
    """Decoded nodes by node key, bounded; oldest evicted first (dicts keep insertion order).

    The node shares one cache between the block commit's worker thread and RPC readers, so an
    eviction tolerates a key another thread evicted first (``pop``, not ``del``)."""

    __slots__ = ("_nodes", "limit")

    def __init__(self, limit: int = NODE_CACHE_MAX) -> None:
        self._nodes: dict[bytes, Node] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, node_key: bytes) -> Node | None:
        return self._nodes.get(node_key)

    def put_many(self, built: dict[bytes, Node]) -> None:
        cached = self._nodes
        if len(cached) + len(built) > self.limit:
            for old in list(cached)[: max(len(built), self.limit // 8)]:
                cached.pop(old, None)
        cached.update(built)
        if len(cached) > self.limit:  # one batch larger than the whole cache: keep its newest
            for old in list(cached)[: len(cached) - self.limit]:
                cached.pop(old, None)

    def discard_many(self, node_keys: list[bytes]) -> None:
        """Forget nodes a newer version replaced: the versions that still hold them are older
        than the tip, so keeping them would only push out nodes of the current tree."""
        pop = self._nodes.pop
        for node_key in node_keys:
            pop(node_key, None)

    def put(self, node_key: bytes, node: Node) -> None:
        cached = self._nodes
        if len(cached) >= self.limit:
            for old in list(cached)[: max(1, self.limit // 8)]:
                cached.pop(old, None)
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
            if len(node) == LEAF_FIELDS:
                return node[1] if node[0] == key else None
            ref = nodes.child_of(node, bits.get_bit(key, node[0]))
        return None

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value), in key order."""
        stack = [] if self.root is None else [self.root]
        while stack:
            node = self.load(stack.pop())
            if len(node) == LEAF_FIELDS:
                yield node
            else:
                stack += [node[3], node[2]]

    # -- the batch update ------------------------------------------------------------------------

    def update(
        self,
        version: int,
        changes: Mapping[bytes, bytes | None],
        prior: PriorValues | None = None,
    ) -> tuple[StateTree, dict[bytes, bytes | None]]:
        """Apply one batch (None deletes) as version ``version``; return its view and writes.

        ``prior`` may tell the value each changed key holds in this version (None: absent): a
        hint that spares reading the leaf a change replaces (see :meth:`_Batch.known_leaf`).
        A wrong hint costs only that read; the result never depends on it."""
        if version <= self.version and self.root is not None:
            raise ValueError(f"version {version} does not follow {self.version}")
        batch = _Batch(self, version, sorted(changes.items()), prior)
        root = batch.update(self.root, 0, len(batch.keys)) if batch.keys else self.root
        self._cache.discard_many(batch.stale)
        self._cache.put_many(batch.cache)
        writes = batch.writes
        stale_head = STALE_PREFIX + batch.version_bytes
        for node_key in batch.stale:
            writes[stale_head + node_key] = b""
        writes[root_entry(version)] = root or b""
        layers = [writes, *self._layers]
        while len(layers) > 1 and 2 * len(layers[0]) >= len(layers[1]):
            layers[:2] = [{**layers[1], **layers[0]}]
        view = StateTree(self._reader, version, root, tuple(layers), self._cache)
        return view, writes


class _Batch:
    """One update: the sorted changes, and the nodes it creates and retires.

    Each call gets a subtree and the run ``lo:hi`` of the sorted changes that fall inside the key
    range it covers (for a leaf: every change of its parent's range that reaches it). A run is
    split between a node's children with one ``bisect`` on the child's first key
    (:func:`_right_start`), a subtree the run misses is kept as it is, and a leaf is kept unless
    its own key changes: only the nodes on the changed paths are built, hashed and encoded,
    each once."""

    __slots__ = (
        "cache",
        "cached",
        "keys",
        "known",
        "load",
        "prior",
        "stale",
        "values",
        "version_bytes",
        "writes",
    )

    def __init__(
        self,
        tree: StateTree,
        version: int,
        changes: Sequence[tuple[bytes, bytes | None]],
        prior: PriorValues | None,
    ) -> None:
        self.load = tree.load
        self.cached = tree._cache._nodes.get  # the hot path's one lookup, without a call
        self.version_bytes = version.to_bytes(VERSION_BYTES, "big")
        self.keys = [key for key, _ in changes]
        self.values = [value for _, value in changes]
        self.writes: dict[bytes, bytes | None] = {}
        self.stale: list[bytes] = []
        self.cache: dict[bytes, Node] = {}
        """Nodes this batch built; given to the shared cache once, at the end."""
        self.prior = prior
        self.known: dict[int, tuple[bytes, bytes | None]] = {}
        """By change index: the leaf hash of its key's prior value, and that value (asked of
        ``prior`` once, however many unread nodes its path crosses)."""

    def update(self, ref: bytes | None, lo: int, hi: int) -> bytes | None:
        """The new subtree for ``ref`` with changes ``lo:hi`` (``lo < hi``)."""
        if ref is None:
            return self.build(lo, hi)
        node = self.cached(ref)
        if node is None:
            if hi - lo == 1 and self.prior is not None:
                leaf = self.known_leaf(ref, lo)
                if leaf is not None:
                    return self.update_leaf(ref, leaf, lo, hi)
            node = self.load(ref)
        if len(node) == LEAF_FIELDS:
            return self.update_leaf(ref, node, lo, hi)
        return self.update_inner(ref, node, lo, hi)

    def known_leaf(self, ref: bytes, index: int) -> Leaf | None:
        """The leaf ``ref`` without reading it, if it is change ``index``'s key with the value
        ``prior`` says it holds: a node's hash commits to its contents, so a hash equal to that
        leaf's hash is that leaf (a balance update then reads no leaf from disk)."""
        known = self.known.get(index)
        if known is None:
            assert self.prior is not None
            key = self.keys[index]
            value = self.prior(key)
            leaf_hash = b"" if value is None else nodes.hash_leaf(key, value)
            known = self.known[index] = (leaf_hash, value)
        leaf_hash, value = known
        if value is None or ref[VERSION_BYTES:] != leaf_hash:
            return None
        return (self.keys[index], value)

    def update_inner(self, ref: bytes, node: Inner, lo: int, hi: int) -> bytes | None:
        keys = self.keys
        bit, prefix, old_left, old_right = node
        first, last = keys[lo], keys[hi - 1]
        # The keys under ``prefix`` are one run in key order, starting at ``prefix`` itself: the
        # changes are all inside when the first is not below it and the last has its bits
        # (bits.has_prefix, inlined: this runs once per node on every changed path).
        byte, offset = divmod(bit, bits.BITS_PER_BYTE)
        if offset:
            head = prefix[:byte]
            inside = (
                prefix <= first
                and last[:byte] == head
                and len(last) > byte
                and last[byte] & _KEPT_BITS[offset] == prefix[byte]
            )
            right_start = head + _BYTE[prefix[byte] | (0x80 >> (offset - 1))]
        else:
            inside = prefix <= first and last[:byte] == prefix
            right_start = prefix + b"\x00"
        if not inside:
            split = min(_difference_below(first, prefix, bit), _difference_below(last, prefix, bit))
            return self.branch_above(ref, prefix, split, lo, hi)
        middle = bisect.bisect_left(keys, right_start, lo, hi)
        left = old_left if middle == lo else self.update(old_left, lo, middle)
        right = old_right if middle == hi else self.update(old_right, middle, hi)
        if left == old_left and right == old_right:
            return ref
        self.stale.append(ref)
        if left is None or right is None:
            return left or right
        return self.store_inner(bit, prefix, left, right)

    def update_leaf(self, ref: bytes, leaf: Leaf, lo: int, hi: int) -> bytes | None:
        keys, (leaf_key, leaf_value) = self.keys, leaf
        first, last = keys[lo], keys[hi - 1]
        if hi - lo == 1:  # one change
            value = self.values[lo]
            if first == leaf_key:
                if value == leaf_value:
                    return ref
                self.stale.append(ref)
                return None if value is None else self.store_leaf(first, value)
            if value is None:
                return ref  # the delete of a key that is not there
        split = min(
            _difference_below(first, leaf_key, _NO_BIT), _difference_below(last, leaf_key, _NO_BIT)
        )
        return self.branch_above(ref, leaf_key, split, lo, hi)

    def branch_above(self, ref: bytes, key: bytes, split: int, lo: int, hi: int) -> bytes | None:
        """Changes ``lo:hi`` around the subtree ``ref`` (whose keys share ``key``'s first
        ``split`` bits, as every change does, and differ from some change at bit ``split``): a
        node on bit ``split`` joins the subtree, updated by the changes on its side, to a fresh
        subtree of the changes on the other side."""
        start = _right_start(key, split)
        middle = bisect.bisect_left(self.keys, start, lo, hi)
        if key < start:  # the subtree's keys have a 0 at ``split``: it stays on the left
            left = ref if middle == lo else self.update(ref, lo, middle)
            right = self.build(middle, hi)
        else:
            left = self.build(lo, middle)
            right = ref if middle == hi else self.update(ref, middle, hi)
        if left is None or right is None:
            return left or right
        return self.store_inner(split, bits.cut_prefix(key, split), left, right)

    def build(self, lo: int, hi: int) -> bytes | None:
        """A fresh subtree of the changes ``lo:hi``, deletes dropped (None if nothing is left)."""
        keys, values = self.keys, self.values
        if hi - lo == 1:
            value = values[lo]
            return None if value is None else self.store_leaf(keys[lo], value)
        if lo == hi:
            return None
        if None in values[lo:hi]:
            kept = [
                (k, v) for k, v in zip(keys[lo:hi], values[lo:hi], strict=True) if v is not None
            ]
            if not kept:
                return None
            keys, values, lo, hi = [k for k, _ in kept], [v for _, v in kept], 0, len(kept)
        return self.build_items(keys, cast(list[bytes], values), lo, hi)  # no deletes left

    def build_items(self, keys: list[bytes], values: list[bytes], lo: int, hi: int) -> bytes:
        """A fresh subtree of ``keys[lo:hi]`` (sorted, distinct, ``lo < hi``) and their values."""
        if hi - lo == 1:
            return self.store_leaf(keys[lo], values[lo])
        first = keys[lo]
        bit = bits.find_first_difference(first, keys[hi - 1])
        assert bit is not None  # distinct keys
        middle = bisect.bisect_left(keys, _right_start(first, bit), lo, hi)
        left = self.build_items(keys, values, lo, middle)
        right = self.build_items(keys, values, middle, hi)
        return self.store_inner(bit, bits.cut_prefix(first, bit), left, right)

    def store_leaf(self, key: bytes, value: bytes) -> bytes:
        node_key = self.version_bytes + nodes.hash_leaf(key, value)
        self.writes[NODE_PREFIX + node_key] = _pack([0, key, value])  # Leaf.encode, inlined
        self.cache[node_key] = (key, value)
        return node_key

    def store_inner(self, bit: int, prefix: bytes, left: bytes, right: bytes) -> bytes:
        node_hash = nodes.hash_inner(bit, prefix, left[VERSION_BYTES:], right[VERSION_BYTES:])
        node_key = self.version_bytes + node_hash
        self.writes[NODE_PREFIX + node_key] = _pack([1, bit, prefix, left, right])  # Inner.encode
        self.cache[node_key] = (bit, prefix, left, right)
        return node_key


_pack = nodes.PACKER.pack
_KEPT_BITS = tuple((0xFF << (9 - offset)) & 0xFF for offset in range(bits.BITS_PER_BYTE))
"""By a bit's offset in its 9-bit group: the mask of the byte's bits above it."""
_BYTE = tuple(bytes((value,)) for value in range(256))

_NO_BIT = 1 << 62
"""A leaf's "shared prefix length": its whole key (more bits than any key has)."""


def _difference_below(key: bytes, prefix: bytes, bit: int) -> int:
    """The first bit where ``key`` leaves a prefix of ``bit`` bits (``bit`` if it does not)."""
    first = bits.find_first_difference(key, prefix)
    return bit if first is None or first > bit else first


def _right_start(key: bytes, bit: int) -> bytes:
    """The smallest key that shares ``key``'s first ``bit`` bits and has a 1 at bit ``bit``.

    Among keys that share those bits, the ones below it are exactly those with a 0 there (the
    encoding keeps key order), so one ``bisect`` on raw bytes splits a sorted run between a
    node's children. ``key`` must have a byte at bit ``bit``'s position unless that bit is a
    continuation bit."""
    byte, offset = divmod(bit, bits.BITS_PER_BYTE)
    if offset == 0:  # the continuation bit: 0 where the key ends, 1 where it goes on
        return key[:byte] + b"\x00"
    return key[:byte] + _BYTE[(key[byte] & _KEPT_BITS[offset]) | (0x80 >> (offset - 1))]


def build_tree(items: Sequence[tuple[bytes, bytes]], version: int = 0) -> StateTree:
    """A tree of ``items`` (any order, distinct keys) from scratch, e.g. genesis."""
    view, _ = StateTree.empty(version).update(version, dict(items))
    return view


__all__ = ["NodeCache", "StateTree", "TreeWrites", "build_tree"]

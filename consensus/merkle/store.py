"""The tree's storage contract: the keys it writes and the small read interface it needs.

The tree never writes anything itself. An update returns its writes (:data:`TreeWrites`) and the
node puts them in the same atomic batch as the block; tests and the simulator keep them in a
dict (:class:`MemoryNodeStore`). Key space (the node stores it under a prefix of its own):

====================================  =========================================================
key                                   value
====================================  =========================================================
``b"n" + node_key``                   encoded node (``nodes.Leaf`` / ``nodes.Inner``)
``b"r" + version8``                   node key of that version's root (empty: the empty tree)
``b"s" + version8 + node_key``        empty: the node left the tree at that version
====================================  =========================================================

A node that left the tree at version ``v`` is still part of every version below ``v``; once no
version below ``v`` is kept, :func:`plan_prune` lists it for deletion.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from consensus.merkle.nodes import NODE_KEY_BYTES, VERSION_BYTES

NODE_PREFIX = b"n"
ROOT_PREFIX = b"r"
STALE_PREFIX = b"s"

TreeWrites = Mapping[bytes, bytes | None]
"""Writes to the tree's key space (``None`` deletes)."""


class NodeReader(Protocol):
    """Read access to the tree's key space as persisted so far."""

    def get(self, key: bytes) -> bytes | None: ...


class MemoryNodeStore:
    """The tree's key space in a dict (tests, simulator, a genesis not yet persisted)."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: TreeWrites) -> None:
        for key, value in writes.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(k for k in self.data if k.startswith(prefix)):
            yield key, self.data[key]


def node_entry(node_key: bytes) -> bytes:
    return NODE_PREFIX + node_key


def root_entry(version: int) -> bytes:
    return ROOT_PREFIX + version.to_bytes(VERSION_BYTES, "big")


def stale_entry(version: int, node_key: bytes) -> bytes:
    return STALE_PREFIX + version.to_bytes(VERSION_BYTES, "big") + node_key


def plan_prune(
    stale_entries: Iterable[bytes], root_versions: Iterable[int], keep_from: int
) -> list[bytes]:
    """Keys to delete so that only versions ``>= keep_from`` stay readable.

    ``stale_entries`` are ``b"s"`` keys in key order (a prefix scan); the scan may stop at the
    first one of a version above ``keep_from``. ``root_versions`` are the versions whose root
    records exist."""
    deletes: list[bytes] = []
    for entry in stale_entries:
        version = int.from_bytes(entry[1 : 1 + VERSION_BYTES], "big")
        if version > keep_from:
            break
        node_key = entry[1 + VERSION_BYTES :]
        if len(node_key) == NODE_KEY_BYTES:
            deletes += [entry, node_entry(node_key)]
    deletes += [root_entry(v) for v in root_versions if v < keep_from]
    return deletes

"""The node's side of the state tree: read it from the block store, prune old versions.

The tree's logic is pure (``consensus.merkle``); the store keeps its nodes in their own column,
written in each block's atomic batch. Only the last ``[storage] state_versions_kept`` versions
stay readable (proofs at recent heights); older ones are deleted after each commit.
"""

from __future__ import annotations

import sys

from consensus.merkle import NodeCache, StateTree, plan_prune
from consensus.merkle.store import ROOT_PREFIX, STALE_PREFIX, root_entry, stale_entry
from node.storage import Store

RECURSION_LIMIT = 20_000
"""The tree's batch update recurses once or twice per level of the trie, and a path may be as
deep as the longest key has bits (about 9 x 130 for an idempotency key, whose suffix any client
chooses): far past Python's default limit of 1,000 frames. Python-to-Python calls do not grow
the C stack (3.11), so a higher limit is safe."""


def ensure_recursion_headroom() -> None:
    """Raise the interpreter's recursion limit to :data:`RECURSION_LIMIT` (never lower it)."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


class StoreTreeReader:
    """The tree's key space, read from the store's tree column."""

    __slots__ = ("get",)

    def __init__(self, store: Store) -> None:
        self.get = store.get_tree
        """The store's own read (bound once: a block's update may read thousands of nodes)."""


def open_state_tree(store: Store, height: int, cache: NodeCache | None = None) -> StateTree:
    """The stored tree of ``height``; LookupError if it is not stored."""
    return StateTree.open(StoreTreeReader(store), height, cache)


def prune_state_tree(store: Store, height: int, versions_kept: int) -> int:
    """Delete what only versions below ``height - versions_kept + 1`` use; the count deleted."""
    keep_from = height - versions_kept + 1
    if keep_from <= 0:
        return 0
    stale = store.iter_tree(STALE_PREFIX, stop=stale_entry(keep_from + 1, b""))
    roots = store.iter_tree(ROOT_PREFIX, stop=root_entry(keep_from))
    versions = [int.from_bytes(key[len(ROOT_PREFIX) :], "big") for key in roots]
    deletes = plan_prune(stale, versions, keep_from)
    if deletes:
        store.delete_tree(deletes)
    return len(deletes)

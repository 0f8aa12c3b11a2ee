"""How the ledger commits to what it did: the app hash is the root of the state tree over
every state key but the meta record, and a block's receipts are committed by their Merkle root
in the next header (see ``docs/state.md``).

The tree keeps balances as ``B instrument \\0 account`` where the ledger keeps them as
``B account \\0 instrument``: one instrument's balances are then one contiguous range of the
tree, which a proof of liabilities proves complete. Every other key is the same in both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from consensus.blocks import compute_results_hash
from consensus.ledger.events import Receipt, encode_each
from consensus.merkle import StateTree, build_tree
from consensus.merkle.store import TreeWrites
from consensus.types import Hash32

_META_KEY = b"\x00meta"
"""Not committed: it holds the app hash itself (``state.META_KEY``, repeated to avoid a cycle)."""
_BALANCE = b"B"
_SEPARATOR = b"\x00"


def to_tree_key(state_key: bytes) -> bytes:
    """The tree key of a ledger state key."""
    if state_key[:1] != _BALANCE:
        return state_key
    account, _, instrument = state_key[1:].partition(_SEPARATOR)
    return _BALANCE + instrument + _SEPARATOR + account


def to_state_key(tree_key: bytes) -> bytes:
    """The ledger state key of a tree key (the inverse of :func:`to_tree_key`)."""
    if tree_key[:1] != _BALANCE:
        return tree_key
    instrument, _, account = tree_key[1:].partition(_SEPARATOR)
    return _BALANCE + account + _SEPARATOR + instrument


def instrument_balances_range(instrument_id: str) -> tuple[bytes, bytes]:
    """``[lo, hi)`` of the tree keys of every balance of one instrument."""
    head = _BALANCE + instrument_id.encode()
    return head + _SEPARATOR, head + b"\x01"


def commit_changes(
    tree: StateTree,
    height: int,
    changes: Mapping[bytes, bytes | None],
    prior: Callable[[bytes], bytes | None] | None = None,
) -> tuple[StateTree, TreeWrites]:
    """The tree after one block's state changes, as version ``height``, and its writes.

    ``prior`` reads a state key in the state ``tree`` commits to: the tree then recognises the
    leaves it replaces by their hashes instead of reading them (the root is the same either
    way)."""
    batch = {to_tree_key(k): v for k, v in changes.items() if k != _META_KEY}
    if prior is None:
        return tree.update(height, batch)
    return tree.update(height, batch, lambda tree_key: prior(to_state_key(tree_key)))


def build_state_tree(items: Iterable[tuple[bytes, bytes]], height: int) -> StateTree:
    """The tree of a whole state (genesis, or a state rebuilt from its key-value pairs)."""
    return build_tree([(to_tree_key(k), v) for k, v in items if k != _META_KEY], height)


def compute_receipts_hash(receipts: Sequence[Receipt]) -> Hash32:
    """The results root of a block: what the next header's ``last_results_hash`` must be."""
    return compute_results_hash(encode_each(receipts))


def root_of(tree: StateTree) -> Hash32:
    return Hash32(tree.root_hash)


__all__ = ["TreeWrites", "build_state_tree", "commit_changes", "to_state_key", "to_tree_key"]

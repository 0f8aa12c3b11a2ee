"""Installing a verified state snapshot into an empty LevelDB store (state sync).

A snapshot install writes the ledger state and its tree at height ``h``, plus block ``h``, its
certificate, receipts and app hash, and records ``h`` as the store's *base height*: no block
below it is stored, ever. The state can be far larger than one batch, so it goes in several
unsynced batches under an "installing" mark; the last, synced batch writes the block records,
the base height, the latest height and clears the mark. A crash before that leaves height 0
with the mark set: the node refuses to start on it unless state sync runs again, and the next
install first deletes what the interrupted one wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from node.storage import base, keys
from node.storage.base import InvalidInputError

BASE_HEIGHT_META = "base_height"
WINDOW_HEADERS_META = "leader_window_headers"
"""Encoded headers of the blocks below the base height that leader skipping reads (written by
a state sync install; :mod:`node.leader_window` reads it)."""
INSTALLING_META = "statesync_installing"
BATCH_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class SnapshotInstall:
    height: int
    block: bytes
    certificate: bytes
    results: bytes
    app_hash: bytes
    state: Iterable[tuple[bytes, bytes]]
    """Every ledger pair of the state after ``height`` (meta record included)."""
    tree_writes: Mapping[bytes, bytes | None]
    """The state tree of version ``height`` (``consensus.merkle.store`` keys)."""
    window_headers: bytes = b""
    """Encoded headers of the blocks below ``height`` that leader skipping reads, verified
    (kept as the ``leader_window_headers`` metadata record, :mod:`node.leader_window`)."""


def get_base_height(store: Any) -> int:
    """Lowest height whose block the store holds: 1, or the height a snapshot was installed
    at (0 while the store is empty)."""
    if store.latest_height() == 0:
        return 0
    raw = store.get_meta(BASE_HEIGHT_META)
    return 1 if raw is None else keys.decode_height(raw)


def is_install_interrupted(store: Any) -> bool:
    return store.latest_height() == 0 and store.get_meta(INSTALLING_META) is not None


def install_snapshot(db: Any, latest_height: int, install: SnapshotInstall) -> None:
    """Write ``install`` into the plyvel database ``db`` (the store's, under its write lock)."""
    if latest_height != 0:
        raise InvalidInputError(
            f"a snapshot installs only into an empty store, not at {latest_height}"
        )
    base.validate_bytes_arg(install.app_hash, "app_hash")
    db.put(keys.meta_key(INSTALLING_META), b"1", sync=True)
    _delete_prefix(db, keys.PREFIX_STATE)
    _delete_prefix(db, keys.PREFIX_TREE)
    pending = [(keys.state_key(k), v) for k, v in install.state]
    pending += [(keys.tree_key(k), v) for k, v in install.tree_writes.items() if v is not None]
    for start in range(0, len(pending), BATCH_ENTRIES):
        batch = db.write_batch()
        for key, value in pending[start : start + BATCH_ENTRIES]:
            batch.put(key, value)
        batch.write()
    height = install.height
    batch = db.write_batch(sync=True)
    batch.put(keys.block_key(height), install.block)
    batch.put(keys.certificate_key(height), install.certificate)
    batch.put(keys.results_key(height), install.results)
    batch.put(keys.app_hash_key(height), install.app_hash)
    batch.put(keys.meta_key(BASE_HEIGHT_META), keys.encode_height(height))
    if install.window_headers:
        batch.put(keys.meta_key(WINDOW_HEADERS_META), install.window_headers)
    batch.delete(keys.meta_key(INSTALLING_META))
    batch.put(keys.LATEST_HEIGHT_KEY, keys.encode_height(height))
    batch.write()


def _delete_prefix(db: Any, prefix: bytes) -> None:
    upper = keys.compute_prefix_upper_bound(prefix)
    batch = db.write_batch()
    iterator = db.iterator(start=prefix, stop=upper, include_value=False)
    for count, key in enumerate(iterator, 1):
        batch.delete(key)
        if count % BATCH_ENTRIES == 0:
            batch.write()
            batch = db.write_batch()
    batch.write()

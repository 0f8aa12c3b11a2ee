"""An in-memory block store with exactly the semantics of the LevelDB one.

For the simulator and unit tests: same validation, same errors, same iteration order (bytewise
key order), same "view as of the call" iterators. Not durable and not thread-safe; a simulated
node restart keeps using the same object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from consensus.ledger.statebase import MemoryStateBase
from node.storage import base
from node.storage.base import BlockWrite, StoreClosedError


class MemoryStore:
    """Dicts standing in for LevelDB columns (see :mod:`node.storage.keys`)."""

    __slots__ = (
        "_app_hashes",
        "_blocks",
        "_certificates",
        "_closed",
        "_latest_height",
        "_meta",
        "_results",
        "_state",
        "_tree",
        "_tx_locations",
    )

    def __init__(self) -> None:
        self._blocks: dict[int, bytes] = {}
        self._certificates: dict[int, bytes] = {}
        self._results: dict[int, bytes] = {}
        self._app_hashes: dict[int, bytes] = {}
        self._tx_locations: dict[bytes, tuple[int, int]] = {}
        self._state: dict[bytes, bytes] = {}
        self._tree: dict[bytes, bytes] = {}
        self._meta: dict[str, bytes] = {}
        self._latest_height = 0
        self._closed = False

    def commit_block(self, write: BlockWrite) -> None:
        """Validate fully, then apply every part of the block (nothing fails after that)."""
        self._check_open()
        base.validate_block_write(write, self._latest_height)
        tx_writes = base.compute_tx_index_writes(write, self._tx_locations.__contains__)
        height = write.height
        self._blocks[height] = write.block
        self._certificates[height] = write.certificate
        self._results[height] = write.results
        self._app_hashes[height] = write.app_hash
        self._tx_locations.update(tx_writes)
        for key, value in write.state_changes.items():
            if value is None:
                self._state.pop(key, None)
            else:
                self._state[key] = value
        self._apply_tree(write.tree_writes)
        self._latest_height = height

    def _apply_tree(self, writes: Mapping[bytes, bytes | None]) -> None:
        for key, value in writes.items():
            if value is None:
                self._tree.pop(key, None)
            else:
                self._tree[key] = value

    def get_tree(self, key: bytes) -> bytes | None:
        self._check_open()
        base.validate_bytes_arg(key, "key")
        return self._tree.get(key)

    def iter_tree(self, prefix: bytes, stop: bytes | None = None) -> Iterator[bytes]:
        self._check_open()
        found = sorted(k for k in self._tree if k.startswith(prefix))
        return iter([k for k in found if stop is None or k < stop])

    def delete_tree(self, tree_keys: Sequence[bytes]) -> None:
        self._check_open()
        self._apply_tree(dict.fromkeys(tree_keys))

    def latest_height(self) -> int:
        self._check_open()
        return self._latest_height

    def get_block(self, height: int) -> bytes | None:
        return self._get_at(self._blocks, height)

    def get_certificate(self, height: int) -> bytes | None:
        return self._get_at(self._certificates, height)

    def get_results(self, height: int) -> bytes | None:
        return self._get_at(self._results, height)

    def get_app_hash(self, height: int) -> bytes | None:
        return self._get_at(self._app_hashes, height)

    def get_tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        self._check_open()
        base.validate_bytes_arg(tx_hash, "tx_hash")
        return self._tx_locations.get(tx_hash)

    def get_state(self, key: bytes) -> bytes | None:
        self._check_open()
        base.validate_bytes_arg(key, "key")
        return self._state.get(key)

    def iter_state(
        self, prefix: bytes = b"", *, start: bytes | None = None, limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Ledger entries under ``prefix`` (from ``start`` on, at most ``limit``) in key order.

        The view is taken now, at the call: later commits do not show up in this iterator.
        """
        self._check_open()
        base.validate_iter_args(prefix, start, limit)
        lower = max(prefix, start) if start is not None else prefix
        matching = sorted(k for k in self._state if k.startswith(prefix) and k >= lower)
        if limit is not None:
            matching = matching[:limit]
        return iter([(k, self._state[k]) for k in matching])

    def state_snapshot(self) -> MemoryStateBase:
        """A copy of the state column as of now (sorted once: fine for tests' small states)."""
        self._check_open()
        return MemoryStateBase(self._state.items())

    def get_meta(self, key: str) -> bytes | None:
        self._check_open()
        base.validate_meta_name(key)
        return self._meta.get(key)

    def put_meta(self, key: str, value: bytes) -> None:
        self._check_open()
        base.validate_meta_name(key)
        base.validate_meta_value(value)
        self._meta[key] = value

    def close(self) -> None:
        self._closed = True

    def _get_at(self, column: dict[int, bytes], height: int) -> bytes | None:
        self._check_open()
        if not base.validate_height_arg(height):
            return None
        return column.get(height)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

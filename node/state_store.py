"""The node's ledger state on disk: a LevelDB snapshot per committed height, read through a
bounded cache, as the base of the ledger's ``State`` (``consensus.ledger.statebase``).

After each commit the chain takes a snapshot of the state column and gives its committed
``State`` a new :class:`CachedStateBase` over it; the block's writes leave the memory layers.
A ``State`` of an older height keeps its own snapshot, so it never sees later writes.

One :class:`StateCache` serves the bases of every height but holds the records of one height
only (the latest committed one): a base of another height reads its snapshot directly. Its
size is bounded by ``[storage] state_cache_bytes``, the decode memo by
``[storage] state_decoded_records`` and the state tree's node cache by
``[storage] tree_cache_nodes``: with those, the node's memory does not grow with the number of
accounts (``docs/state.md``).

Threads: commits (``advance``) may run beside readers in other threads. A reader checks the
cache's height before and after its probe (a sequence lock: ``advance`` marks the cache invalid
while it changes it), and records from a miss enter the cache only under the lock and only if
the cache still holds the reader's height.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consensus.ledger.state import Missing
from consensus.merkle import NodeCache
from node.storage.base import StateSnapshot
from node.storage.options import LevelDBOptions

if TYPE_CHECKING:
    from node.config import NodeConfig

_MISSING = Missing.MISSING
ENTRY_OVERHEAD_BYTES = 120
"""What one cached record costs beyond its key and value bytes: a dict slot and two bytes
objects' headers (measured on CPython 3.11: 33 + 33 bytes of headers, ~50 of dict entry)."""
_INVALID = -1


@dataclass(frozen=True, slots=True)
class StateLimits:
    """The memory bounds of the ledger state (``[storage]`` keys of the same names)."""

    state_cache_bytes: int = 32 * 1024 * 1024
    state_decoded_records: int = 1 << 15
    tree_cache_nodes: int = 1 << 17

    def make_node_cache(self) -> NodeCache:
        return NodeCache(self.tree_cache_nodes)


def state_limits(config: NodeConfig) -> StateLimits:
    storage = config.storage
    return StateLimits(
        storage.state_cache_bytes, storage.state_decoded_records, storage.tree_cache_nodes
    )


def leveldb_options(config: NodeConfig) -> LevelDBOptions:
    """LevelDB's memory bounds (``[storage] leveldb_*``) for the node's block store."""
    storage = config.storage
    return LevelDBOptions(
        storage.leveldb_max_open_files,
        storage.leveldb_max_file_bytes,
        storage.leveldb_write_buffer_bytes,
        storage.leveldb_block_cache_bytes,
    )


def entry_bytes(key: bytes, value: bytes | None) -> int:
    return len(key) + (0 if value is None else len(value)) + ENTRY_OVERHEAD_BYTES


class StateCache:
    """Raw records (``None``: absent) of the latest committed height, at most ``bytes_limit``
    bytes by :func:`entry_bytes`; oldest inserted evicted first."""

    __slots__ = ("_lock", "bytes_limit", "entries", "size", "version")

    def __init__(self, bytes_limit: int, version: int = _INVALID) -> None:
        if bytes_limit < 0:
            raise ValueError("state_cache_bytes must be >= 0")
        self.bytes_limit = bytes_limit
        self.entries: dict[bytes, bytes | None] = {}
        self.size = 0
        self.version = version
        """The height whose records ``entries`` holds (``_INVALID`` while it changes)."""
        self._lock = threading.Lock()

    def offer(self, version: int, key: bytes, value: bytes | None) -> None:
        """Keep what a reader of ``version`` read from its snapshot, if that is still current."""
        with self._lock:
            if self.version == version:
                self._put_all(((key, value),))
                self._evict()

    def advance(self, version: int, changes: Mapping[bytes, bytes | None]) -> None:
        """The cache of ``version``, whose writes over the current one are ``changes``."""
        with self._lock:
            self.version = _INVALID
            self._put_all(changes.items())
            self._evict()
            self.version = version

    def _put_all(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Keep each (key, value), (re)inserted last: the newest. One loop with the size held in
        a local, for a block's thousands of writes."""
        entries, size = self.entries, self.size
        for key, value in items:
            old = entries.pop(key, _MISSING)
            if old is not _MISSING:
                size -= entry_bytes(key, old)
            entries[key] = value
            size += entry_bytes(key, value)
        self.size = size

    def _evict(self) -> None:
        """Drop the oldest records until 7/8 of the bound is used (in batches: amortised)."""
        if self.size <= self.bytes_limit:
            return
        target, entries = self.bytes_limit - self.bytes_limit // 8, self.entries
        while self.size > target and entries:
            batch = max(64, (self.size - target) // (ENTRY_OVERHEAD_BYTES * 4))
            for key in list(itertools.islice(entries, batch)):
                self.size -= entry_bytes(key, entries.pop(key))
                if self.size <= target:
                    break


class CachedStateBase:
    """The committed state of ``version``: its snapshot, read through the shared cache."""

    __slots__ = ("_cache", "_snapshot", "version")

    def __init__(self, snapshot: StateSnapshot, cache: StateCache, version: int) -> None:
        self._snapshot = snapshot
        self._cache = cache
        self.version = version

    def get(self, key: bytes) -> bytes | None:
        cache, version = self._cache, self.version
        if cache.version == version:
            value = cache.entries.get(key, _MISSING)
            if value is not _MISSING and cache.version == version:
                return value
        value = self._snapshot.get(key)
        cache.offer(version, key, value)
        return value

    def iter_range(self, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Streamed from the snapshot (a walk would only flush the cache)."""
        return self._snapshot.iter_range(start, stop)

"""Pending transactions ordered by their own expiry (``valid_until``), so that after a block
the mempool finds the ones the next block may no longer hold by popping a heap, instead of
checking every pending transaction again.

One heap per kind of limit (block height, block time). Entries are never removed when a
transaction leaves the pool another way (committed, evicted): the mempool skips the hashes it
no longer holds, and rebuilds the heaps from what it holds once stale entries outnumber live
ones, so the heaps stay within a constant factor of the pool.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from consensus.ledger.txs import ValidUntil, ValidUntilKind
from consensus.types import Hash32

STALE_SLACK = 1024
"""Stale entries tolerated beyond the pool's size before a rebuild."""


class ExpiryIndex:
    """Tx hashes by the last height, and by the last block time, at which they may commit."""

    def __init__(self) -> None:
        self._by_height: list[tuple[int, Hash32]] = []
        self._by_time: list[tuple[int, Hash32]] = []

    def __len__(self) -> int:
        return len(self._by_height) + len(self._by_time)

    def add(self, tx_hash: Hash32, valid_until: ValidUntil) -> None:
        heap = self._by_height if valid_until.kind is ValidUntilKind.HEIGHT else self._by_time
        heapq.heappush(heap, (valid_until.value, tx_hash))

    def pop_expired(self, height: int, time_ms: int) -> list[Hash32]:
        """Hashes whose valid_until a block at ``height`` and ``time_ms`` has passed (some may
        have left the pool already), removed from the index."""
        expired = []
        for heap, now in ((self._by_height, height), (self._by_time, time_ms)):
            while heap and heap[0][0] < now:  # ValidUntil.is_expired: now > value
                expired.append(heapq.heappop(heap)[1])
        return expired

    def is_mostly_stale(self, live: int) -> bool:
        return len(self) > 2 * live + STALE_SLACK

    def rebuild(self, live: Iterable[tuple[Hash32, ValidUntil]]) -> None:
        self._by_height, self._by_time = [], []
        for tx_hash, valid_until in live:
            heap = self._by_height if valid_until.kind is ValidUntilKind.HEIGHT else self._by_time
            heap.append((valid_until.value, tx_hash))
        heapq.heapify(self._by_height)
        heapq.heapify(self._by_time)

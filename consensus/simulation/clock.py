"""Simulated time: a clock that only moves when the next scheduled item is taken.

The simulator and the node implement the same idea of time: the replica is handed ``now_ms`` in
events and asks for timeouts through actions. Here nothing ever sleeps; the queue is ordered by
(due time, insertion sequence), so equal due times resolve in a reproducible order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from consensus.types import DurationMs, TimestampMs

_T = TypeVar("_T")

GENESIS_TIME_MS = TimestampMs(1_767_225_600_000)
"""Sim time 0 maps to 2026-01-01T00:00:00Z, so block times look like real ones."""


@dataclass(order=True, slots=True)
class _Entry(Generic[_T]):
    due_ms: int
    sequence: int
    item: _T = field(compare=False)


class SimClock(Generic[_T]):
    """A monotonic simulated clock plus the bounded queue of everything scheduled on it."""

    __slots__ = ("_heap", "_next_sequence", "now_ms", "queue_max")

    def __init__(self, start_ms: TimestampMs = GENESIS_TIME_MS, queue_max: int = 1_000_000):
        self.now_ms: TimestampMs = start_ms
        self.queue_max = queue_max
        self._heap: list[_Entry[_T]] = []
        self._next_sequence = 0

    def schedule(self, delay_ms: DurationMs | int, item: _T) -> None:
        """Run ``item`` ``delay_ms`` from now. A full queue is a simulator bug, not a fault."""
        if delay_ms < 0:
            raise ValueError("cannot schedule in the past")
        if len(self._heap) >= self.queue_max:
            raise OverflowError("simulation event queue is full")
        heapq.heappush(self._heap, _Entry(self.now_ms + delay_ms, self._next_sequence, item))
        self._next_sequence += 1

    def pop(self) -> _T | None:
        """Advance the clock to the next item and return it; None when nothing is scheduled."""
        if not self._heap:
            return None
        entry = heapq.heappop(self._heap)
        self.now_ms = TimestampMs(entry.due_ms)
        return entry.item

    def peek_due_ms(self) -> int | None:
        return self._heap[0].due_ms if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

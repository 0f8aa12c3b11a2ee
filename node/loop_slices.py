"""Long runs of work on the event loop, cut into short slices.

The event loop also runs consensus (timers, votes), P2P and every RPC answer, ``/health``
included. A gossip batch holds up to ``node.gossip.TX_BATCH_MAX`` (2,000) transactions, and
admitting one costs tens of microseconds (a signature check, state lookups): admitted in one
callback, a batch kept every other callback waiting for 50-150 ms on this project's 2-core
bench, more when the machine was busy. A loop over such items asks a :class:`LoopSlice` after
each one; once :data:`SLICE_S` has passed since the loop last had a turn, it yields
(``asyncio.sleep(0)``), and what waited runs before the next slice.

Sliced by time, not by count: a yield costs a few microseconds, more than admitting a cheap
item (a duplicate, a stranger's junk), so yielding after every item would make a flood dearer.
"""

from __future__ import annotations

import asyncio
import time

SLICE_S = 0.002
"""Longest the loop is kept from its other callbacks by one run of items (wall time)."""


class LoopSlice:
    """Yields to the event loop once a slice of work has used up its time."""

    __slots__ = ("_started", "slice_s", "yields")

    def __init__(self, slice_s: float = SLICE_S) -> None:
        self.slice_s = slice_s
        self._started = time.monotonic()
        self.yields = 0
        """Times this slice gave the loop a turn."""

    async def pause_if_due(self) -> None:
        """Give the loop a turn if this slice has run for ``slice_s`` or longer."""
        if time.monotonic() - self._started >= self.slice_s:
            await asyncio.sleep(0)
            self.yields += 1
            self._started = time.monotonic()

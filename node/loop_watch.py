"""How responsive the node's event loop is, measured from inside the node.

Consensus, P2P and the RPC share one asyncio event loop: while any of them runs a long
synchronous stretch, nothing else on the loop (``/health`` included) can answer. Two figures
show it, both served at ``GET /metrics``:

- **lag**: a timer callback asks to wake every ``tick_s`` and records how late it actually woke
  (the longest stall it sat through, whatever caused it), as a histogram and a maximum;
- **stretches**: the node's own known-heavy steps (block execution and storage, the post-commit
  bookkeeping, proposal input, publishing) time themselves with :meth:`LoopWatch.stretch`, so
  the lag can be put down to a stage. A stretch that ran in a worker thread is timed too, under
  its own name: it is the work the loop no longer waits for.

Nothing here changes what the node does; reading the clock twice per stretch is the whole cost.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

TICK_S = 0.05
"""How often the monitor asks to wake. Every stall longer than this is seen (a wake-up falls due
inside it); a shorter one is seen by the wake-ups that happen to fall due inside it, so the
histogram still samples how late a timer set at a random moment wakes. The longest stall is
seen minus at most one tick. Twenty plain callbacks a second cost an idle node well under
1 % of a core, where a hundred task wake-ups cost about 1 %."""

LAG_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Upper bounds of the lag histogram's buckets (Prometheus ``le``); above the last: +Inf."""


@dataclass
class LagHistogram:
    """Counts of observations per bucket of :data:`LAG_BUCKETS_S` (the last slot is +Inf)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS_S) + 1))
    total_s: float = 0.0
    observations: int = 0
    max_s: float = 0.0

    def observe(self, value_s: float) -> None:
        self.counts[bisect.bisect_left(LAG_BUCKETS_S, value_s)] += 1
        self.total_s += value_s
        self.observations += 1
        self.max_s = max(self.max_s, value_s)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it) per bucket, ending with +Inf."""
        out, running = [], 0
        for bound, count in zip((*LAG_BUCKETS_S, float("inf")), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


@dataclass
class StretchStats:
    """One stage's synchronous stretches: how many, their total and the longest."""

    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)


class LoopWatch:
    """The lag monitor (:meth:`run`) and the stretch timers of one node."""

    def __init__(
        self, tick_s: float = TICK_S, monotonic_s: Callable[[], float] = time.monotonic
    ) -> None:
        self.tick_s = tick_s
        self._now = monotonic_s
        self.lag = LagHistogram()
        self.stretches: dict[str, StretchStats] = {}
        self.ticks = 0
        """Times the monitor woke: a test reads it to see the loop ran while work was away."""
        self._timer: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Wake every ``tick_s`` until cancelled, recording how late each wake-up was. The
        wake-up is a plain timer callback (no task step, no future per tick); cancelling this
        coroutine cancels the timer."""
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.tick_s, self._tick, loop, self._now() + self.tick_s)
        try:
            await loop.create_future()  # never set: the ticks run as callbacks
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _tick(self, loop: asyncio.AbstractEventLoop, expected_s: float) -> None:
        now = self._now()
        self.ticks += 1
        self.lag.observe(max(0.0, now - expected_s))
        self._timer = loop.call_later(self.tick_s, self._tick, loop, now + self.tick_s)

    @contextlib.contextmanager
    def stretch(self, stage: str) -> Iterator[None]:
        """Time the ``with`` body as one stretch of ``stage``."""
        started = self._now()
        try:
            yield
        finally:
            self.record(stage, self._now() - started)

    def record(self, stage: str, seconds: float) -> None:
        """Count ``seconds`` as one stretch of ``stage`` (a fixed set of names: no data)."""
        stats = self.stretches.get(stage)
        if stats is None:
            stats = self.stretches[stage] = StretchStats()
        stats.add(seconds)

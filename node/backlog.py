"""Backpressure at the client's door: "try later" once the mempool holds about a second of work.

A transaction admitted when the mempool already holds a long queue waits for all of it: at
saturation that queue, not consensus, is what a client's latency is made of. So a client
submission is refused with :class:`~node.mempool.MempoolFull` (the RPC's 429 "try later", with
Retry-After on the REST API) once the pool holds what the chain commits in ``backlog_ms``:
``rate * backlog_ms / 1000`` txs, where ``rate`` is a running estimate of committed txs per
second over the recent blocks, or ``BACKLOG_TXS_MIN`` if that is more (a quiet chain, whose
rate says little, still takes a burst).

Why a bound in time and not in blocks. A bound of "a few recent blocks" feeds on itself: at
saturation each block takes about everything pending, so the recent block size is only what the
gate let in, and blocks stay as small as the gate, far below what the chain could carry. A bound
in time corrects itself instead. While blocks drain the pool, the measured rate is about the
limit divided by the block time, so the next limit is the old one times ``backlog_ms`` over the
block time; with ``backlog_ms`` longer than a block, the limit grows block by block. It stops
growing only when blocks no longer drain the pool, that is when the chain's real capacity (the
block size cap, or the time a larger block takes) binds and the rate stops following the
limit. From there an accepted tx waits about ``backlog_ms`` for the queue ahead of it plus the
block that carries it.

Empty blocks count toward the time of the next block with txs (a trickle between empty blocks is
a low rate, not a high one), but alone they change nothing: a quiet chain keeps its last known
rate and the floor, and is not dragged to a limit of nothing.

Only client submissions pass here: transactions gossiped by peers were accepted by another
node already and still enter up to the mempool's own bounds, so every node can check and
propose them; and keeping that room is what lets a node reuse its own signature verdict when
the block arrives, instead of verifying again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from consensus.crypto import sha256
from node.chain import CommittedBlock
from node.mempool import MempoolFull

BACKLOG_MS = 1000
BACKLOG_TXS_MIN = 1_000
RATE_WEIGHT = 0.3
"""Weight of the newest block's rate in the running rate (the rest: the history)."""


class BacklogGate:
    """Knows the chain's recent commit rate and refuses client txs beyond ``backlog_ms`` of it.

    ``clock`` is a monotonic clock in seconds (injectable, so tests drive time by hand).
    """

    def __init__(
        self,
        backlog_ms: int = BACKLOG_MS,
        txs_min: int = BACKLOG_TXS_MIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backlog_ms = backlog_ms
        self.txs_min = txs_min
        self.clock = clock
        self.rate = 0.0
        """Running (exponentially weighted) committed txs per second over recent blocks."""
        self.refused_total = 0
        self._last_commit: float | None = None
        self._empty_s = 0.0
        """Time spent on empty blocks since the last block with txs: added to the next one's."""

    @property
    def limit(self) -> int:
        return max(self.txs_min, int(self.rate * self.backlog_ms / 1000))

    def on_commit(self, committed: CommittedBlock) -> None:
        self.record_block(len(committed.tx_hashes))

    def record_block(self, count: int) -> None:
        """A block of ``count`` txs was committed now (by ``clock``)."""
        now = self.clock()
        last, self._last_commit = self._last_commit, now
        if last is None:
            return  # the first commit seen: no interval to measure yet
        elapsed = max(0.0, now - last)
        if count == 0:
            self._empty_s += elapsed
            return
        seconds, self._empty_s = elapsed + self._empty_s, 0.0
        if seconds <= 0.0:
            return  # two commits in one clock tick: no rate to learn from
        sample = count / seconds
        if self.rate == 0.0:
            self.rate = sample
        else:
            self.rate += RATE_WEIGHT * (sample - self.rate)

    def check(self, raw: bytes, pending: int) -> None:
        """Raise MempoolFull when ``pending`` txs are already a full backlog."""
        if pending < self.limit:
            return
        self.refused_total += 1
        raise MempoolFull(sha256(raw), self._reason(pending))

    def _reason(self, pending: int) -> str:
        allowed = f"a backlog of {self.backlog_ms / 1000:g} s"
        if self.rate <= 0.0:
            return f"{pending} txs pending, {allowed} (commit rate not known yet)"
        waiting = pending / self.rate
        return f"{pending} txs pending, about {waiting:.1f} s at {self.rate:.0f} tx/s: {allowed}"

"""How often the driver reaps the mempool for the replica's next proposal (``TxsAvailable``).

A reap walks the pool in block order, up to a block's worth, so its cost grows with the pool:
at a fixed 20 ms gap a pool of 10,000 txs (a lone node admitting a burst, a backlog after a
stall) spends a large share of the event loop's CPU rebuilding the same list. The gap therefore
follows the CPU time of the last reap: reaping takes at most ``REAP_CPU_SHARE`` of the loop,
never more often than every ``MIN_GAP_S`` (a small pool: as before, since a reap under 1 ms of
CPU keeps the least gap) and never less often than every ``MAX_GAP_S`` (the txs a proposal
takes are at most that stale). CPU time, not wall time: a reap preempted on a busy machine is
not a costly one.
"""

from __future__ import annotations

MIN_GAP_S = 0.02
"""Least time between two TxsAvailable."""
MAX_GAP_S = 0.25
REAP_CPU_SHARE = 0.05


def reap_gap_s(last_reap_cpu_s: float) -> float:
    """The time to leave after a reap that took ``last_reap_cpu_s`` of CPU."""
    return min(MAX_GAP_S, max(MIN_GAP_S, last_reap_cpu_s / REAP_CPU_SHARE))

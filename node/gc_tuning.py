"""How the node process sets up Python's cyclic garbage collector once it has started.

A full (generation 2) collection walks every tracked container in the heap while holding the
GIL, so the event loop (consensus timers, P2P, ``/health``) stands still for its whole run. What
the node loads at start-up (modules, the chain's state, caches, configuration) lives as long as
the process: :func:`freeze_start_up_heap` collects once and then moves all of it to the
permanent generation (``gc.freeze``), so later collections no longer walk it. Nothing frozen is
freed, which for start-up objects costs nothing: they were never going to die.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> int:
    """Collect the start-up garbage, then freeze what survives; returns how many objects the
    collector will no longer walk."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

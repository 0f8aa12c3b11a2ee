"""How the node process sets up Python's cyclic garbage collector once it has started.

A full (generation 2) collection walks every tracked container in the heap while holding the
GIL, so the event loop (consensus timers, P2P, ``/health``) stands still for its whole run. What
the node loads at start-up (modules, the chain's state, caches, configuration) lives as long as
the process: :func:`freeze_start_up_heap` collects once and then moves all of it to the
permanent generation (``gc.freeze``), so later collections no longer walk it. Nothing frozen is
freed, which for start-up objects costs nothing: they were never going to die.

The young generation is also made larger (:data:`YOUNG_THRESHOLD` instead of Python's 700):
with 700, a request's short-lived containers (a parsed JSON batch, an answer's dicts, a decoded
block's parts) outlive two young collections while the request runs and are promoted to the old
generation, though they die a moment later. Every promotion counts toward the next full
collection, so a busy RPC (an attacker's heavy batches) meant full collections every few
seconds. With a larger young generation most of them die before any collection sees them; a
young collection walks at most this many new objects, a few milliseconds.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
"""Allocations (less deallocations) of tracked objects between two young collections."""


def enlarge_young_generation() -> int:
    """Collect the young generation every :data:`YOUNG_THRESHOLD` net allocations (returned);
    the older generations' thresholds (collections of the next younger one) stay Python's."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    return gc.get_threshold()[0]


def freeze_start_up_heap() -> int:
    """Collect the start-up garbage, then freeze what survives; returns how many objects the
    collector will no longer walk."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

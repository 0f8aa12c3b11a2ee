"""Times Python's cyclic garbage collector in the node, as stretches of :mod:`node.loop_watch`.

A collection holds the GIL for its whole run: every thread of the node (the event loop that
answers ``/health``, consensus, the read pool) waits until it ends. A full (generation 2)
collection walks every tracked container of the heap, which in a node with a large mempool and
caches is hundreds of milliseconds. Timing each collection from ``gc.callbacks`` puts those
pauses beside the node's other heavy steps (stage ``gc gen N``) in ``GET /metrics``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from node.loop_watch import LoopWatch

GcCallback = Callable[[str, dict[str, Any]], None]


def stage_name(generation: int) -> str:
    return f"gc gen {generation}"


class GcWatch:
    """One ``gc.callbacks`` hook: ``start`` notes the clock, ``stop`` records the pause."""

    def __init__(self, watch: LoopWatch, monotonic_s: Callable[[], float] = time.monotonic):
        self._watch = watch
        self._now = monotonic_s
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._now()
        elif phase == "stop" and self._started is not None:
            self._watch.record(stage_name(int(info["generation"])), self._now() - self._started)
            self._started = None

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def uninstall(self) -> None:
        while self in gc.callbacks:
            gc.callbacks.remove(self)

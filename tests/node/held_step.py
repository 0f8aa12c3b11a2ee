"""A step of a real node's driver held in its worker thread until the test, on the event loop,
has seen the loop keep running.

The tests that check a slow step (a block's execute-and-store, a sign-state persist) runs off
the event loop wrap that step so it calls :meth:`Hold.wait_here` first: the step then waits
until :func:`release_after_ticks`, running on the loop, has seen the loop-lag monitor tick.
Were the step run on the loop, the monitor could not tick, the hold would give up after
:data:`HOLD_S` and ``released_in_time`` would stay false (the test fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.node.boundary import BoundaryLog
from tests.node.node_world import RunningNode

HOLD_S = 30.0
"""How long a held step waits for the loop before it gives up (the failure path)."""
TICKS_WANTED = 3


@dataclass
class Hold:
    """What a held step saw when it started, and the event that lets it go on."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    released_in_time: bool = False
    on_main_thread: bool = True
    handled_at_entry: int = -1

    def wait_here(self, running: RunningNode) -> None:
        """Called at the held step's start: note the thread and the driver's handled count,
        then wait for the test's release (at most :data:`HOLD_S`)."""
        self.on_main_thread = threading.current_thread() is threading.main_thread()
        self.handled_at_entry = running.node.driver.stats.events_handled
        self.entered.set()
        self.released_in_time = self.release.wait(HOLD_S)


@contextlib.asynccontextmanager
async def watched_node(
    home: Path, prepare: Callable[[RunningNode], None]
) -> AsyncIterator[RunningNode]:
    """The node of ``home``, first given to ``prepare`` (to hold a step, fill its mempool), with
    its driver and its loop-lag monitor running; on leaving, the monitor is cancelled and the
    node stopped."""
    running = RunningNode(home, BoundaryLog())
    monitor = asyncio.create_task(running.node.loop_watch.run())
    prepare(running)
    running.start()
    try:
        yield running
    finally:
        monitor.cancel()
        await running.stop()


async def release_after_ticks(
    running: RunningNode, hold: Hold, what: str, meanwhile: Callable[[], None]
) -> int:
    """On the loop: once ``hold`` is entered (``what`` names it), wait for the loop-lag monitor
    to tick, call ``meanwhile`` (e.g. hand the driver a repeated message it must not pass on),
    wake the driver for new txs, then release; returns the handled count just before."""
    watch = running.node.loop_watch
    await running.wait_for(what, hold.entered.is_set)
    ticks = watch.ticks
    await running.wait_for("the loop to tick", lambda: watch.ticks >= ticks + TICKS_WANTED)
    meanwhile()
    running.node.driver.notify_txs_changed()
    for _ in range(20):  # give a driver that did not wait for the held step every chance to run
        await asyncio.sleep(0.005)
    handled = running.node.driver.stats.events_handled
    hold.release.set()
    return handled

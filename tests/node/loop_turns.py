"""Counting the turns other tasks get on the event loop while some work runs (the evidence that
the work yields, with no clock involved)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def count_loop_turns(work: Callable[[], Awaitable[object]]) -> int:
    """How many turns another task got on the loop while ``work`` ran."""
    turns = 0
    done = False

    async def ticker() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = turns
    try:
        await work()
    finally:
        done = True
        await task
    return turns - start

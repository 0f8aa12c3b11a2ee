"""node.rpc.reads' ReadPool as a fair queue: waiting reads are taken client by client, each
client's share of the queue is bounded, and a thread rests after a read when its CPU share is
below 1. Real threads; the order of events is asserted, never how long anything took."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from node.rpc.reads import ReadPool, ReadsBusy, client_scope

WAIT_S = 60.0


def _job(name: str, ran: list[str], gate: threading.Event | None = None) -> Callable[[], str]:
    def job() -> str:
        if gate is not None:
            gate.wait(WAIT_S)
        ran.append(name)
        return name

    return job


async def _submit(pool: ReadPool, client: str, job: Callable[[], str]) -> asyncio.Future[str]:
    with client_scope(client):  # the task copies the context: it runs as this client
        future = asyncio.ensure_future(pool.run(job))
    await asyncio.sleep(0)
    return future


def test_a_flooding_client_waits_behind_its_own_reads_not_in_front_of_others() -> None:
    ran: list[str] = []
    gate = threading.Event()

    async def main() -> None:
        pool = ReadPool(1, 64, client_queued_max=16)
        try:
            first = await _submit(pool, "10.0.0.66", _job("flood-0", ran, gate))
            flood = [await _submit(pool, "10.0.0.66", _job(f"flood-{i}", ran)) for i in range(1, 9)]
            other = await _submit(pool, "10.0.0.7", _job("other", ran))
            gate.set()
            await asyncio.gather(first, other, *flood)
        finally:
            gate.set()
            pool.close()

    asyncio.run(main())
    assert ran[:2] == ["flood-0", "other"]  # next after the read already running
    assert ran[2:] == [f"flood-{i}" for i in range(1, 9)]


def test_one_client_cannot_take_the_whole_queue() -> None:
    gate = threading.Event()
    ran: list[str] = []

    async def main() -> None:
        pool = ReadPool(1, 64, client_queued_max=2)
        try:
            held = [await _submit(pool, "10.0.0.66", _job(f"a{i}", ran, gate)) for i in range(2)]
            with client_scope("10.0.0.66"), pytest.raises(ReadsBusy, match="this client"):
                await pool.run(_job("a2", ran))
            other = await _submit(pool, "10.0.0.7", _job("b", ran, gate))
            gate.set()
            await asyncio.gather(*held, other)
            with client_scope("10.0.0.66"):  # its reads are done: its slots are free again
                assert await pool.run(_job("a3", ran)) == "a3"
        finally:
            gate.set()
            pool.close()

    asyncio.run(main())
    assert sorted(ran) == ["a0", "a1", "a3", "b"]


class StepClock:
    """A monotonic clock that moves only when a job says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("cpu_share", "rests"), [(0.5, True), (1.0, False)])
def test_a_thread_rests_after_a_read_below_its_cpu_share(cpu_share: float, rests: bool) -> None:
    clock = StepClock()
    ran: list[str] = []

    def long_read() -> str:
        clock.now += 1000.0  # "took" 1000 s: at a share of 0.5 the thread rests as long
        ran.append("long")
        return "long"

    async def main() -> bool:
        pool = ReadPool(1, 64, cpu_share=cpu_share, monotonic_s=clock)
        try:
            first = await _submit(pool, "10.0.0.66", long_read)
            second = await _submit(pool, "10.0.0.66", _job("next", ran))
            await first
            for _ in range(50):  # plenty of turns for a free thread to take the next read
                if second.done():
                    break
                await asyncio.sleep(0.001)
            started = second.done()
            second.cancel()
            return started
        finally:
            pool.close()

    assert asyncio.run(main()) is not rests

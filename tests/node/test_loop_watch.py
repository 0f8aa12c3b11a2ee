"""node.loop_watch, its Prometheus rendering (node.metrics) and the bench's reading of it
(node.bench.loop_report): what the node serves is what the bench parses."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from node.bench import loop_report
from node.loop_watch import LAG_BUCKETS_S, LagHistogram, LoopWatch
from node.metrics import collect, render
from tests.node.test_metrics import SNAPSHOT


def test_lag_histogram_counts_each_value_in_the_first_bucket_that_holds_it() -> None:
    lag = LagHistogram()
    for value in (0.0, 0.001, 0.002, 0.3, 99.0):
        lag.observe(value)
    cumulative = dict(lag.cumulative())
    assert cumulative[0.001] == 2 and cumulative[0.005] == 3
    assert cumulative[0.25] == 3 and cumulative[0.5] == 4
    assert cumulative[float("inf")] == 5 == lag.observations
    assert lag.max_s == 99.0
    assert len(cumulative) == len(LAG_BUCKETS_S) + 1


class JumpingClock:
    """Monotonic time that jumps ``jump_s`` on every second reading (a stall while asleep)."""

    def __init__(self, jump_s: float) -> None:
        self.now, self.reads, self.jump_s = 100.0, 0, jump_s

    def __call__(self) -> float:
        self.reads += 1
        if self.reads % 2 == 0:
            self.now += self.jump_s
        return self.now


def test_the_monitor_records_how_late_it_woke() -> None:
    watch = LoopWatch(tick_s=0.001, monotonic_s=JumpingClock(0.5))

    async def main() -> None:
        task = asyncio.create_task(watch.run())
        while watch.ticks < 3:
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(main())
    assert watch.lag.observations >= 3
    assert watch.lag.max_s == pytest.approx(0.499)


def test_cancelling_the_monitor_stops_its_ticks() -> None:
    watch = LoopWatch(tick_s=0.001)

    async def main() -> int:
        task = asyncio.create_task(watch.run())
        while watch.ticks < 3:
            await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        stopped_at = watch.ticks
        for _ in range(20):  # room for a leaked timer to fire again
            await asyncio.sleep(0.002)
        return stopped_at

    stopped_at = asyncio.run(main())
    assert watch.ticks == stopped_at


def test_stretches_are_counted_per_stage_with_their_longest() -> None:
    clock = JumpingClock(0.25)
    watch = LoopWatch(monotonic_s=clock)
    with watch.stretch("commit"):
        pass
    watch.record("commit", 0.75)
    stats = watch.stretches["commit"]
    assert (stats.count, stats.total_s, stats.max_s) == (2, 1.0, 0.75)


def test_the_bench_reads_the_served_loop_metrics_back() -> None:
    before_watch, after_watch = LagHistogram(), LagHistogram()
    for value in (0.002,) * 98:
        before_watch.observe(value)
        after_watch.observe(value)
    for value in (0.002,) * 90 + (0.3,) * 10:  # the phase: 10 % of wake-ups 0.3 s late
        after_watch.observe(value)

    def served(lag: LagHistogram, commits: int, total_s: float) -> str:
        snapshot = dataclasses.replace(
            SNAPSHOT,
            loop_lag_buckets=dict(lag.cumulative()),
            loop_lag_sum_s=lag.total_s,
            loop_lag_max_s=lag.max_s,
            loop_stretches={'commit "worker"': (commits, total_s, 0.5)},
        )
        return render(collect(snapshot))

    text = served(after_watch, 5, 1.5)
    assert 'depochain_event_loop_lag_seconds_bucket{le="+Inf"} 198' in text
    assert 'depochain_loop_stretch_max_seconds{stage="commit \\"worker\\""} 0.5' in text
    phase = loop_report.compare(
        loop_report.parse(served(before_watch, 2, 0.3)), loop_report.parse(text)
    )
    assert phase["lag_p50_s"] == 0.005
    assert phase["lag_p99_s"] == 0.5
    assert phase["lag_max_s"] == 0.3
    figures = phase["stages"]['commit "worker"']
    assert figures == {"count": 3, "mean_s": pytest.approx(0.4), "max_s": 0.5}


def test_a_node_without_a_watch_serves_no_loop_metrics() -> None:
    assert "event_loop" not in render(collect(SNAPSHOT))
    assert loop_report.parse(render(collect(SNAPSHOT)))["lag_buckets"] == {}

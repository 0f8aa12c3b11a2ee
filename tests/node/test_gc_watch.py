"""Collector pauses are timed as loop stretches, and the start-up heap is frozen out of them."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from node.gc_tuning import YOUNG_THRESHOLD, enlarge_young_generation, freeze_start_up_heap
from node.gc_watch import GcWatch, stage_name
from node.loop_watch import LoopWatch


@pytest.fixture
def watch() -> Iterator[LoopWatch]:
    loop_watch = LoopWatch()
    hook = GcWatch(loop_watch)
    hook.install()
    try:
        yield loop_watch
    finally:
        hook.uninstall()


def test_a_full_collection_is_recorded_as_a_gc_gen_2_stretch(watch: LoopWatch) -> None:
    gc.collect()
    stats = watch.stretches[stage_name(2)]
    assert stats.count >= 1
    assert stats.max_s >= 0.0


def test_a_young_collection_is_recorded_under_its_own_generation(watch: LoopWatch) -> None:
    gc.collect(0)
    assert watch.stretches[stage_name(0)].count >= 1
    assert stage_name(2) not in watch.stretches


def test_the_hook_is_installed_once_and_removed_on_uninstall() -> None:
    hook = GcWatch(LoopWatch())
    hook.install()
    hook.install()
    assert gc.callbacks.count(hook) == 1
    hook.uninstall()
    assert hook not in gc.callbacks


def test_the_start_up_heap_is_frozen_out_of_later_collections() -> None:
    survivor = [object() for _ in range(10)]
    try:
        frozen = freeze_start_up_heap()
        assert frozen == gc.get_freeze_count() > 0
        assert gc.is_tracked(survivor)
        assert not any(obj is survivor for obj in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()


def test_a_request_sized_burst_of_short_lived_objects_is_not_promoted() -> None:
    """5,000 containers alive together, as a batch's parsed JSON and answers are: with Python's
    700 a young collection runs while they live and moves them to an older generation (from
    where, counted as promoted, they bring the next full collection closer)."""
    before = gc.get_threshold()
    collections = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    try:
        assert enlarge_young_generation() == YOUNG_THRESHOLD
        gc.collect()
        gc.callbacks.append(note)
        burst = [{"row": i} for i in range(5_000)]
        del burst
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*before)
    assert collections == []

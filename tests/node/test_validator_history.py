"""The node's record of recent validator sets: change points, pruned to the evidence window,
surviving a reopen of a real LevelDB store."""

from __future__ import annotations

from pathlib import Path

from consensus.validators import ValidatorSet
from node.storage import LevelDBStore, MemoryStore
from node.validator_history import ValidatorHistory


def vset(*powers: int) -> ValidatorSet:
    return ValidatorSet.of((bytes([i + 1]) * 32, power) for i, power in enumerate(powers))


def test_change_points_answer_every_height_in_between() -> None:
    history = ValidatorHistory(MemoryStore(), window_heights=100)
    a, b = vset(1, 1, 1), vset(1, 1, 2)
    history.record({1: a, 2: a}, tip=0)
    history.record({5: a, 6: a, 7: b}, tip=5)
    assert [history.get(h) for h in (1, 4, 6, 7, 50)] == [a, a, a, b, b]
    assert history.get(0) is None


def test_pruned_to_the_window_but_the_set_in_force_there_is_kept() -> None:
    history = ValidatorHistory(MemoryStore(), window_heights=10)
    sets = [vset(1, 1, p) for p in (1, 2, 3, 4)]
    for index, current in enumerate(sets):
        start = 1 + 20 * index
        history.record({start: current}, tip=start)
    tip = 61
    history.record({tip: sets[3]}, tip=tip)
    assert history.get(tip - 10) == sets[2]  # in force at the oldest height still needed
    assert history.get(5) is None  # older than the oldest kept change point: unknown
    assert len(history._entries) == 2


def test_history_survives_a_reopen(tmp_path: Path) -> None:
    a, b = vset(3, 3), vset(3, 4)
    with LevelDBStore(tmp_path / "db") as store:
        ValidatorHistory(store, 100).record({1: a, 2: a, 3: b}, tip=1)
    with LevelDBStore(tmp_path / "db") as store:
        again = ValidatorHistory(store, 100)
        assert (again.get(2), again.get(3)) == (a, b)

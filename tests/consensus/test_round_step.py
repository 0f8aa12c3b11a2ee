"""Every (step, step) pair in each kind of move, against an independently written table; and
the timers, which are not steps."""

from __future__ import annotations

import itertools

import pytest

from consensus.round_step import RoundStep, Timer, is_legal_transition

S = RoundStep
STEPS = list(RoundStep)

LEGAL_SAME_ROUND = {
    (S.NEW_HEIGHT, S.NEW_ROUND),
    (S.NEW_HEIGHT, S.PROPOSE),
    (S.NEW_ROUND, S.PROPOSE),
    (S.PROPOSE, S.PREVOTE),
    (S.PREVOTE, S.PREVOTE_WAIT),
    (S.PREVOTE, S.PRECOMMIT),
    (S.PREVOTE_WAIT, S.PRECOMMIT),
    (S.PRECOMMIT, S.PRECOMMIT_WAIT),
    (S.NEW_HEIGHT, S.COMMIT),
    (S.NEW_ROUND, S.COMMIT),
    (S.PROPOSE, S.COMMIT),
    (S.PREVOTE, S.COMMIT),
    (S.PREVOTE_WAIT, S.COMMIT),
    (S.PRECOMMIT, S.COMMIT),
    (S.PRECOMMIT_WAIT, S.COMMIT),
}


@pytest.mark.parametrize("before,after", list(itertools.product(STEPS, STEPS)))
def test_same_round(before: RoundStep, after: RoundStep) -> None:
    expected = (before, after) in LEGAL_SAME_ROUND
    assert is_legal_transition((5, 2, before), (5, 2, after)) == expected


@pytest.mark.parametrize("before,after", list(itertools.product(STEPS, STEPS)))
def test_higher_round(before: RoundStep, after: RoundStep) -> None:
    expected = before != S.COMMIT and after in (S.NEW_ROUND, S.PROPOSE)
    assert is_legal_transition((5, 2, before), (5, 3, after)) == expected
    assert is_legal_transition((5, 2, before), (5, 9, after)) == expected


@pytest.mark.parametrize("before,after", list(itertools.product(STEPS, STEPS)))
def test_lower_round_or_height_never(before: RoundStep, after: RoundStep) -> None:
    assert not is_legal_transition((5, 2, before), (5, 1, after))
    assert not is_legal_transition((5, 2, before), (4, 0, after))
    assert not is_legal_transition((5, 2, before), (7, 0, after))


@pytest.mark.parametrize("before,after", list(itertools.product(STEPS, STEPS)))
def test_next_height(before: RoundStep, after: RoundStep) -> None:
    expected = before == S.COMMIT and after == S.NEW_HEIGHT
    assert is_legal_transition((5, 2, before), (6, 0, after)) == expected
    assert not is_legal_transition((5, 2, before), (6, 1, after))


def test_timers_are_not_steps_and_keep_the_numbers_the_wal_stores() -> None:
    """The node's write-ahead log stores a timeout's timer as its number: never renumber."""
    assert "REBROADCAST" not in RoundStep.__members__
    assert {t.name: int(t) for t in Timer} == {
        "NEW_HEIGHT": 1,
        "NEW_ROUND": 2,
        "PROPOSE": 3,
        "PREVOTE_WAIT": 5,
        "PRECOMMIT_WAIT": 7,
        "REBROADCAST": 9,
    }
    for timer in Timer:  # a timer that ends a step has that step's number
        if timer.name in RoundStep.__members__:
            assert int(RoundStep[timer.name]) == int(timer)

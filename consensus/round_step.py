"""Round steps of a height, the table of legal transitions between (height, round, step), and
the replica's timers.

The replica checks every move against :func:`is_legal_transition`; an illegal one is a bug in
our own code, so it crashes loudly instead of being answered like bad input. A :class:`Timer`
names a timeout the replica schedules; it is not a step (the re-broadcast timer runs in every
step), but the timers that end a step share that step's number, which is also what the node's
write-ahead log stores.
"""

from __future__ import annotations

import enum


class RoundStep(enum.IntEnum):
    NEW_HEIGHT = 1
    """Waiting ``timeout_commit_ms`` after the previous block before round 0."""
    NEW_ROUND = 2
    """Round 0 waiting for txs before proposing (``create_empty_blocks`` off)."""
    PROPOSE = 3
    PREVOTE = 4
    PREVOTE_WAIT = 5
    """Prevoted and saw > 2/3 prevotes for anything; the prevote timeout is running."""
    PRECOMMIT = 6
    PRECOMMIT_WAIT = 7
    """Saw > 2/3 precommits for anything; the precommit timeout is running."""
    COMMIT = 8
    """Decided; waiting for BlockExecuted before the next height."""


class Timer(enum.IntEnum):
    """A timeout of ``ScheduleTimeout`` / ``TimeoutElapsed``. Values are stored in the node's
    write-ahead log: never renumber one."""

    NEW_HEIGHT = 1
    """``timeout_commit_ms`` after the previous block is over: start round 0."""
    NEW_ROUND = 2
    """``empty_block_interval_ms`` is over: propose even without txs."""
    PROPOSE = 3
    """No acceptable proposal in time: prevote nil (line 57)."""
    PREVOTE_WAIT = 5
    """No prevote quorum for one block in time: precommit nil (line 61)."""
    PRECOMMIT_WAIT = 7
    """No decision in time: the next round (line 65)."""
    REBROADCAST = 9
    """Re-send our own signed proposal and votes of the round, so a message lost on the way
    (or during a partition) is eventually delivered once links heal."""


S = RoundStep

SAME_ROUND: frozenset[tuple[RoundStep, RoundStep]] = frozenset(
    {
        (S.NEW_HEIGHT, S.NEW_ROUND),
        (S.NEW_HEIGHT, S.PROPOSE),
        (S.NEW_ROUND, S.PROPOSE),
        (S.PROPOSE, S.PREVOTE),
        (S.PREVOTE, S.PREVOTE_WAIT),
        (S.PREVOTE, S.PRECOMMIT),
        (S.PREVOTE_WAIT, S.PRECOMMIT),
        (S.PRECOMMIT, S.PRECOMMIT_WAIT),
        # A decision (line 49 or block sync) may come in any step but COMMIT itself.
        *((step, S.COMMIT) for step in RoundStep if step != S.COMMIT),
    }
)
"""Legal step changes within one (height, round)."""

NEW_ROUND_FROM: frozenset[RoundStep] = frozenset(s for s in RoundStep if s != S.COMMIT)
"""Steps from which a higher round of the same height may start (timeout or round skip)."""

NEW_ROUND_TO: frozenset[RoundStep] = frozenset({S.NEW_ROUND, S.PROPOSE})

NEW_HEIGHT_FROM: frozenset[RoundStep] = frozenset({S.COMMIT})


def is_legal_transition(
    before: tuple[int, int, RoundStep], after: tuple[int, int, RoundStep]
) -> bool:
    """Whether a replica may move from ``before`` to ``after`` (height, round, step)."""
    (h0, r0, s0), (h1, r1, s1) = before, after
    if h1 == h0 and r1 == r0:
        return (s0, s1) in SAME_ROUND
    if h1 == h0 and r1 > r0:
        return s0 in NEW_ROUND_FROM and s1 in NEW_ROUND_TO
    if h1 == h0 + 1:
        return s0 in NEW_HEIGHT_FROM and r1 == 0 and s1 == S.NEW_HEIGHT
    return False

"""consensus.effects: the one place that orders a node's steps around a signature.

For every PersistSignState the node first logs the message it covers and syncs its WAL, then
persists, then sends; nothing else is added, dropped or reordered. The node's driver and the
simulator's host both follow this list (tests/node/test_driver.py watches the driver do it on
disk; the simulator's crash faults rely on it).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consensus.actions import (
    Action,
    Broadcast,
    PersistSignState,
    ReportEvidence,
    ScheduleTimeout,
    SendTo,
)
from consensus.crypto import sha256
from consensus.effects import Effect, SyncWal, order_effects
from consensus.messages import DuplicateVoteEvidence, Vote
from consensus.proposal import Proposal
from consensus.round_step import Timer
from consensus.safety import SignState, SignStep
from consensus.types import DurationMs, Height, Round
from tests.consensus.replica_fixtures import (
    VSET,
    block_at_1,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

HASH_A, HASH_B = sha256(b"a"), sha256(b"b")
PREVOTE = prevote(1, 0, HASH_A)
PRECOMMIT = precommit(1, 0, HASH_A)
PROPOSAL = proposal(block_at_1())
EVIDENCE = DuplicateVoteEvidence(prevote(2, 0, HASH_A), prevote(2, 0, HASH_B))
PERSIST = PersistSignState(SignState(Height(1), Round(0), SignStep.PREVOTE, HASH_A))
TIMEOUT = ScheduleTimeout(Height(1), Round(0), Timer.PREVOTE_WAIT, DurationMs(1_000))
PEER = VSET.validators[3].public_key


def without_wal_syncs(effects: list[Effect]) -> list[Action]:
    return [e for e in effects if not isinstance(e, SyncWal)]


def _step(effect: Effect) -> tuple[str, object] | None:
    if isinstance(effect, SyncWal):
        return ("log and sync", effect.signed)
    if isinstance(effect, PersistSignState):
        state = effect.sign_state
        return ("persist", (state.height, state.round, state.step))
    if isinstance(effect, Broadcast):
        return ("send", effect.message)
    return None


def test_the_proposer_logs_each_message_then_persists_its_sign_state_then_sends_it() -> None:
    """A real replica's first actions as proposer: a proposal and a prevote, each signed."""
    actions = started(proposer_index(1, 0)).actions
    effects = order_effects(actions)
    own_proposal, own_prevote = [a.message for a in actions if isinstance(a, Broadcast)]
    assert isinstance(own_proposal, Proposal) and isinstance(own_prevote, Vote)
    assert [step for step in map(_step, effects) if step is not None] == [
        ("log and sync", own_proposal),
        ("persist", (1, 0, SignStep.PROPOSAL)),
        ("send", own_proposal),
        ("log and sync", own_prevote),
        ("persist", (1, 0, SignStep.PREVOTE)),
        ("send", own_prevote),
    ]
    assert without_wal_syncs(effects) == actions


def test_actions_without_a_sign_state_get_no_wal_sync() -> None:
    actions: list[Action] = [Broadcast(EVIDENCE), TIMEOUT, ReportEvidence(EVIDENCE)]
    assert order_effects(actions) == actions


def test_the_covered_message_is_the_next_proposal_or_vote_sent_not_evidence() -> None:
    actions: list[Action] = [
        PERSIST,
        Broadcast(EVIDENCE),
        TIMEOUT,
        SendTo(PEER, PRECOMMIT),
        Broadcast(PREVOTE),
    ]
    assert order_effects(actions) == [SyncWal(PRECOMMIT), *actions]


def test_a_sign_state_with_nothing_sent_after_it_still_syncs_the_wal_first() -> None:
    actions: list[Action] = [Broadcast(PREVOTE), PERSIST]
    assert order_effects(actions) == [Broadcast(PREVOTE), SyncWal(None), PERSIST]


def test_each_sign_state_gets_its_own_wal_sync() -> None:
    actions: list[Action] = [PERSIST, Broadcast(PROPOSAL), PERSIST, Broadcast(PREVOTE)]
    assert order_effects(actions) == [
        SyncWal(PROPOSAL),
        PERSIST,
        Broadcast(PROPOSAL),
        SyncWal(PREVOTE),
        PERSIST,
        Broadcast(PREVOTE),
    ]


POOL: list[Action] = [
    PERSIST,
    Broadcast(PROPOSAL),
    Broadcast(PREVOTE),
    SendTo(PEER, PRECOMMIT),
    Broadcast(EVIDENCE),
    ReportEvidence(EVIDENCE),
    TIMEOUT,
]


@given(st.lists(st.sampled_from(POOL), max_size=12))
def test_a_wal_sync_exactly_before_each_sign_state_and_nothing_else_changes(
    actions: list[Action],
) -> None:
    effects = order_effects(actions)
    assert without_wal_syncs(effects) == actions
    for index, effect in enumerate(effects):
        if isinstance(effect, SyncWal):
            assert isinstance(effects[index + 1], PersistSignState)
        if isinstance(effect, PersistSignState):
            assert index > 0 and isinstance(effects[index - 1], SyncWal)

"""Simulator seeds that found bugs, replayed as named regression tests.

Each seed runs the schedule it was found with (``lock_split_attacks=False``: the run's random
streams are exactly those of the simulator of that time; and :func:`_before_timely_proposals`:
clocks without skew and a message delay no run reaches, so proposer-based time never turns a
proposal down, as before it existed; and :func:`_precommit_wait_on_nil`: > 2/3 nil precommits
still wait out the precommit timeout, as before that shortcut existed; and
:func:`_plain_rotation`: round 0 without leader skipping) and must be clean. Where the fix can
be taken out from here, a second test does that and checks that the seed still fails: the
pinned seed keeps exercising the bug, rather than passing because the simulator has drifted
away.
"""

from __future__ import annotations

import dataclasses

import pytest

from consensus import vote_set
from consensus.params import TIME_BOUND_MAX_MS, ConsensusParams
from consensus.replica import rules, validation
from consensus.replica import state as replica_state
from consensus.simulation.checkers import ViolationKind
from consensus.simulation.host import NodeHost
from consensus.simulation.nodes import SimNode
from consensus.simulation.runner import RunResult, SimConfig, default_params, run_simulation
from consensus.types import Hash32


@pytest.fixture(autouse=True)
def _precommit_wait_on_nil(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replica of the time these seeds were found: no early round change on > 2/3 nil
    precommits (that shortcut moves every later message, so the seeds' schedules would differ)."""
    kept = tuple(r for r in rules.UPON_RULES if r is not rules.leave_round_on_nil_precommits)
    monkeypatch.setattr(rules, "UPON_RULES", kept)


@pytest.fixture(autouse=True)
def _plain_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replica of the time these seeds were found: round 0 keeps the plain rotation (leader
    skipping gives other validators some round-0 turns, which moves every later message)."""
    monkeypatch.setattr(replica_state, "compute_proposer_skips", lambda *_: frozenset())
    monkeypatch.setattr(validation, "get_proposer_skips", lambda *_: frozenset())


def _replay(seed: int, validators: int = 4, byzantine: int = 1) -> RunResult:
    config = SimConfig(
        validators=validators,
        byzantine=byzantine,
        lock_split_attacks=False,
        clock_skews=False,
        params=_before_timely_proposals(),
    )
    return run_simulation(seed, config=config)


def _before_timely_proposals() -> ConsensusParams:
    return dataclasses.replace(default_params(), message_delay_ms=TIME_BOUND_MAX_MS)


def _assert_stalls(result: RunResult) -> None:
    assert [v.kind for v in result.violations] == [ViolationKind.LIVENESS], result.violations


# ---------------------------------------------------------------------------------------------
# seed 11 (1 of 4): a double voter hid a polka


@pytest.mark.simulation
def test_seed_11_a_double_voter_cannot_hide_a_polka() -> None:
    """A double voter's nil prevote reached an honest replica before its prevote for X; counting
    only a validator's first vote hid X's polka from that replica forever (liveness). Fixed in
    ``vote_set``: a conflicting vote also counts for the block it names."""
    assert _replay(11).is_ok


@pytest.mark.simulation
def test_seed_11_still_fails_without_counting_conflicting_votes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vote_set, "CONFLICTING_VOTES_MAX", 0)
    _assert_stalls(_replay(11))


# ---------------------------------------------------------------------------------------------
# seed 10090 (1 of 4): a round rusher filled the conflicting-vote slots


@pytest.mark.simulation
def test_seed_10090_a_round_rusher_cannot_use_up_the_conflicting_vote_slots() -> None:
    """A round rusher signed junk votes for rounds ahead; with only 2 conflicting votes counted
    per validator they took the slots before its real vote arrived, hiding a polka again.
    Fixed by counting up to ``CONFLICTING_VOTES_MAX`` = 4."""
    assert _replay(10090).is_ok


@pytest.mark.simulation
def test_seed_10090_still_fails_with_two_conflicting_vote_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vote_set, "CONFLICTING_VOTES_MAX", 2)
    _assert_stalls(_replay(10090))


# ---------------------------------------------------------------------------------------------
# seed 10075 (1 of 4): a crash between persisting a SignState and sending its vote


@pytest.mark.simulation
def test_seed_10075_a_vote_signed_before_a_crash_is_sent_after_restart() -> None:
    """A validator persisted its SignState and crashed before sending the vote it covered; the
    guard then refused to sign that step again and the round stalled for everyone. Fixed by
    logging the signed message in the same write as the SignState (the node's WAL; the
    simulator's ``NodeHost._log_signed_message``) and re-sending it after the restart."""
    assert _replay(10075).is_ok


@pytest.mark.simulation
def test_seed_10075_still_fails_without_logging_the_signed_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(NodeHost, "_log_signed_message", lambda *_: None)
    _assert_stalls(_replay(10075))


# ---------------------------------------------------------------------------------------------
# seed 60353 (1 of 4): gossip took a refused next-height message as delivered


def _note_every_height(self: NodeHost, node: SimNode, height: int, digest: Hash32) -> None:
    node.mark_received(height, digest)  # the code before the fix


@pytest.mark.simulation
def test_seed_60353_gossip_offers_next_height_messages_again() -> None:
    """Byzantine validators filled a replica's bounded next-height buffer; the messages it then
    refused were marked as received, so gossip never offered them again and the node stalled.
    Fixed in the simulator's gossip (``NodeHost._note_received``: only messages of the node's
    current height count as had) and hardened in the replica (each validator gets at most 16
    places in that buffer)."""
    assert _replay(60353).is_ok


@pytest.mark.simulation
def test_seed_60353_still_fails_when_refused_messages_count_as_had(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(NodeHost, "_note_received", _note_every_height)
    _assert_stalls(_replay(60353))


# ---------------------------------------------------------------------------------------------
# seed 40062 (2 of 7): a catch-up storm


@pytest.mark.simulation
def test_seed_40062_two_of_seven_no_catch_up_storm() -> None:
    """Nodes held certificates of the same block from different rounds and answered each
    other's precommits with their own, so catch-up traffic grew until the event queue filled.
    Fixed in the replica: no catch-up reply to a precommit for our last block from any round
    (its minimal reproduction: ``test_replica_fixes.py``). The simulator has changed since
    (WAL replay, gossip), and this seed no longer reaches the storm with the fix taken out:
    seed 110 below does."""
    assert _replay(40062, validators=7, byzantine=2).is_ok


@pytest.mark.simulation
def test_seed_110_two_of_seven_no_catch_up_storm_in_todays_simulator() -> None:
    """The same catch-up storm in today's default 2-of-7 sweep: with the fix taken out of every
    replica (``_validate_lagging_vote`` answering precommits of other rounds again) this seed
    fills the event queue (680,000 events, about 2 minutes, so that check is not run here);
    with it, the run is clean in a few thousand events."""
    result = run_simulation(110, 7, 2)
    assert result.is_ok
    assert result.events < 50_000

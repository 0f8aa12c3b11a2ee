"""node.persister's batching of a ``handle`` result's durable steps, on a real replica's actions
and a real WAL and sign-state file in a temp folder.

The promise: a batch logs every signed message it covers and fsyncs the WAL before it persists
a sign state, persists the LAST sign state of the run (the one covering every signature in it),
never reaches across a block commit, and hands back the sends and timers it passed over, in
their order, to be carried out after it.
"""

from __future__ import annotations

from pathlib import Path

from consensus.actions import Broadcast, CommitBlock, PersistSignState
from consensus.effects import Effect, SyncWal, order_effects
from consensus.messages import Vote
from consensus.proposal import Proposal
from node.loop_watch import LoopWatch
from node.persister import Persister, split_durable_run
from node.signer import SignStateFile
from node.wal import WriteAheadLog
from node.wal_events import encode_own_message
from tests.consensus.replica_fixtures import block_at_1, proposer_index, started


def proposer_effects() -> list[Effect]:
    """The proposer's start at height 1: its proposal and its prevote on it, from the durable
    step of the proposal on (the timers before it are not part of any write)."""
    effects = order_effects(started(proposer_index(1, 0)).actions)
    first = next(i for i, e in enumerate(effects) if isinstance(e, SyncWal))
    return effects[first:]


def test_a_proposal_and_its_prevote_are_one_write_covered_by_the_last_sign_state() -> None:
    effects = proposer_effects()
    proposal, prevote = (e.message for e in effects if isinstance(e, Broadcast))
    assert isinstance(proposal, Proposal) and isinstance(prevote, Vote)
    states = [e.sign_state for e in effects if isinstance(e, PersistSignState)]
    write, rest = split_durable_run(effects)
    assert write.signed == (proposal, prevote)
    assert write.sign_state == states[-1]
    assert rest == [Broadcast(proposal), Broadcast(prevote)]


def test_a_write_never_reaches_across_a_commit() -> None:
    effects = proposer_effects()
    commit = CommitBlock(block_at_1(), None)  # type: ignore[arg-type]  # never carried out
    cut = next(i for i, e in enumerate(effects) if isinstance(e, Broadcast)) + 1
    effects = [*effects[:cut], commit, *effects[cut:]]
    write, rest = split_durable_run(effects)
    [proposal] = write.signed
    assert isinstance(proposal, Proposal)
    first_state = next(e for e in effects if isinstance(e, PersistSignState)).sign_state
    assert write.sign_state == first_state
    assert rest == [Broadcast(proposal), *effects[cut:]]


def test_the_write_logs_and_syncs_then_persists_the_last_state(tmp_path: Path) -> None:
    write, _ = split_durable_run(proposer_effects())
    sign_state_file = SignStateFile(tmp_path / "sign_state.json")
    with WriteAheadLog(tmp_path / "wal") as wal:
        Persister(wal, sign_state_file, LoopWatch()).write(write)
        assert list(wal.replay()) == [encode_own_message(m) for m in write.signed]
    assert SignStateFile(tmp_path / "sign_state.json").load() == write.sign_state

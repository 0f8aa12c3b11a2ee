"""The test-only fault hooks of the replica (``ReplicaFaults``): each breaks exactly its rule.

Every test runs one scenario twice, with the honest replica and with one fault, and shows the
two differ exactly where the fault says; so a hook that stopped working (or an honest replica
that picked up a fault) fails here, not silently in a simulator test that looks for a fork.
"""

from __future__ import annotations

import pytest

from consensus.events import ProposalReceived, Started, TimeoutElapsed, VoteReceived
from consensus.messages import VoteType
from consensus.proposal import Proposal
from consensus.replica import RejectedInput, Replica, ReplicaFaults
from consensus.replica.faults import STALE_APP_HASH
from consensus.round_step import RoundStep, Timer
from consensus.types import Height, TimestampMs
from tests.consensus.replica_fixtures import (
    CHAIN,
    PARAMS,
    block_at_1,
    broadcast_votes,
    broadcasts,
    genesis,
    key_of,
    prevote,
    proposal,
    proposer_index,
)

S = RoundStep
H1 = Height(1)
HONEST = ReplicaFaults()
ME = next(i for i in range(4) if i != proposer_index(1, 0))
"""A validator that is not round 0's proposer."""


def replica_with(faults: ReplicaFaults, index: int = ME) -> Replica:
    replica = Replica(CHAIN, key_of(index), PARAMS, genesis(), faults=faults)
    replica.handle(Started(TimestampMs(1_500)))
    return replica


def others(index: int) -> list[int]:
    return [i for i in range(4) if i != index]


def locked_in_round_0(faults: ReplicaFaults, index: int = ME) -> Replica:
    """``index`` prevoted round 0's proposal, saw its polka and locked on it."""
    replica = replica_with(faults, index)
    block = block_at_1(proposer=proposer_index(1, 0))
    replica.handle(ProposalReceived(proposal(block)))
    for i in others(index)[:2]:
        replica.handle(VoteReceived(prevote(i, 0, block.hash)))
    assert replica.locked == (block.hash, 0)
    return replica


def skip_to_round(replica: Replica, round_: int, index: int = ME) -> None:
    """f+1 nil prevotes of ``round_`` (line 55)."""
    for i in others(index)[:2]:
        replica.handle(VoteReceived(prevote(i, round_, None)))


def test_the_default_is_the_honest_replica() -> None:
    assert Replica(CHAIN, key_of(ME), PARAMS, genesis()).config.faults == HONEST
    assert not any(getattr(HONEST, name) for name in ReplicaFaults.__dataclass_fields__)


@pytest.mark.parametrize(
    "faults", [HONEST, ReplicaFaults(ignore_lock=True)], ids=["honest", "ignore_lock"]
)
def test_ignore_lock_prevotes_another_block_while_locked(faults: ReplicaFaults) -> None:
    replica = locked_in_round_0(faults)
    skip_to_round(replica, 1)
    assert (replica.round, replica.step) == (1, S.PROPOSE)
    other = block_at_1(txs=(b"other",), proposer=proposer_index(1, 1))
    vote = broadcast_votes(replica.handle(ProposalReceived(proposal(other, round_=1))))[0]
    assert (vote.type, vote.round) == (VoteType.PREVOTE, 1)
    assert vote.block_hash == (other.hash if faults.ignore_lock else None)
    assert replica.locked[1] == 0  # the lock itself is kept, only ignored


def _own_proposal_round() -> int:
    return next(r for r in range(1, 20) if proposer_index(1, r) == ME)


@pytest.mark.parametrize(
    "faults", [HONEST, ReplicaFaults(forget_valid_value=True)], ids=["honest", "forget_valid"]
)
def test_forget_valid_value_proposes_a_fresh_block(faults: ReplicaFaults) -> None:
    replica = locked_in_round_0(faults)
    valid_hash, valid_round = replica.valid
    assert valid_round == 0
    round_ = _own_proposal_round()
    actions = []
    for i in others(ME)[:2]:
        actions += replica.handle(VoteReceived(prevote(i, round_, None)))
    [own] = [m for m in broadcasts(actions) if isinstance(m, Proposal)]
    assert own.round == round_
    if faults.forget_valid_value:
        assert (own.block.hash, own.pol_round) != (valid_hash, valid_round)
        assert own.pol_round == -1
    else:
        assert (own.block.hash, own.pol_round) == (valid_hash, valid_round)


@pytest.mark.parametrize(
    "faults", [HONEST, ReplicaFaults(accept_invalid_blocks=True)], ids=["honest", "accept"]
)
def test_accept_invalid_blocks_prevotes_a_block_off_our_chain(faults: ReplicaFaults) -> None:
    replica = replica_with(faults)
    bad = block_at_1(proposer=proposer_index(1, 0), app_hash=b"\x07" * 32)  # type: ignore[arg-type]
    [vote] = broadcast_votes(replica.handle(ProposalReceived(proposal(bad))))
    assert vote.block_hash == (bad.hash if faults.accept_invalid_blocks else None)


@pytest.mark.parametrize(
    "faults", [HONEST, ReplicaFaults(never_precommit=True)], ids=["honest", "never_precommit"]
)
def test_never_precommit_moves_on_without_a_precommit(faults: ReplicaFaults) -> None:
    replica = replica_with(faults)
    block = block_at_1(proposer=proposer_index(1, 0))
    actions = replica.handle(ProposalReceived(proposal(block)))
    for i in others(ME)[:2]:
        actions += replica.handle(VoteReceived(prevote(i, 0, block.hash)))
    assert replica.step == S.PRECOMMIT and replica.locked == (block.hash, 0)
    precommits = [v for v in broadcast_votes(actions) if v.type == VoteType.PRECOMMIT]
    assert len(precommits) == (0 if faults.never_precommit else 1)
    assert [v.type for v in broadcast_votes(actions)] == [VoteType.PREVOTE] + [
        VoteType.PRECOMMIT
    ] * len(precommits)


@pytest.mark.parametrize(
    "faults", [HONEST, ReplicaFaults(never_advance_round=True)], ids=["honest", "never_advance"]
)
def test_never_advance_round_stays_in_its_round(faults: ReplicaFaults) -> None:
    replica = replica_with(faults)
    # round 0 itself starts on Started: the hook blocks only the move to a higher round
    assert (replica.round, replica.step) == (0, S.PROPOSE)
    skip_to_round(replica, 2)  # line 55
    assert replica.round == (0 if faults.never_advance_round else 2)
    replica.handle(TimeoutElapsed(H1, replica.round, Timer.PRECOMMIT_WAIT))  # line 65
    assert replica.round == (0 if faults.never_advance_round else 3)
    assert replica.height == H1


@pytest.mark.parametrize(
    "faults", [HONEST, ReplicaFaults(ignore_propose_timeout=True)], ids=["honest", "ignore"]
)
def test_ignore_propose_timeout_never_prevotes_nil(faults: ReplicaFaults) -> None:
    replica = replica_with(faults)
    actions = replica.handle(TimeoutElapsed(H1, replica.round, Timer.PROPOSE))  # line 57
    votes = broadcast_votes(actions)
    if faults.ignore_propose_timeout:
        assert votes == [] and replica.step == S.PROPOSE
        # refused as an input, with the reason naming the hook (not a silent no-op)
        with pytest.raises(RejectedInput, match=r"^propose timeout ignored \(fault hook\)$"):
            replica.handle_strict(TimeoutElapsed(H1, replica.round, Timer.PROPOSE))
    else:
        assert [(v.type, v.block_hash) for v in votes] == [(VoteType.PREVOTE, None)]


@pytest.mark.parametrize(
    "faults", [HONEST, ReplicaFaults(stale_app_hash=True)], ids=["honest", "stale_app_hash"]
)
def test_stale_app_hash_builds_and_checks_blocks_on_a_state_that_does_not_exist(
    faults: ReplicaFaults,
) -> None:
    replica = replica_with(faults)
    honest_block = block_at_1(proposer=proposer_index(1, 0))
    stale_block = block_at_1(proposer=proposer_index(1, 0), app_hash=STALE_APP_HASH)
    [vote] = broadcast_votes(replica.handle(ProposalReceived(proposal(honest_block))))
    expected = None if faults.stale_app_hash else honest_block.hash
    assert vote.block_hash == expected
    if faults.stale_app_hash:  # and the block that claims the stale state is the one it accepts
        again = replica_with(faults)
        [vote] = broadcast_votes(again.handle(ProposalReceived(proposal(stale_block))))
        assert vote.block_hash == stale_block.hash


@pytest.mark.parametrize(
    "faults",
    [HONEST, ReplicaFaults(accept_untimely_proposals=True)],
    ids=["honest", "accept_untimely"],
)
def test_accept_untimely_proposals_prevotes_a_proposer_a_minute_ahead(
    faults: ReplicaFaults,
) -> None:
    replica = replica_with(faults)
    block = block_at_1(proposer=proposer_index(1, 0), time_ms=61_500)
    [vote] = broadcast_votes(replica.handle(ProposalReceived(proposal(block), TimestampMs(1_500))))
    assert vote.block_hash == (block.hash if faults.accept_untimely_proposals else None)

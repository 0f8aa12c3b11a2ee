"""Proposer-based time: a fresh proposal is prevoted only if its timestamp is within the bounds
of the receiver's clock when it arrived, so fewer than 1/3 of the voting power cannot push block
time (CometBFT's PBTS, Tendermint's timely(v)). A re-proposal with a proof of lock keeps its old
timestamp and is judged by the lock rules alone."""

from __future__ import annotations

import dataclasses

import pytest

from consensus import codec
from consensus.blocks import Block, make_block
from consensus.certificate import make_certificate
from consensus.events import (
    BlockExecuted,
    ProposalReceived,
    TimeoutElapsed,
    VoteReceived,
)
from consensus.messages import CommitCertificate, VoteType
from consensus.params import ROUND_GROWTH_MAX, ConsensusParams
from consensus.replica import Replica
from consensus.round_step import Timer
from consensus.types import Height, Round, TimestampMs
from consensus.vote_set import VoteSet
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    PARAMS,
    VSET,
    block_at_1,
    broadcast_votes,
    non_proposer_index,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

BLOCK_TIME_MS = 2_000
PRECISION = PARAMS.timestamp_precision_ms
DELAY = PARAMS.message_delay_ms
ME = non_proposer_index(1, 0)


def _prevote_on_arrival(received_ms: int, replica: Replica | None = None) -> bytes | None:
    """Our prevote for a fresh height-1 proposal stamped BLOCK_TIME_MS, received then."""
    replica = replica or started(ME).replica
    block = block_at_1(proposer=proposer_index(1, 0), time_ms=BLOCK_TIME_MS)
    out = replica.handle(ProposalReceived(proposal(block), TimestampMs(received_ms)))
    [vote] = broadcast_votes(out)
    assert vote.block_hash in (None, block.hash)
    return vote.block_hash


@pytest.mark.parametrize(
    "received_ms",
    [BLOCK_TIME_MS - PRECISION, BLOCK_TIME_MS, BLOCK_TIME_MS + DELAY + PRECISION],
)
def test_a_proposal_within_the_bounds_is_prevoted(received_ms: int) -> None:
    assert _prevote_on_arrival(received_ms) is not None


@pytest.mark.parametrize(
    "received_ms",
    [
        BLOCK_TIME_MS - PRECISION - 1,  # stamped in the future (the proposer's clock is ahead)
        BLOCK_TIME_MS - 60_000,  # a minute ahead
        BLOCK_TIME_MS + DELAY + PRECISION + 1,  # stamped too long ago (its clock is behind)
    ],
)
def test_an_untimely_fresh_proposal_gets_a_nil_prevote(received_ms: int) -> None:
    assert _prevote_on_arrival(received_ms) is None


def test_an_unknown_arrival_time_is_trusted() -> None:
    """A WAL record of an older version carries no arrival time: judged as it was then."""
    replica = started(ME, now_ms=BLOCK_TIME_MS + 10 * DELAY).replica
    block = block_at_1(proposer=proposer_index(1, 0), time_ms=BLOCK_TIME_MS)
    [vote] = broadcast_votes(replica.handle(ProposalReceived(proposal(block))))
    assert vote.block_hash == block.hash


def test_the_message_delay_grows_ten_percent_a_round_up_to_a_bound() -> None:
    base = PARAMS.message_delay_ms + PRECISION
    assert PARAMS.is_timely(0, base, Round(0))
    assert not PARAMS.is_timely(0, base + 1, Round(0))
    assert PARAMS.is_timely(0, base + PARAMS.message_delay_ms // 10, Round(1))
    most = PARAMS.message_delay_ms * (10 + ROUND_GROWTH_MAX) // 10 + PRECISION
    assert PARAMS.is_timely(0, most, Round(10_000))
    assert not PARAMS.is_timely(0, most + 1, Round(10_000))


def test_a_re_proposal_with_a_proof_of_lock_keeps_its_old_timestamp() -> None:
    """Round 1 re-proposes round 0's block, which got a polka at round 0: its timestamp is old
    by now, and it must still be prevoted (else a locked value could never be decided)."""
    replica = started(ME).replica
    block = block_at_1(proposer=proposer_index(1, 0), time_ms=BLOCK_TIME_MS)
    others = [i for i in range(4) if i != ME]
    for i in others:
        replica.handle(VoteReceived(prevote(i, 0, block.hash)))
    for i in others:
        replica.handle(VoteReceived(precommit(i, 0, None)))
    replica.handle(TimeoutElapsed(Height(1), Round(0), Timer.PRECOMMIT_WAIT))
    late = TimestampMs(BLOCK_TIME_MS + 10 * DELAY)
    re_proposed = proposal(block, round_=1, pol_round=0)
    out = replica.handle(ProposalReceived(re_proposed, late))
    assert [v.block_hash for v in broadcast_votes(out)] == [block.hash]


def test_an_untimely_proposal_buffered_for_the_next_height_is_still_refused() -> None:
    """A proposal of height 2 that arrives before block 1 is executed is judged on arrival."""
    me = next(i for i in range(4) if i not in (proposer_index(1, 0), proposer_index(2, 0)))
    replica = started(me).replica
    block = block_at_1(proposer=proposer_index(1, 0))
    replica.handle(ProposalReceived(proposal(block), TimestampMs(BLOCK_TIME_MS)))
    for i in (i for i in range(4) if i != me):
        replica.handle(VoteReceived(prevote(i, 0, block.hash)))
        replica.handle(VoteReceived(precommit(i, 0, block.hash)))
    certificate = _certify(block, [i for i in range(4) if i != me])
    ahead = make_block(
        chain_id=CHAIN,
        height=Height(2),
        time_ms=TimestampMs(BLOCK_TIME_MS + 60_000),
        proposer=VSET.validators[proposer_index(2, 0)].public_key,
        parent_hash=block.hash,
        last_commit=certificate,
        app_hash=GENESIS_APP_HASH,
        validators_hash=VSET.compute_hash(),
    )
    replica.handle_strict(ProposalReceived(proposal(ahead), TimestampMs(BLOCK_TIME_MS + 10)))
    replica.handle_strict(BlockExecuted(Height(1), GENESIS_APP_HASH, VSET))
    out = replica.handle_strict(TimeoutElapsed(Height(2), Round(0), Timer.NEW_HEIGHT))
    assert [v.block_hash for v in broadcast_votes(out)] == [None]


def _certify(block: Block, signers: list[int]) -> CommitCertificate:
    votes = VoteSet(block.height, Round(0), VoteType.PRECOMMIT, VSET)
    for i in signers:
        votes.add_vote(precommit(i, 0, block.hash))
    return make_certificate(votes, block.hash)


def test_params_on_the_wire_carry_the_time_bounds_and_read_older_records() -> None:
    params = dataclasses.replace(PARAMS, timestamp_precision_ms=250, message_delay_ms=9_000)
    assert ConsensusParams.from_wire(codec.decode(codec.encode(params.to_wire()))) == params
    older = params.to_wire()[:12]
    read = ConsensusParams.from_wire(codec.decode(codec.encode(older)))
    assert (read.timestamp_precision_ms, read.message_delay_ms) == (500, 5_000)
    with pytest.raises(codec.CodecError):
        ConsensusParams.from_wire(codec.decode(codec.encode(params.to_wire()[:13])))
    with pytest.raises(ValueError, match="timestamp_precision_ms"):
        dataclasses.replace(PARAMS, timestamp_precision_ms=0)

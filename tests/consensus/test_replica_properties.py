"""Property tests: random event sequences from honest-looking and broken peers.

For every event: either it is accepted, or ``handle_strict`` raises RejectedInput and the
snapshot is unchanged; nothing else is ever raised; the replica never signs two different
votes for one (height, round, type), and every newly signed broadcast follows the
PersistSignState that records exactly it.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from consensus.actions import Broadcast, PersistSignState
from consensus.crypto import SignPurpose, compute_sign_bytes, sha256
from consensus.events import (
    BlockExecuted,
    Event,
    ProposalReceived,
    TimeoutElapsed,
    TxsAvailable,
    VoteReceived,
)
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.replica import RejectedInput
from consensus.round_step import RoundStep, Timer
from consensus.safety import SignState, SignStep
from consensus.types import Hash32, Height, Round
from consensus.vote_set import CONFLICTING_VOTES_MAX
from tests.consensus.replica_fixtures import (
    CHAIN,
    VSET,
    bad_signature,
    block_at_1,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

ME = 0
BLOCKS = [block_at_1(txs=(b"a",), proposer=1), block_at_1(txs=(b"b",), proposer=2)]
HASHES: list[bytes | None] = [None, BLOCKS[0].hash, BLOCKS[1].hash, b"\x0f" * 32]


def _events() -> list[Event]:
    events: list[Event] = []
    for r in range(4):
        for i in (1, 2, 3):
            for h in HASHES:
                events.append(VoteReceived(prevote(i, r, h)))
                events.append(VoteReceived(precommit(i, r, h)))
        for b in BLOCKS:
            events.append(ProposalReceived(proposal(b, round_=r, pol_round=-1 if r == 0 else 0)))
        for timer in Timer:
            events.append(TimeoutElapsed(Height(1), Round(r), timer))
    v = prevote(2, 0, None)
    events.append(VoteReceived(replace(v, signature=bad_signature(v.signature))))
    events.append(VoteReceived(prevote(1, 0, None, height=2)))
    events.append(ProposalReceived(proposal(BLOCKS[0], signer=(proposer_index(1, 0) + 1) % 4)))
    events.append(TxsAvailable((b"t1", b"t2")))
    events.append(BlockExecuted(Height(1), Hash32(b"\x01" * 32), VSET))
    return events


EVENTS = _events()


@given(st.lists(st.sampled_from(EVENTS), max_size=60))
def test_rejections_change_nothing_and_signing_stays_safe(events: list[Event]) -> None:
    replica = started(ME).replica
    signed: dict[tuple[int, int, int], bytes | None] = {}
    sent: set[bytes] = set()
    for event in events:
        before = replica.snapshot()
        try:
            actions = replica.handle_strict(event)
        except RejectedInput:
            assert replica.snapshot() == before
            continue
        persisted: list[SignState] = []
        for action in actions:
            if isinstance(action, PersistSignState):
                persisted.append(action.sign_state)
            if not isinstance(action, Broadcast) or not isinstance(action.message, Vote | Proposal):
                continue
            message = action.message
            if isinstance(message, Vote) and message.validator == replica.public_key:
                key = (message.height, message.round, int(message.type))
                assert signed.setdefault(key, message.block_hash) == message.block_hash
            if _is_own(message, replica.public_key) and message.signature not in sent:
                # A new signature leaves only after the SignState that covers it (re-broadcasts
                # of one sent before need none).
                assert any(_covers(state, message) for state in persisted), message
                sent.add(message.signature)


def _is_own(message: Vote | Proposal, public_key: bytes | None) -> bool:
    author = message.validator if isinstance(message, Vote) else message.proposer
    return author == public_key


def _covers(state: SignState, message: Vote | Proposal) -> bool:
    """Whether a persisted SignState records exactly this message as the last one signed."""
    if isinstance(message, Vote):
        step = SignStep.PREVOTE if message.type == VoteType.PREVOTE else SignStep.PRECOMMIT
        purpose = SignPurpose.VOTE
        payload = compute_vote_sign_payload(
            message.type, message.height, message.round, message.block_hash
        )
    else:
        step, purpose = SignStep.PROPOSAL, SignPurpose.PROPOSAL
        payload = compute_proposal_sign_payload(
            message.height, message.round, message.pol_round, message.block.hash
        )
    digest = sha256(compute_sign_bytes(purpose, CHAIN, payload))
    return (state.height, state.round, state.step, state.sign_bytes_hash) == (
        message.height,
        message.round,
        step,
        digest,
    )


@given(st.lists(st.sampled_from(EVENTS), max_size=60))
def test_a_quorum_of_precommits_always_commits(events: list[Event]) -> None:
    """Whatever came before, a known proposal plus > 2/3 precommits for it decide (line 49).
    (If another block took round 0's proposal slot, the block is unknown: block sync's job.
    A validator that sent more conflicting precommits than are kept may not count.)"""
    replica = started(ME).replica
    for event in events:
        if not isinstance(event, BlockExecuted):
            replica.handle(event)
    if replica.step == RoundStep.COMMIT:
        return  # another block was already decided (e.g. BLOCKS[1] with its precommits)
    block = BLOCKS[0]
    replica.handle(ProposalReceived(proposal(block, round_=0)))
    for i in (1, 2, 3):
        replica.handle(VoteReceived(precommit(i, 0, block.hash)))
    known = any(p.block.hash == block.hash for _, p in replica.snapshot().proposals)
    if _has_flooded_conflicts(events, block.hash):
        return  # a validator used up its conflicting-vote slots: its vote may not count
    assert (replica.step == RoundStep.COMMIT) == known


def _has_flooded_conflicts(events: list[Event], block_hash: bytes) -> bool:
    """Whether some validator sent more other round-0 precommits than VoteSet keeps."""
    others: dict[int, set[bytes | None]] = {}
    for event in events:
        if isinstance(event, VoteReceived) and event.vote.type == VoteType.PRECOMMIT:
            v = event.vote
            if v.round == 0 and v.block_hash != block_hash:
                others.setdefault(v.validator_index, set()).add(v.block_hash)
    return any(len(hashes) > CONFLICTING_VOTES_MAX for hashes in others.values())


def test_votes_for_nil_and_prevote_types_are_distinct() -> None:
    assert prevote(1, 0, None).type == VoteType.PREVOTE

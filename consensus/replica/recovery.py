"""Recovering from lost messages and restarts: functions of the state.

A validator one height behind gets what decided that height; our own signed messages of the
round are re-sent on a timer, so a message lost in a partition arrives once links heal; and a
restarted validator takes its lock back from what it signed before the restart.

Never: change the replica's state.
"""

from __future__ import annotations

from consensus.actions import Action, Broadcast, SendTo
from consensus.crypto import SignPurpose, compute_sign_bytes, sha256
from consensus.messages import CommitCertificate, Vote, VoteType, compute_vote_sign_payload
from consensus.proposal import Proposal
from consensus.replica.state import HeightState
from consensus.safety import SignState, SignStep
from consensus.types import ChainId, Hash32, PublicKey, Round, ValidatorIndex
from consensus.validators import ValidatorSet


def compute_catch_up_messages(
    peer: PublicKey,
    certificate: CommitCertificate,
    validator_set: ValidatorSet,
    last_proposal: Proposal | None,
) -> list[Action]:
    """For a validator still deciding our previous height: the proposal and the precommits
    that decided it, as CometBFT's catch-up gossip does."""
    out: list[Action] = []
    if last_proposal is not None:
        out.append(SendTo(peer, last_proposal))
    for sig in certificate.signatures:
        member = validator_set.validators[sig.validator_index]
        vote = Vote(
            VoteType.PRECOMMIT,
            certificate.height,
            certificate.round,
            certificate.block_hash,
            sig.validator_index,
            member.public_key,
            sig.signature,
        )
        out.append(SendTo(peer, vote))
    return out


def compute_rebroadcast(
    h: HeightState, public_key: PublicKey | None, own_index: ValidatorIndex | None
) -> list[Action]:
    """Our proposal of this round and our votes of this round and the one before (a validator
    still there needs them to move on)."""
    out: list[Action] = []
    round_ = h.round_state.round
    proposal = h.proposals.get(round_)
    if proposal is not None and proposal.proposer == public_key:
        out.append(Broadcast(proposal))
    rounds = [Round(r) for r in (round_ - 1, round_) if r >= 0]
    for r, vote_type in [(r, t) for r in rounds for t in VoteType]:
        vote = None if own_index is None else h.votes.get(r, vote_type).get_vote(own_index)
        if vote is not None:
            out.append(Broadcast(vote))
    return out


def get_lock_from_sign_state(
    sign_state: SignState,
    chain_id: ChainId,
    public_key: PublicKey | None,
    h: HeightState,
    block_hash: Hash32,
) -> Round | None:
    """The round we were locked on ``block_hash`` in, if the last thing we signed (before a
    restart) was a precommit for it at this height above our lock: the persisted sign-bytes
    hash proves it even when the vote itself never reached the log."""
    if (
        sign_state.height != h.height
        or sign_state.step != SignStep.PRECOMMIT
        or sign_state.round <= h.locked_round
        or public_key is None
    ):
        return None
    payload = compute_vote_sign_payload(
        VoteType.PRECOMMIT, sign_state.height, sign_state.round, block_hash
    )
    sign_bytes = compute_sign_bytes(SignPurpose.VOTE, chain_id, payload)
    if sha256(sign_bytes) != sign_state.sign_bytes_hash:
        return None
    return sign_state.round


def get_lock_from_own_precommit(
    vote: Vote, public_key: PublicKey | None, h: HeightState
) -> Round | None:
    """The round of our own precommit for a block coming back after a restart (replayed log or
    gossip), if above our lock: we were locked on it then. Without taking the lock back a
    restarted validator could prevote another block and help a conflicting decision."""
    if (
        vote.validator == public_key
        and vote.type == VoteType.PRECOMMIT
        and vote.block_hash is not None
        and vote.round > h.locked_round
    ):
        return vote.round
    return None

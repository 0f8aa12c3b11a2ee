"""Input validation: each event is checked completely, before anything changes.

:func:`validate_event` returns the transition an accepted event makes, or raises
:class:`RejectedInput`; it reads the state and never changes it (the valid(v) cache aside), so
a rejected input leaves :meth:`consensus.replica.Replica.snapshot` equal.

Never: change the replica's state.
"""

from __future__ import annotations

from consensus.blocks import Block
from consensus.certificate import CertificateError, verify_certificate
from consensus.events import (
    BlockExecuted,
    CommittedBlockReceived,
    Event,
    EvidenceReceived,
    ProposalReceived,
    Started,
    TimeoutElapsed,
    TxsAvailable,
    VoteReceived,
)
from consensus.leader import advance_window, compute_proposer_skips, could_propose
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote, VoteType
from consensus.params import BLOCK_TXS_HARD_MAX
from consensus.proposal import Proposal
from consensus.replica import transitions as t
from consensus.replica.state import (
    FUTURE_HEIGHT_MESSAGES_MAX,
    FUTURE_MESSAGES_PER_VALIDATOR_MAX,
    FUTURE_ROUNDS_PER_VALIDATOR_MAX,
    PENDING_EVIDENCE_MAX,
    PREVOTE_STEPS,
    PROPOSAL_ROUNDS_AHEAD_MAX,
    RejectedInput,
    ReplicaConfig,
    ReplicaState,
)
from consensus.replica.validity import get_evidence_invalidity_at, get_invalidity
from consensus.round_step import S, Timer
from consensus.types import ChainId, PublicKey, Round
from consensus.validators import ValidatorSet
from consensus.vote_set import InvalidVote, validate_vote


def validate_event(config: ReplicaConfig, state: ReplicaState, event: Event) -> t.Transition:
    """The transition ``event`` makes, or :class:`RejectedInput` (nothing changed)."""
    if isinstance(event, Started):
        if state.started:
            raise RejectedInput("already started")
        return t.Start()
    if isinstance(event, TxsAvailable):
        return validate_txs(event.txs)
    if not state.started:
        raise RejectedInput("not started")
    if isinstance(event, ProposalReceived):
        return validate_proposal(config, state, event.proposal, event.now_ms)
    if isinstance(event, VoteReceived):
        return validate_vote_received(config, state, event.vote)
    if isinstance(event, TimeoutElapsed):
        return validate_timeout(config, state, event)
    if isinstance(event, BlockExecuted):
        return validate_block_executed(state, event)
    if isinstance(event, CommittedBlockReceived):
        return validate_committed_block(config, state, event.block, event.certificate)
    if isinstance(event, EvidenceReceived):
        return validate_evidence_received(config, state, event.evidence)
    raise RejectedInput(f"unknown event {type(event).__name__}")


def validate_txs(txs: tuple[bytes, ...]) -> t.SetTxs:
    if len(txs) > BLOCK_TXS_HARD_MAX * 4 or any(type(tx) is not bytes for tx in txs):
        raise RejectedInput("bad txs list")
    return t.SetTxs(tuple(txs))


def validate_proposal(
    config: ReplicaConfig, state: ReplicaState, p: Proposal, received_ms: int | None = None
) -> t.Transition:
    h = state.current
    timely = received_ms is None or config.params.is_timely(
        p.block.header.time_ms, received_ms, p.round
    )
    if p.height == h.height + 1:
        skips = get_proposer_skips(state, p.height)
        validate_proposal_signed(p, state.validator_sets.get(p.height), config.chain_id, skips)
        return validate_buffering(state, p, timely)
    if p.height != h.height or h.round_state.step == S.COMMIT:
        raise RejectedInput("proposal not for our height")
    if p.round > h.round_state.round + PROPOSAL_ROUNDS_AHEAD_MAX:
        raise RejectedInput("proposal too far ahead")
    if p.round in h.proposals:
        raise RejectedInput("already have a proposal for this round")
    validate_proposal_signed(p, state.validator_sets[h.height], config.chain_id, h.proposer_skips)
    return t.StoreProposal(p, timely)


def validate_proposal_signed(
    p: Proposal,
    vset: ValidatorSet | None,
    chain_id: ChainId,
    skips: frozenset[PublicKey] | None,
) -> None:
    """Signed by the proposer of its round; ``skips`` as :func:`get_proposer_skips` gives."""
    if vset is None:
        raise RejectedInput("no validator set for the proposal's height")
    if not -1 <= p.pol_round < p.round:
        raise RejectedInput("pol_round out of range")
    if not could_propose(vset, p.height, p.round, p.proposer, skips):
        raise RejectedInput("not the proposer of this round")
    if not p.is_signature_valid(chain_id):
        raise RejectedInput("bad proposal signature")


def get_proposer_skips(state: ReplicaState, height: int) -> frozenset[PublicKey] | None:
    """Whom round 0 of ``height`` skips (:mod:`consensus.leader`): known for our height, and
    for the next one once our block is decided; None (unknown) otherwise."""
    h = state.current
    if height == h.height:
        return h.proposer_skips
    vset = state.validator_sets.get(height)
    if height == h.height + 1 and h.decision is not None and vset is not None:
        header = h.decision[0].header
        signers_set = state.validator_sets.get(header.height - 1)
        return compute_proposer_skips(
            advance_window(h.leader_window, header, signers_set), vset, height
        )
    return None


def validate_vote_received(config: ReplicaConfig, state: ReplicaState, vote: Vote) -> t.Transition:
    h = state.current
    if vote.height == h.height + 1:
        validate_vote_signed(vote, state.validator_sets.get(vote.height), config.chain_id)
        return validate_buffering(state, vote)
    if vote.height == h.height - 1:
        return validate_lagging_vote(config, state, vote)
    if vote.height != h.height:
        raise RejectedInput("vote not for our height")
    validate_vote_signed(vote, state.validator_sets[h.height], config.chain_id)
    votes = h.votes.get(vote.round, vote.type)
    # [simulator fix] Reject only a vote that is already counted. Rejecting a conflicting
    # vote because its evidence was already known (e.g. gossiped) kept it out of the tally
    # (see vote_set.VoteSet.add_vote) and so could hide a polka: liveness, sim seed 11.
    if votes.contains(vote):
        raise RejectedInput("duplicate vote")
    round_ = h.round_state.round
    if (
        votes.get_vote(vote.validator_index) is None
        and vote.round > round_
        and not h.votes.has_vote_in_round(vote.validator_index, vote.round)
        and h.votes.count_rounds_above(vote.validator_index, round_)
        >= FUTURE_ROUNDS_PER_VALIDATOR_MAX
    ):
        raise RejectedInput("validator opened too many future rounds")
    return t.AddVote(vote)


def validate_lagging_vote(
    config: ReplicaConfig, state: ReplicaState, vote: Vote
) -> t.HelpLaggingPeer:
    """A validator still deciding our previous height: send it what decided it."""
    cert = state.current.last_commit
    if cert is None or (vote.type == VoteType.PRECOMMIT and vote.block_hash == cert.block_hash):
        # Such votes are what we send in catch-up ourselves: answering them would ping-pong.
        # [simulator fix] In ANY round: nodes can hold certificates of the same block from
        # different rounds, and answering the other round's precommits made a catch-up storm
        # that grew without bound (`depochain simulate --seed 40062 --validators 7
        # --byzantine 2`). A lagging validator still gets help through its other votes.
        raise RejectedInput("vote for the previous height")
    validate_vote_signed(vote, state.validator_sets.get(vote.height), config.chain_id)
    return t.HelpLaggingPeer(vote.validator, cert)


def validate_vote_signed(vote: Vote, vset: ValidatorSet | None, chain_id: ChainId) -> None:
    if vset is None:
        raise RejectedInput("no validator set for the vote's height")
    try:
        validate_vote(vote, vset, chain_id)
    except InvalidVote as exc:
        raise RejectedInput(str(exc)) from exc


def validate_buffering(
    state: ReplicaState, message: Proposal | Vote, timely: bool = True
) -> t.BufferForNextHeight:
    buffered = state.next_height_messages
    if len(buffered) >= FUTURE_HEIGHT_MESSAGES_MAX or message in buffered:
        raise RejectedInput("next-height buffer full or duplicate")
    author = _author(message)
    if sum(_author(m) == author for m in buffered) >= FUTURE_MESSAGES_PER_VALIDATOR_MAX:
        raise RejectedInput("validator's share of the next-height buffer is used up")
    return t.BufferForNextHeight(message, timely)


def validate_timeout(
    config: ReplicaConfig, state: ReplicaState, timeout: TimeoutElapsed
) -> t.Transition:
    at = state.current.round_state
    if timeout.height != state.current.height or timeout.round != at.round or at.step == S.COMMIT:
        raise RejectedInput("stale timeout")
    if timeout.timer == Timer.NEW_HEIGHT and at.step == S.NEW_HEIGHT:
        return t.StartRound(Round(0))
    if timeout.timer == Timer.NEW_ROUND and at.step == S.NEW_ROUND:
        return t.EnterPropose()
    if timeout.timer == Timer.PROPOSE and at.step == S.PROPOSE:
        if config.faults.ignore_propose_timeout:
            raise RejectedInput("propose timeout ignored (fault hook)")
        return t.Prevote(None)  # line 57
    if timeout.timer == Timer.PREVOTE_WAIT and at.step in PREVOTE_STEPS:
        return t.PrecommitNil()  # line 61
    if timeout.timer == Timer.REBROADCAST and at.step != S.NEW_HEIGHT:
        return t.Rebroadcast()
    if timeout.timer == Timer.PRECOMMIT_WAIT:
        return t.StartRound(Round(at.round + 1))  # line 65
    raise RejectedInput("stale timeout")


def validate_block_executed(state: ReplicaState, e: BlockExecuted) -> t.EnterNextHeight:
    if state.current.decision is None or e.height != state.current.height:
        raise RejectedInput("no decided block at this height")
    return t.EnterNextHeight(e)


def validate_committed_block(
    config: ReplicaConfig, state: ReplicaState, block: Block, cert: CommitCertificate
) -> t.Decide:
    h = state.current
    if block.height != h.height or h.decision is not None:
        raise RejectedInput("committed block is not the next one")
    try:
        verify_certificate(
            cert, block.hash, h.height, state.validator_sets[h.height], config.chain_id
        )
    except CertificateError as exc:
        raise RejectedInput(f"certificate: {exc}") from exc
    reason = get_invalidity(config, state, block)
    if reason is not None:
        raise RejectedInput(f"invalid block: {reason}")
    return t.Decide(block, cert)


def validate_evidence_received(
    config: ReplicaConfig, state: ReplicaState, evidence: DuplicateVoteEvidence
) -> t.AddEvidence:
    digest = evidence.compute_hash()
    if digest in state.pending_evidence or digest in state.committed_evidence:
        raise RejectedInput("evidence already known")
    if len(state.pending_evidence) >= PENDING_EVIDENCE_MAX:
        raise RejectedInput("evidence pool full")
    reason = get_evidence_invalidity_at(config, state, evidence, state.current.height)
    if reason is not None:
        raise RejectedInput(reason)
    return t.AddEvidence(evidence)


def _author(message: Proposal | Vote) -> bytes:
    return message.proposer if isinstance(message, Proposal) else message.validator

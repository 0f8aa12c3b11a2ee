"""Input validation of the replica: each event is checked completely before anything changes.

``_validate`` returns the mutation to run, or raises :class:`RejectedInput` having changed
nothing; so a rejected input leaves :meth:`consensus.replica.Replica.snapshot` equal.

Never: mutate state while validating.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.actions import Action
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
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote, VoteType
from consensus.params import BLOCK_TXS_HARD_MAX
from consensus.proposal import Proposal
from consensus.replica.state import (
    FUTURE_HEIGHT_MESSAGES_MAX,
    FUTURE_MESSAGES_PER_VALIDATOR_MAX,
    FUTURE_ROUNDS_PER_VALIDATOR_MAX,
    PENDING_EVIDENCE_MAX,
    PREVOTE_STEPS,
    PROPOSAL_ROUNDS_AHEAD_MAX,
    RejectedInput,
    S,
)
from consensus.replica.steps import StepTransitions
from consensus.types import Round
from consensus.validators import ValidatorSet
from consensus.vote_set import InvalidVote, validate_vote


class InputValidation(StepTransitions):
    """Returns the mutation to run, or raises RejectedInput having changed nothing."""

    def _validate(self, event: Event) -> Callable[[list[Action]], None]:
        if isinstance(event, Started):
            if self._started:
                raise RejectedInput("already started")
            return self._on_started
        if isinstance(event, TxsAvailable):
            return self._validate_txs(event.txs)
        if not self._started:
            raise RejectedInput("not started")
        if isinstance(event, ProposalReceived):
            return self._validate_proposal(event.proposal)
        if isinstance(event, VoteReceived):
            return self._validate_vote(event.vote)
        if isinstance(event, TimeoutElapsed):
            return self._validate_timeout(event)
        if isinstance(event, BlockExecuted):
            return self._validate_block_executed(event)
        if isinstance(event, CommittedBlockReceived):
            return self._validate_committed_block(event.block, event.certificate)
        if isinstance(event, EvidenceReceived):
            return self._validate_evidence_received(event.evidence)
        raise RejectedInput(f"unknown event {type(event).__name__}")

    def _validate_txs(self, txs: tuple[bytes, ...]) -> Callable[[list[Action]], None]:
        if len(txs) > BLOCK_TXS_HARD_MAX * 4 or any(type(tx) is not bytes for tx in txs):
            raise RejectedInput("bad txs list")

        def apply(out: list[Action]) -> None:
            self._txs = tuple(txs)
            if self._started and self._step == S.NEW_ROUND and self._txs:
                self._enter_propose(out)

        return apply

    def _validate_proposal(self, p: Proposal) -> Callable[[list[Action]], None]:
        if p.height == self._height + 1:
            self._check_proposal_signed(p, self._sets.get(p.height))
            return self._buffer_future(p)
        if p.height != self._height or self._step == S.COMMIT:
            raise RejectedInput("proposal not for our height")
        if p.round > self._round + PROPOSAL_ROUNDS_AHEAD_MAX:
            raise RejectedInput("proposal too far ahead")
        if p.round in self._proposals:
            raise RejectedInput("already have a proposal for this round")
        self._check_proposal_signed(p, self._sets[self._height])
        return lambda out: self._store_proposal(p)

    def _check_proposal_signed(self, p: Proposal, vset: ValidatorSet | None) -> None:
        if vset is None:
            raise RejectedInput("no validator set for the proposal's height")
        if not -1 <= p.pol_round < p.round:
            raise RejectedInput("pol_round out of range")
        if vset.proposer(p.height, p.round).public_key != p.proposer:
            raise RejectedInput("not the proposer of this round")
        if not p.is_signature_valid(self.chain_id):
            raise RejectedInput("bad proposal signature")

    def _validate_vote(self, vote: Vote) -> Callable[[list[Action]], None]:
        if vote.height == self._height + 1:
            self._check_vote_signed(vote, self._sets.get(vote.height))
            return self._buffer_future(vote)
        if vote.height == self._height - 1:
            return self._validate_lagging_vote(vote)
        if vote.height != self._height:
            raise RejectedInput("vote not for our height")
        self._check_vote_signed(vote, self._sets[self._height])
        existing = self._votes.get(vote.round, vote.type).get_vote(vote.validator_index)
        # [simulator fix] Reject only a vote that is already counted. Rejecting a conflicting
        # vote because its evidence was already known (e.g. gossiped) kept it out of the tally
        # (see vote_set.VoteSet.add_vote) and so could hide a polka: liveness, sim seed 11.
        if self._votes.get(vote.round, vote.type).contains(vote):
            raise RejectedInput("duplicate vote")
        if (
            existing is None
            and vote.round > self._round
            and not self._votes.has_vote_in_round(vote.validator_index, vote.round)
            and self._votes.count_rounds_above(vote.validator_index, self._round)
            >= FUTURE_ROUNDS_PER_VALIDATOR_MAX
        ):
            raise RejectedInput("validator opened too many future rounds")
        return lambda out: self._add_vote(vote, out)

    def _validate_lagging_vote(self, vote: Vote) -> Callable[[list[Action]], None]:
        """A validator still deciding our previous height: send it what decided it (the
        certificate's precommits and the proposal), as CometBFT's catch-up gossip does."""
        cert = self._last_commit
        if cert is None or (vote.type == VoteType.PRECOMMIT and vote.block_hash == cert.block_hash):
            # Such votes are what we send in catch-up ourselves: answering them would ping-pong.
            # [simulator fix] In ANY round: nodes can hold certificates of the same block from
            # different rounds, and answering the other round's precommits made a catch-up storm
            # that grew without bound (`depochain simulate --seed 40062 --validators 7
            # --byzantine 2`). A lagging validator still gets help through its other votes.
            raise RejectedInput("vote for the previous height")
        self._check_vote_signed(vote, self._sets.get(vote.height))
        return lambda out: out.extend(self._get_catch_up_messages(vote.validator, cert))

    def _check_vote_signed(self, vote: Vote, vset: ValidatorSet | None) -> None:
        if vset is None:
            raise RejectedInput("no validator set for the vote's height")
        try:
            validate_vote(vote, vset, self.chain_id)
        except InvalidVote as exc:
            raise RejectedInput(str(exc)) from exc

    def _buffer_future(self, message: Proposal | Vote) -> Callable[[list[Action]], None]:
        if len(self._future) >= FUTURE_HEIGHT_MESSAGES_MAX or message in self._future:
            raise RejectedInput("next-height buffer full or duplicate")
        author = _author(message)
        if sum(_author(m) == author for m in self._future) >= FUTURE_MESSAGES_PER_VALIDATOR_MAX:
            raise RejectedInput("validator's share of the next-height buffer is used up")
        return lambda out: self._future.append(message)

    def _validate_timeout(self, t: TimeoutElapsed) -> Callable[[list[Action]], None]:
        if t.height != self._height or t.round != self._round or self._step == S.COMMIT:
            raise RejectedInput("stale timeout")
        if t.step == S.NEW_HEIGHT and self._step == S.NEW_HEIGHT:
            return lambda out: self._start_round(Round(0), out)
        if t.step == S.NEW_ROUND and self._step == S.NEW_ROUND:
            return self._enter_propose
        if t.step == S.PROPOSE and self._step == S.PROPOSE:
            return self._on_timeout_propose
        if t.step == S.PREVOTE_WAIT and self._step in PREVOTE_STEPS:
            return self._on_timeout_prevote
        if t.step == S.REBROADCAST and self._step != S.NEW_HEIGHT:
            return self._on_rebroadcast
        if t.step == S.PRECOMMIT_WAIT:
            return lambda out: self._start_round(Round(self._round + 1), out)  # line 65
        raise RejectedInput("stale timeout")

    def _validate_block_executed(self, e: BlockExecuted) -> Callable[[list[Action]], None]:
        if self._decision is None or e.height != self._height:
            raise RejectedInput("no decided block at this height")
        return lambda out: self._on_block_executed(e, out)

    def _validate_committed_block(
        self, block: Block, cert: CommitCertificate
    ) -> Callable[[list[Action]], None]:
        if block.height != self._height or self._decision is not None:
            raise RejectedInput("committed block is not the next one")
        try:
            verify_certificate(
                cert, block.hash, self._height, self._sets[self._height], self.chain_id
            )
        except CertificateError as exc:
            raise RejectedInput(f"certificate: {exc}") from exc
        reason = self._get_invalidity(block)
        if reason is not None:
            raise RejectedInput(f"invalid block: {reason}")
        return lambda out: self._decide(block, cert, out)

    def _validate_evidence_received(
        self, evidence: DuplicateVoteEvidence
    ) -> Callable[[list[Action]], None]:
        digest = evidence.compute_hash()
        if digest in self._evidence or digest in self._committed_evidence:
            raise RejectedInput("evidence already known")
        if len(self._evidence) >= PENDING_EVIDENCE_MAX:
            raise RejectedInput("evidence pool full")
        reason = self._get_evidence_invalidity(evidence, self._height)
        if reason is not None:
            raise RejectedInput(reason)
        return lambda out: self._add_evidence(evidence, out, gossip=False)


def _author(message: Proposal | Vote) -> bytes:
    return message.proposer if isinstance(message, Proposal) else message.validator

"""The Tendermint replica: ``handle(event) -> list[Action]``, nothing else acts.

Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus" (2018). The rules
are evaluated after every accepted input until none fires (``_apply_rules``); the comments cite
the paper's line numbers. Inputs are validated completely before anything changes: a rejected
input returns [] and leaves :meth:`Replica.snapshot` equal. Signing goes only through
:mod:`consensus.safety`, and ``PersistSignState`` precedes the ``Broadcast`` it covers.

Never: read a clock, draw randomness, do I/O, or sign anything but through the guard.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from consensus.actions import (
    Action,
    Broadcast,
    CommitBlock,
    PersistSignState,
    ReportEvidence,
    ScheduleTimeout,
    SendTo,
)
from consensus.blocks import Block, ChainTip, build_block, get_block_invalidity
from consensus.certificate import CertificateError, make_certificate, verify_certificate
from consensus.crypto import PrivateKey, SignPurpose, compute_sign_bytes, sha256
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
from consensus.evidence import get_evidence_invalidity
from consensus.messages import (
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    Vote,
    VoteType,
    compute_proposal_sign_payload,
    compute_vote_sign_payload,
)
from consensus.params import BLOCK_TXS_HARD_MAX, ConsensusParams
from consensus.round_step import RoundStep, is_legal_transition
from consensus.safety import DoubleSignRefused, SignState, SignStep, sign_with_guard
from consensus.types import (
    ChainId,
    DurationMs,
    Hash32,
    Height,
    PublicKey,
    Round,
    Signature,
    TimestampMs,
    ValidatorIndex,
)
from consensus.validators import ValidatorSet
from consensus.vote_set import Equivocation, HeightVotes, InvalidVote, validate_vote

FUTURE_ROUNDS_PER_VALIDATOR_MAX = 2
"""A validator's votes may open at most this many rounds above ours (bounds vote spam)."""
PROPOSAL_ROUNDS_AHEAD_MAX = 8
"""Proposals more than this many rounds ahead of ours are dropped (they come again)."""
FUTURE_HEIGHT_MESSAGES_MAX = 1_024
"""Buffer for next-height proposals and votes that arrive before BlockExecuted."""
PENDING_EVIDENCE_MAX = 256
RULE_ITERATIONS_MAX = 64

S = RoundStep
PREVOTE_STEPS = frozenset({S.PREVOTE, S.PREVOTE_WAIT})
AT_LEAST_PREVOTE = frozenset({S.PREVOTE, S.PREVOTE_WAIT, S.PRECOMMIT, S.PRECOMMIT_WAIT})


class RejectedInput(ValueError):
    """The event was not accepted (bad, stale, duplicate or not applicable); nothing changed."""


@dataclass(frozen=True, slots=True)
class ChainState:
    """The chain after the last committed block, as the node hands it to a new replica."""

    height: Height
    """Last committed height; 0 before block 1."""
    last_block_hash: Hash32
    """Hash of block ``height``; ``blocks.GENESIS_PARENT_HASH`` at 0."""
    last_commit: CommitCertificate | None
    """Certificate of block ``height``; None at 0."""
    last_block_time_ms: TimestampMs
    """Time of block ``height`` (genesis time at 0); the next block must be later."""
    app_hash: Hash32
    """Ledger app hash after executing block ``height`` (genesis app hash at 0)."""
    validator_sets: Mapping[int, ValidatorSet]
    """Sets of heights ``height`` (if > 0), ``height + 1`` and ``height + 2``; older ones let
    the replica verify evidence from those heights."""


class Replica:
    """One Tendermint participant; ``private_key=None`` makes a non-voting observer."""

    def __init__(
        self,
        chain_id: ChainId,
        private_key: PrivateKey | None,
        params: ConsensusParams,
        chain: ChainState,
        sign_state: SignState | None = None,
    ) -> None:
        needed = [chain.height + 1, chain.height + 2] + ([chain.height] if chain.height else [])
        if any(h not in chain.validator_sets for h in needed):
            raise ValueError(f"validator sets for heights {needed} are required")
        self.chain_id = chain_id
        self.params = params
        self._key = private_key
        self.public_key: PublicKey | None = None if private_key is None else private_key.public_key
        self._sets: dict[int, ValidatorSet] = dict(chain.validator_sets)
        self._sign_state = sign_state if sign_state is not None else SignState()
        self._txs: tuple[bytes, ...] = ()
        self._evidence: dict[Hash32, DuplicateVoteEvidence] = {}
        self._committed_evidence: dict[Hash32, int] = {}
        self._now_ms = TimestampMs(0)
        self._started = False
        self._future: list[Proposal | Vote] = []
        self._last_proposal: Proposal | None = None
        """The proposal that carried the last committed block (sent to lagging validators)."""
        self._round = Round(0)
        self._proposals: dict[Round, Proposal] = {}
        self._decision: tuple[Block, CommitCertificate] | None = None
        self._locked: Hash32 | None = None
        """lockedValue, by hash (the block itself is only needed as validValue)."""
        self._locked_round: int = -1
        self._once: frozenset[str] = frozenset()
        self._validity: dict[Hash32, str | None] = {}  # cache of a pure function, not state
        self._enter_height(chain)
        self._step = S.NEW_HEIGHT

    # -----------------------------------------------------------------------------------------
    # public surface

    @property
    def height(self) -> Height:
        return self._height

    @property
    def round(self) -> Round:
        return self._round

    @property
    def step(self) -> RoundStep:
        return self._step

    @property
    def sign_state(self) -> SignState:
        return self._sign_state

    @property
    def locked(self) -> tuple[Hash32 | None, int]:
        return self._locked, self._locked_round

    @property
    def valid(self) -> tuple[Hash32 | None, int]:
        return (None if self._valid is None else self._valid.hash), self._valid_round

    def get_validator_set(self, height: int) -> ValidatorSet | None:
        return self._sets.get(height)

    def handle(self, event: Event) -> list[Action]:
        """Process one input; [] if it was rejected (the replica is then unchanged)."""
        try:
            return self.handle_strict(event)
        except RejectedInput:
            return []

    def handle_strict(self, event: Event) -> list[Action]:
        """Like :meth:`handle` but raises :class:`RejectedInput` with the reason."""
        apply = self._validate(event)
        if event.now_ms is not None:
            self._now_ms = max(self._now_ms, event.now_ms)
        out: list[Action] = []
        apply(out)
        if self._started:
            self._apply_rules(out)
        return out

    def snapshot(self) -> tuple[object, ...]:
        """Every piece of state that decides behaviour, as a comparable value."""
        return (
            self._height,
            self._round,
            self._step,
            self._started,
            self._now_ms,
            tuple(sorted(self._sets.items())),
            self._last_block_hash,
            self._last_commit,
            self._last_block_time_ms,
            self._app_hash,
            self.locked,
            self.valid,
            tuple(sorted(self._proposals.items())),
            self._votes.snapshot(),
            self._sign_state,
            self._txs,
            tuple(sorted(self._evidence)),
            tuple(sorted(self._committed_evidence)),
            self._decision,
            tuple(self._future),
            self._once,
            self._last_proposal,
        )

    # -----------------------------------------------------------------------------------------
    # validation: returns the mutation to run, or raises RejectedInput having changed nothing

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

    def _get_catch_up_messages(self, peer: PublicKey, cert: CommitCertificate) -> list[Action]:
        vset = self._sets[cert.height]
        out: list[Action] = []
        if self._last_proposal is not None:
            out.append(SendTo(peer, self._last_proposal))
        for sig in cert.signatures:
            member = vset.validators[sig.validator_index]
            vote = Vote(
                VoteType.PRECOMMIT,
                cert.height,
                cert.round,
                cert.block_hash,
                sig.validator_index,
                member.public_key,
                sig.signature,
            )
            out.append(SendTo(peer, vote))
        return out

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

    # -----------------------------------------------------------------------------------------
    # mutations

    def _on_started(self, out: list[Action]) -> None:
        """Start at round 0, also after a restart. The node then replays the height's logged
        inputs (including our own messages as ProposalReceived/VoteReceived): the rounds,
        votes, lock and valid value are rebuilt exactly as they were. Jumping straight to the
        last signed round would skip the rules of the earlier rounds and lose the lock.
        The guard refuses to re-sign anything below the last signature, so nothing conflicts;
        without a log, f+1 votes of the current round bring the replica up (line 55)."""
        self._started = True
        self._start_round(Round(0), out)

    def _store_proposal(self, p: Proposal) -> None:
        self._proposals[p.round] = p
        self._recover_lock_from_sign_state(p.block.hash)

    def _add_vote(self, vote: Vote, out: list[Action]) -> None:
        result = self._votes.add_vote(vote)
        if isinstance(result, Equivocation):
            self._add_evidence(result.evidence, out, gossip=True)
        self._recover_lock(vote)
        if vote.block_hash is not None:
            self._recover_lock_from_sign_state(vote.block_hash)

    def _recover_lock_from_sign_state(self, block_hash: Hash32) -> None:
        """If the last thing we signed (before a restart) was a precommit for ``block_hash``
        at this height, we were locked on it: the persisted sign-bytes hash proves it even when
        the vote itself never reached the log."""
        last = self._sign_state
        if (
            last.height != self._height
            or last.step != SignStep.PRECOMMIT
            or last.round <= self._locked_round
            or self.public_key is None
        ):
            return
        payload = compute_vote_sign_payload(VoteType.PRECOMMIT, last.height, last.round, block_hash)
        sign_bytes = compute_sign_bytes(SignPurpose.VOTE, self.chain_id, payload)
        if sha256(sign_bytes) == last.sign_bytes_hash:
            self._locked, self._locked_round = block_hash, last.round

    def _recover_lock(self, vote: Vote) -> None:
        """Our own precommit for a block, coming back after a restart (replayed log or
        gossip), means we were locked on it at that round: take the lock back. Without this a
        restarted validator could prevote another block and help a conflicting decision."""
        if (
            vote.validator == self.public_key
            and vote.type == VoteType.PRECOMMIT
            and vote.block_hash is not None
            and vote.round > self._locked_round
        ):
            self._locked, self._locked_round = vote.block_hash, vote.round

    def _add_evidence(
        self, evidence: DuplicateVoteEvidence, out: list[Action], *, gossip: bool
    ) -> None:
        digest = evidence.compute_hash()
        if digest in self._evidence or digest in self._committed_evidence:
            return
        if len(self._evidence) < PENDING_EVIDENCE_MAX:
            self._evidence[digest] = evidence
        out.append(ReportEvidence(evidence))
        if gossip:
            out.append(Broadcast(evidence))

    def _set_step(self, round_: Round, step: RoundStep) -> None:
        before = (self._height, self._round, self._step)
        after = (self._height, round_, step)
        if not is_legal_transition(before, after):
            raise AssertionError(f"illegal transition {before} -> {after}")
        self._round, self._step = round_, step

    def _start_round(self, round_: Round, out: list[Action]) -> None:
        """StartRound (line 11), with CometBFT's wait for txs at round 0."""
        waits = round_ == 0 and self.params.is_waiting_for_txs and not self._txs
        if round_ != self._round:
            self._once = frozenset()
        if waits:
            self._set_step(round_, S.NEW_ROUND)
            out.append(self._rebroadcast_timer())
            if self.params.empty_block_interval_ms > 0:
                out.append(self._timeout(S.NEW_ROUND, self.params.empty_block_interval_ms))
            return
        self._enter_propose(out, round_)

    def _enter_propose(self, out: list[Action], round_: Round | None = None) -> None:
        round_ = self._round if round_ is None else round_
        if round_ != self._round:
            self._once = frozenset()
        # One re-broadcast timer per round (NEW_ROUND already armed it for round 0).
        arm_rebroadcast = self._step == S.NEW_HEIGHT or round_ != self._round
        self._set_step(round_, S.PROPOSE)
        out.append(self._timeout(S.PROPOSE, self.params.get_propose_timeout_ms(round_)))
        if arm_rebroadcast:
            out.append(self._rebroadcast_timer())
        vset = self._sets[self._height]
        if self.public_key is None or vset.proposer(self._height, round_).public_key != (
            self.public_key
        ):
            return
        block = self._valid if self._valid is not None else self._build_block()
        self._sign_proposal(block, out)

    def _sign_proposal(self, block: Block, out: list[Action]) -> None:
        assert self._key is not None and self.public_key is not None
        payload = compute_proposal_sign_payload(
            self._height, self._round, self._valid_round, block.hash
        )
        signature = self._sign(SignPurpose.PROPOSAL, SignStep.PROPOSAL, payload, out)
        if signature is None:
            return
        proposal = Proposal(
            self._height, self._round, self._valid_round, block, self.public_key, signature
        )
        self._proposals.setdefault(self._round, proposal)
        out.append(Broadcast(proposal))

    def _sign(
        self, purpose: SignPurpose, step: SignStep, payload: bytes, out: list[Action]
    ) -> Signature | None:
        """Sign through the guard; emits PersistSignState first. None if refused."""
        assert self._key is not None
        try:
            state, signature = sign_with_guard(
                self._sign_state,
                self._key,
                self.chain_id,
                purpose,
                self._height,
                self._round,
                step,
                payload,
            )
        except DoubleSignRefused:
            return None
        if state != self._sign_state:
            self._sign_state = state
            out.append(PersistSignState(state))
        return signature

    def _cast_vote(self, vote_type: VoteType, block_hash: Hash32 | None, out: list[Action]) -> None:
        index = self._own_index()
        if index is None:
            return
        assert self.public_key is not None
        payload = compute_vote_sign_payload(vote_type, self._height, self._round, block_hash)
        step = SignStep.PREVOTE if vote_type == VoteType.PREVOTE else SignStep.PRECOMMIT
        signature = self._sign(SignPurpose.VOTE, step, payload, out)
        if signature is None:
            return
        vote = Vote(
            vote_type, self._height, self._round, block_hash, index, self.public_key, signature
        )
        self._votes.add_vote(vote)
        out.append(Broadcast(vote))

    def _own_index(self) -> ValidatorIndex | None:
        if self.public_key is None:
            return None
        return self._sets[self._height].get_index(self.public_key)

    def _timeout(self, step: RoundStep, delay_ms: int) -> ScheduleTimeout:
        return ScheduleTimeout(self._height, self._round, step, DurationMs(delay_ms))

    def _on_rebroadcast(self, out: list[Action]) -> None:
        """Re-send what we signed in this round (lost messages), then re-arm the timer."""
        proposal = self._proposals.get(self._round)
        if proposal is not None and proposal.proposer == self.public_key:
            out.append(Broadcast(proposal))
        index = self._own_index()
        # The previous round too: a validator still there needs our votes of it to move on.
        rounds = [Round(r) for r in (self._round - 1, self._round) if r >= 0]
        for round_, vote_type in [(r, t) for r in rounds for t in VoteType]:
            vote = None if index is None else self._votes.get(round_, vote_type).get_vote(index)
            if vote is not None:
                out.append(Broadcast(vote))
        out.append(self._rebroadcast_timer())

    def _rebroadcast_timer(self) -> ScheduleTimeout:
        return self._timeout(S.REBROADCAST, self.params.get_propose_timeout_ms(self._round))

    def _on_timeout_propose(self, out: list[Action]) -> None:
        """Line 57: no (acceptable) proposal in time: prevote nil."""
        self._set_step(self._round, S.PREVOTE)
        self._cast_vote(VoteType.PREVOTE, None, out)

    def _on_timeout_prevote(self, out: list[Action]) -> None:
        """Line 61: no prevote quorum for one block in time: precommit nil."""
        self._set_step(self._round, S.PRECOMMIT)
        self._cast_vote(VoteType.PRECOMMIT, None, out)

    def _decide(self, block: Block, cert: CommitCertificate, out: list[Action]) -> None:
        """Line 49: decision. The node executes the block and answers BlockExecuted."""
        self._set_step(self._round, S.COMMIT)
        self._decision = (block, cert)
        included = set(block.txs)
        self._txs = tuple(tx for tx in self._txs if tx not in included)
        for evidence in block.evidence:
            digest = evidence.compute_hash()
            self._evidence.pop(digest, None)
            self._committed_evidence[digest] = evidence.height
        out.append(CommitBlock(block, cert))

    def _on_block_executed(self, e: BlockExecuted, out: list[Action]) -> None:
        assert self._decision is not None
        block, cert = self._decision
        self._last_proposal = next(
            (p for p in self._proposals.values() if p.block.hash == block.hash), None
        )
        self._sets[e.height + 2] = e.validators
        self._set_height_step()
        self._enter_height(
            ChainState(
                height=e.height,
                last_block_hash=block.hash,
                last_commit=cert,
                last_block_time_ms=block.header.time_ms,
                app_hash=e.app_hash,
                validator_sets=self._sets,
            )
        )
        self._prune_old_heights()
        for message in self._drain_future():
            if isinstance(message, Proposal):
                self._proposals.setdefault(message.round, message)
            else:
                self._add_vote(message, out)
        if self._txs:  # txs are waiting: skip timeout_commit and go straight to round 0
            self._start_round(Round(0), out)
        else:
            out.append(self._timeout(S.NEW_HEIGHT, self.params.timeout_commit_ms))

    def _set_height_step(self) -> None:
        before = (self._height, self._round, self._step)
        after = (self._height + 1, 0, S.NEW_HEIGHT)
        if not is_legal_transition(before, after):
            raise AssertionError(f"illegal transition {before} -> {after}")
        self._step = S.NEW_HEIGHT

    def _enter_height(self, chain: ChainState) -> None:
        """Reset the per-height state for height ``chain.height + 1``."""
        self._height = Height(chain.height + 1)
        self._round = Round(0)
        self._last_block_hash = chain.last_block_hash
        self._last_commit = chain.last_commit
        self._last_block_time_ms = chain.last_block_time_ms
        self._app_hash = chain.app_hash
        self._votes = HeightVotes(self._height, self._sets[self._height])
        self._proposals = {}
        self._locked = None
        self._locked_round = -1
        self._valid: Block | None = None
        self._valid_round = -1
        self._decision = None
        self._once = frozenset()
        self._validity = {}

    def _prune_old_heights(self) -> None:
        oldest = self._height - 1 - self.params.evidence_age_max_heights
        self._sets = {h: s for h, s in self._sets.items() if h >= min(oldest, self._height - 1)}
        self._committed_evidence = {
            d: h for d, h in self._committed_evidence.items() if h >= oldest
        }
        self._evidence = {d: e for d, e in self._evidence.items() if e.height >= oldest}

    def _drain_future(self) -> list[Proposal | Vote]:
        ready = [m for m in self._future if m.height == self._height]
        self._future = [m for m in self._future if m.height > self._height]
        return ready

    # -----------------------------------------------------------------------------------------
    # the upon-rules of Algorithm 1

    def _apply_rules(self, out: list[Action]) -> None:
        for _ in range(RULE_ITERATIONS_MAX):
            if self._step == S.COMMIT:
                return
            fired = (
                self._try_decide(out)
                or self._try_round_skip(out)
                or self._try_leave_new_round(out)
                or self._try_prevote(out)
                or self._try_prevote_wait(out)
                or self._try_lock(out)
                or self._try_precommit_nil(out)
                or self._try_precommit_wait(out)
            )
            if not fired:
                return
        raise AssertionError("consensus rules did not settle")

    def _try_decide(self, out: list[Action]) -> bool:
        """Line 49: a proposal of any round and > 2/3 precommits for it: decide."""
        for round_ in self._votes.get_rounds():
            precommits = self._votes.precommits(round_)
            for block_hash in precommits.get_quorum_blocks():
                block = self._find_block(block_hash)
                if block is not None and self._is_valid(block):
                    self._decide(block, make_certificate(precommits, block.hash), out)
                    return True
        return False

    def _try_round_skip(self, out: list[Action]) -> bool:
        """Line 55: votes of a higher round from > 1/3 of the power: go to that round."""
        vset = self._sets[self._height]
        for round_ in reversed(self._votes.get_rounds()):
            if round_ <= self._round:
                return False
            if vset.is_one_third(self._votes.get_round_power(round_)):
                self._start_round(round_, out)
                return True
        return False

    def _try_leave_new_round(self, out: list[Action]) -> bool:
        """Waiting for txs at round 0, but the proposer already proposed: take part."""
        if self._step == S.NEW_ROUND and self._round in self._proposals:
            self._enter_propose(out)
            return True
        return False

    def _try_prevote(self, out: list[Action]) -> bool:
        """Lines 22 and 28: prevote the round's proposal (or nil) in step propose."""
        proposal = self._proposals.get(self._round)
        if self._step != S.PROPOSE or proposal is None:
            return False
        block, vr = proposal.block, proposal.pol_round
        locked_ok = self._locked == block.hash
        if vr == -1:  # line 22
            accept = self._locked_round == -1 or locked_ok
        elif self._votes.prevotes(Round(vr)).has_quorum_for(block.hash):  # line 28
            accept = self._locked_round <= vr or locked_ok
        else:
            return False
        self._set_step(self._round, S.PREVOTE)
        choice = block.hash if accept and self._is_valid(block) else None
        self._cast_vote(VoteType.PREVOTE, choice, out)
        return True

    def _try_prevote_wait(self, out: list[Action]) -> bool:
        """Line 34: > 2/3 prevotes for anything, first time: start the prevote timeout."""
        if self._step != S.PREVOTE or not self._votes.prevotes(self._round).has_quorum_any():
            return False
        self._set_step(self._round, S.PREVOTE_WAIT)
        out.append(self._timeout(S.PREVOTE_WAIT, self.params.get_prevote_timeout_ms(self._round)))
        return True

    def _try_lock(self, out: list[Action]) -> bool:
        """Line 36: the round's proposal with > 2/3 prevotes: lock and precommit; valid value."""
        proposal = self._proposals.get(self._round)
        if self._step not in AT_LEAST_PREVOTE or proposal is None or "lock" in self._once:
            return False
        block = proposal.block
        if not self._votes.prevotes(self._round).has_quorum_for(block.hash):
            return False
        if not self._is_valid(block):
            return False
        self._once |= {"lock"}
        if self._step in PREVOTE_STEPS:
            self._locked, self._locked_round = block.hash, self._round
            self._set_step(self._round, S.PRECOMMIT)
            self._cast_vote(VoteType.PRECOMMIT, block.hash, out)
        self._valid, self._valid_round = block, self._round
        return True

    def _try_precommit_nil(self, out: list[Action]) -> bool:
        """Line 44: > 2/3 prevotes for nil: precommit nil."""
        if self._step not in PREVOTE_STEPS:
            return False
        if not self._votes.prevotes(self._round).has_quorum_for(None):
            return False
        self._set_step(self._round, S.PRECOMMIT)
        self._cast_vote(VoteType.PRECOMMIT, None, out)
        return True

    def _try_precommit_wait(self, out: list[Action]) -> bool:
        """Line 47: > 2/3 precommits for anything, first time: start the precommit timeout."""
        if "precommit_wait" in self._once:
            return False
        if not self._votes.precommits(self._round).has_quorum_any():
            return False
        self._once |= {"precommit_wait"}
        if self._step == S.PRECOMMIT:
            self._set_step(self._round, S.PRECOMMIT_WAIT)
        delay = self.params.get_precommit_timeout_ms(self._round)
        out.append(self._timeout(S.PRECOMMIT_WAIT, delay))
        return True

    # -----------------------------------------------------------------------------------------
    # blocks

    def _find_block(self, block_hash: Hash32) -> Block | None:
        for proposal in self._proposals.values():
            if proposal.block.hash == block_hash:
                return proposal.block
        return None

    def _is_valid(self, block: Block) -> bool:
        """valid(v) of the paper: the block extends our chain and is well-formed."""
        return self._get_invalidity(block) is None

    def _get_invalidity(self, block: Block) -> str | None:
        if block.hash not in self._validity:
            self._validity[block.hash] = get_block_invalidity(
                block, self._tip(), self.params, self._get_evidence_invalidity
            )
        return self._validity[block.hash]

    def _tip(self) -> ChainTip:
        return ChainTip(
            chain_id=self.chain_id,
            height=Height(self._height - 1),
            last_block_hash=self._last_block_hash,
            last_commit=self._last_commit,
            last_block_time_ms=self._last_block_time_ms,
            app_hash=self._app_hash,
            validator_sets=self._sets,
        )

    def _get_evidence_invalidity(self, evidence: DuplicateVoteEvidence, height: int) -> str | None:
        return get_evidence_invalidity(
            evidence, height, self._sets, self.params.evidence_age_max_heights, self.chain_id
        )

    def _build_block(self) -> Block:
        evidence = [
            e
            for e in self._evidence.values()
            if self._get_evidence_invalidity(e, self._height) is None
        ][: self.params.evidence_max]
        return build_block(
            self._tip(),
            self.params,
            self._sets[self._height],
            self.public_key,  # type: ignore[arg-type]
            self._now_ms,
            self._txs,
            tuple(evidence),
        )

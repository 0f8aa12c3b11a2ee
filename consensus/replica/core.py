"""The Tendermint replica: ``handle(event) -> list[Action]``, nothing else acts.

Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus" (2018). Every
input goes the same way, top-down in :meth:`Replica.handle_strict`:

1. validate: :func:`consensus.replica.validation.validate_event` checks the event completely
   and names the transition it makes, or raises ``RejectedInput`` having changed nothing (so a
   rejected input leaves :meth:`Replica.snapshot` equal);
2. apply: :meth:`Replica._apply` carries the transition out; it is the only code that changes
   the :class:`~consensus.replica.state.ReplicaState`;
3. rules: :func:`consensus.replica.rules.find_rule` names the next upon-rule that fires, which is
   applied the same way, until none does.

Signing goes only through :mod:`consensus.safety`, and ``PersistSignState`` precedes the
``Broadcast`` it covers.

Never: read a clock, draw randomness, do I/O, or sign anything but through the guard.
"""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

from consensus.actions import (
    Action,
    Broadcast,
    CommitBlock,
    PersistSignState,
    ReportEvidence,
    ScheduleTimeout,
)
from consensus.blocks import Block
from consensus.crypto import PrivateKey, SignPurpose
from consensus.events import BlockExecuted, Event
from consensus.leader import advance_window, get_proposer
from consensus.messages import (
    CommitCertificate,
    DuplicateVoteEvidence,
    Vote,
    VoteType,
    compute_vote_sign_payload,
)
from consensus.params import ConsensusParams
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.replica import transitions as t
from consensus.replica.faults import HONEST, ReplicaFaults
from consensus.replica.recovery import (
    compute_catch_up_messages,
    compute_rebroadcast,
    get_lock_from_own_precommit,
    get_lock_from_sign_state,
)
from consensus.replica.rules import find_rule
from consensus.replica.state import (
    PENDING_EVIDENCE_MAX,
    PREVOTE_STEPS,
    RULE_ITERATIONS_MAX,
    ChainState,
    RejectedInput,
    ReplicaConfig,
    ReplicaSnapshot,
    RoundState,
    freeze,
    new_height_state,
    new_replica_state,
)
from consensus.replica.validation import get_proposer_skips, validate_event
from consensus.replica.validity import build_our_block
from consensus.round_step import RoundStep, S, Timer, is_legal_transition
from consensus.safety import DoubleSignRefused, SignState, SignStep, sign_with_guard
from consensus.types import (
    ChainId,
    DurationMs,
    Hash32,
    Height,
    PublicKey,
    Round,
    Signature,
    ValidatorIndex,
)
from consensus.validators import ValidatorSet
from consensus.vote_set import Equivocation


class Replica:
    """One Tendermint participant; ``private_key=None`` makes a non-voting observer.

    ``faults`` is for tests and the simulator only (see :mod:`consensus.replica.faults`)."""

    def __init__(
        self,
        chain_id: ChainId,
        private_key: PrivateKey | None,
        params: ConsensusParams,
        chain: ChainState,
        sign_state: SignState | None = None,
        *,
        faults: ReplicaFaults = HONEST,
    ) -> None:
        needed = [chain.height + 1, chain.height + 2] + ([chain.height] if chain.height else [])
        if any(h not in chain.validator_sets for h in needed):
            raise ValueError(f"validator sets for heights {needed} are required")
        self._key = private_key
        self.config = ReplicaConfig(
            chain_id, params, None if private_key is None else private_key.public_key, faults
        )
        self._state = new_replica_state(
            chain, sign_state if sign_state is not None else SignState()
        )

    # -----------------------------------------------------------------------------------------
    # public surface

    @property
    def chain_id(self) -> ChainId:
        return self.config.chain_id

    @property
    def params(self) -> ConsensusParams:
        return self.config.params

    @property
    def public_key(self) -> PublicKey | None:
        return self.config.public_key

    @property
    def height(self) -> Height:
        return self._state.current.height

    @property
    def round(self) -> Round:
        return self._state.current.round_state.round

    @property
    def step(self) -> RoundStep:
        return self._state.current.round_state.step

    @property
    def sign_state(self) -> SignState:
        return self._state.sign_state

    @property
    def locked(self) -> tuple[Hash32 | None, int]:
        """(lockedValue's hash, lockedRound)."""
        h = self._state.current
        return h.locked_hash, h.locked_round

    @property
    def valid(self) -> tuple[Hash32 | None, int]:
        """(validValue's hash, validRound)."""
        h = self._state.current
        return (None if h.valid_block is None else h.valid_block.hash), h.valid_round

    def get_validator_set(self, height: int) -> ValidatorSet | None:
        return self._state.validator_sets.get(height)

    def get_proposer_skips(self, height: int) -> frozenset[PublicKey] | None:
        """Whom round 0 of ``height`` skips; None while the block before it is undecided."""
        return get_proposer_skips(self._state, height)

    def snapshot(self) -> ReplicaSnapshot:
        """Every piece of state that decides behaviour, as a frozen, comparable value."""
        return freeze(self._state)

    def handle(self, event: Event) -> list[Action]:
        """Process one input; [] if it was rejected (the replica is then unchanged)."""
        try:
            return self.handle_strict(event)
        except RejectedInput:
            return []

    def handle_strict(self, event: Event) -> list[Action]:
        """Like :meth:`handle` but raises :class:`RejectedInput` with the reason."""
        transition = validate_event(self.config, self._state, event)
        if event.now_ms is not None:
            self._state.now_ms = max(self._state.now_ms, event.now_ms)
        out: list[Action] = []
        self._apply(transition, out)
        if self._state.started:
            self._apply_rules(out)
        return out

    # -----------------------------------------------------------------------------------------
    # carrying out transitions: the only code that changes the state

    def _apply_rules(self, out: list[Action]) -> None:
        for _ in range(RULE_ITERATIONS_MAX):
            transition = find_rule(self.config, self._state)
            if transition is None:
                return
            self._apply(transition, out)
        raise AssertionError("consensus rules did not settle")

    def _apply(self, transition: t.Transition, out: list[Action]) -> None:
        s = self._state
        match transition:
            case t.Start():
                s.started = True
                self._start_round(Round(0), out)
            case t.SetTxs(txs):
                s.txs = txs
                if s.started and self.step == S.NEW_ROUND and s.txs:
                    self._enter_propose(out)
            case t.StoreProposal(proposal, timely):
                s.current.proposals[proposal.round] = proposal
                s.absent_proposers.discard(proposal.proposer)
                if not timely:
                    s.current.untimely_rounds.add(proposal.round)
                self._recover_lock_from_sign_state(proposal.block.hash)
            case t.AddVote(vote):
                self._add_vote(vote, out)
            case t.BufferForNextHeight(message, timely):
                s.next_height_messages.append(message)
                if isinstance(message, Proposal):
                    s.absent_proposers.discard(message.proposer)
                if not timely:
                    s.untimely_next_height.add(message.round)
            case t.HelpLaggingPeer(peer, certificate):
                vset = s.validator_sets[certificate.height]
                out.extend(compute_catch_up_messages(peer, certificate, vset, s.last_proposal))
            case t.AddEvidence(evidence):
                self._add_evidence(evidence, out, gossip=False)
            case t.StartRound(round_):
                self._start_round(round_, out)
            case t.EnterPropose():
                self._enter_propose(out)
            case t.Prevote(block_hash):
                if self.round not in s.current.proposals:  # the propose timeout: none came
                    s.absent_proposers.add(self._proposer(self.round))
                self._move_to(self.round, S.PREVOTE)
                self._cast_vote(VoteType.PREVOTE, block_hash, out)
            case t.StartPrevoteWait():
                self._move_to(self.round, S.PREVOTE_WAIT)
                delay = self.params.get_prevote_timeout_ms(self.round)
                out.append(self._timeout(Timer.PREVOTE_WAIT, delay))
            case t.LockOnPolka(block):
                self._lock_on_polka(block, out)
            case t.PrecommitNil():
                self._move_to(self.round, S.PRECOMMIT)
                self._cast_vote(VoteType.PRECOMMIT, None, out)
            case t.StartPrecommitWait():
                self._start_precommit_wait(out)
            case t.Rebroadcast():
                h = s.current
                out.extend(compute_rebroadcast(h, self.public_key, self._own_index()))
                out.append(self._rebroadcast_timer())
            case t.Decide(block, certificate):
                self._decide(block, certificate, out)
            case t.EnterNextHeight(executed):
                self._enter_next_height(executed, out)
            case _:
                assert_never(transition)

    # steps ---------------------------------------------------------------------------------

    def _move_to(self, round_: Round, step: RoundStep) -> None:
        """Every change of round or step within a height; a new round starts a fresh
        RoundState (its once-per-round rules armed again)."""
        at = self._state.current.round_state
        before = (self.height, at.round, at.step)
        after = (self.height, round_, step)
        if not is_legal_transition(before, after):
            raise AssertionError(f"illegal transition {before} -> {after}")
        if round_ == at.round:
            self._state.current.round_state = replace(at, step=step)
        else:
            self._state.current.round_state = RoundState(round_, step)

    def _start_round(self, round_: Round, out: list[Action]) -> None:
        """StartRound (line 11), with CometBFT's wait for txs at round 0."""
        if round_ > self.round and self.config.faults.never_advance_round:
            return
        if round_ == 0 and self.params.is_waiting_for_txs and not self._state.txs:
            self._move_to(round_, S.NEW_ROUND)
            out.append(self._rebroadcast_timer())
            if self.params.empty_block_interval_ms > 0:
                out.append(self._timeout(Timer.NEW_ROUND, self.params.empty_block_interval_ms))
            return
        self._enter_propose(out, round_)

    def _enter_propose(self, out: list[Action], round_: Round | None = None) -> None:
        """Step propose of ``round_`` (default: ours); lines 14-19 if we are its proposer."""
        round_ = self.round if round_ is None else round_
        # One re-broadcast timer per round (NEW_ROUND already armed it for round 0).
        arm_rebroadcast = self.step == S.NEW_HEIGHT or round_ != self.round
        self._move_to(round_, S.PROPOSE)
        proposer = self._proposer(round_)
        absent = proposer in self._state.absent_proposers
        out.append(self._timeout(Timer.PROPOSE, self.params.get_propose_timeout_ms(round_, absent)))
        if arm_rebroadcast:
            out.append(self._rebroadcast_timer())
        if self.public_key is None or proposer != self.public_key:
            return
        h = self._state.current
        if h.valid_block is not None and not self.config.faults.forget_valid_value:
            self._sign_proposal(h.valid_block, h.valid_round, out)  # line 15
        else:
            self._sign_proposal(build_our_block(self.config, self._state), -1, out)  # line 18

    def _proposer(self, round_: Round) -> PublicKey:
        h = self._state.current
        vset = self._state.validator_sets[h.height]
        return get_proposer(vset, h.height, round_, h.proposer_skips).public_key

    def _lock_on_polka(self, block: Block, out: list[Action]) -> None:
        """Line 36: lock and precommit (only from a prevote step); the valid value always."""
        h = self._state.current
        at = h.round_state
        h.round_state = replace(at, polka_seen=True)
        if at.step in PREVOTE_STEPS:
            h.locked_hash, h.locked_round = block.hash, at.round
            self._move_to(at.round, S.PRECOMMIT)
            self._cast_vote(VoteType.PRECOMMIT, block.hash, out)
        h.valid_block, h.valid_round = block, at.round

    def _start_precommit_wait(self, out: list[Action]) -> None:
        """Line 47: the precommit timeout, once per round (PRECOMMIT_WAIT only from PRECOMMIT)."""
        h = self._state.current
        at = h.round_state
        h.round_state = replace(at, precommit_wait_started=True)
        if at.step == S.PRECOMMIT:
            self._move_to(at.round, S.PRECOMMIT_WAIT)
        out.append(
            self._timeout(Timer.PRECOMMIT_WAIT, self.params.get_precommit_timeout_ms(at.round))
        )

    def _timeout(self, timer: Timer, delay_ms: int) -> ScheduleTimeout:
        return ScheduleTimeout(self.height, self.round, timer, DurationMs(delay_ms))

    def _rebroadcast_timer(self) -> ScheduleTimeout:
        return self._timeout(Timer.REBROADCAST, self.params.get_propose_timeout_ms(self.round))

    # heights -------------------------------------------------------------------------------

    def _decide(self, block: Block, cert: CommitCertificate, out: list[Action]) -> None:
        """Line 49: decision. The node executes the block and answers BlockExecuted."""
        s = self._state
        self._move_to(self.round, S.COMMIT)
        s.current.decision = (block, cert)
        included = set(block.txs)
        s.txs = tuple(tx for tx in s.txs if tx not in included)
        for evidence in block.evidence:
            digest = evidence.compute_hash()
            s.pending_evidence.pop(digest, None)
            s.committed_evidence[digest] = evidence.height
        out.append(CommitBlock(block, cert))

    def _enter_next_height(self, e: BlockExecuted, out: list[Action]) -> None:
        s = self._state
        assert s.current.decision is not None
        block, cert = s.current.decision
        before = (self.height, self.round, self.step)
        if not is_legal_transition(before, (self.height + 1, 0, S.NEW_HEIGHT)):
            raise AssertionError(f"illegal transition {before} -> new height")
        s.last_proposal = next(
            (p for p in s.current.proposals.values() if p.block.hash == block.hash), None
        )
        s.validator_sets[e.height + 2] = e.validators
        s.current = new_height_state(
            ChainState(
                height=e.height,
                last_block_hash=block.hash,
                last_commit=cert,
                last_block_time_ms=block.header.time_ms,
                app_hash=e.app_hash,
                validator_sets=s.validator_sets,
                txs_rule=e.txs_rule,
                last_results_hash=e.results_hash,
                leader_window=advance_window(
                    s.current.leader_window, block.header, s.validator_sets.get(block.height - 1)
                ),
            )
        )
        self._prune_old_heights()
        ready = [m for m in s.next_height_messages if m.height == self.height]
        untimely, s.untimely_next_height = s.untimely_next_height, set()
        s.next_height_messages = [m for m in s.next_height_messages if m.height > self.height]
        for message in ready:
            if isinstance(message, Proposal):
                if message.proposer != self._proposer(message.round):
                    continue  # buffered before block h told whom round 0 skips
                s.current.proposals.setdefault(message.round, message)
                if message.round in untimely:  # judged when it arrived
                    s.current.untimely_rounds.add(message.round)
            else:
                self._add_vote(message, out)
        if s.txs:  # txs are waiting: skip timeout_commit and go straight to round 0
            self._start_round(Round(0), out)
        else:
            out.append(self._timeout(Timer.NEW_HEIGHT, self.params.timeout_commit_ms))

    def _prune_old_heights(self) -> None:
        s = self._state
        oldest = self.height - 1 - self.params.evidence_age_max_heights
        keep_from = min(oldest, self.height - 1)
        s.validator_sets = {h: v for h, v in s.validator_sets.items() if h >= keep_from}
        s.committed_evidence = {d: h for d, h in s.committed_evidence.items() if h >= oldest}
        s.pending_evidence = {d: e for d, e in s.pending_evidence.items() if e.height >= oldest}

    # votes, evidence and the lock --------------------------------------------------------

    def _add_vote(self, vote: Vote, out: list[Action]) -> None:
        h = self._state.current
        result = h.votes.add_vote(vote)
        if isinstance(result, Equivocation):
            self._add_evidence(result.evidence, out, gossip=True)
        locked_round = get_lock_from_own_precommit(vote, self.public_key, h)
        if locked_round is not None:
            h.locked_hash, h.locked_round = vote.block_hash, locked_round
        if vote.block_hash is not None:
            self._recover_lock_from_sign_state(vote.block_hash)

    def _recover_lock_from_sign_state(self, block_hash: Hash32) -> None:
        h = self._state.current
        locked_round = get_lock_from_sign_state(
            self._state.sign_state, self.chain_id, self.public_key, h, block_hash
        )
        if locked_round is not None:
            h.locked_hash, h.locked_round = block_hash, locked_round

    def _add_evidence(
        self, evidence: DuplicateVoteEvidence, out: list[Action], *, gossip: bool
    ) -> None:
        s = self._state
        digest = evidence.compute_hash()
        if digest in s.pending_evidence or digest in s.committed_evidence:
            return
        if len(s.pending_evidence) < PENDING_EVIDENCE_MAX:
            s.pending_evidence[digest] = evidence
        out.append(ReportEvidence(evidence))
        if gossip:
            out.append(Broadcast(evidence))

    # signing ---------------------------------------------------------------------------------

    def _sign_proposal(self, block: Block, pol_round: int, out: list[Action]) -> None:
        assert self.public_key is not None
        payload = compute_proposal_sign_payload(self.height, self.round, pol_round, block.hash)
        signature = self._sign(SignPurpose.PROPOSAL, SignStep.PROPOSAL, payload, out)
        if signature is None:
            return
        proposal = Proposal(self.height, self.round, pol_round, block, self.public_key, signature)
        self._state.current.proposals.setdefault(self.round, proposal)
        out.append(Broadcast(proposal))

    def _cast_vote(self, vote_type: VoteType, block_hash: Hash32 | None, out: list[Action]) -> None:
        index = self._own_index()
        if index is None:
            return
        if vote_type == VoteType.PRECOMMIT and self.config.faults.never_precommit:
            return
        assert self.public_key is not None
        payload = compute_vote_sign_payload(vote_type, self.height, self.round, block_hash)
        step = SignStep.PREVOTE if vote_type == VoteType.PREVOTE else SignStep.PRECOMMIT
        signature = self._sign(SignPurpose.VOTE, step, payload, out)
        if signature is None:
            return
        vote = Vote(
            vote_type, self.height, self.round, block_hash, index, self.public_key, signature
        )
        self._state.current.votes.add_vote(vote)
        out.append(Broadcast(vote))

    def _sign(
        self, purpose: SignPurpose, step: SignStep, payload: bytes, out: list[Action]
    ) -> Signature | None:
        """Sign through the guard; emits PersistSignState first. None if refused."""
        assert self._key is not None
        try:
            state, signature = sign_with_guard(
                self._state.sign_state,
                self._key,
                self.chain_id,
                purpose,
                self.height,
                self.round,
                step,
                payload,
            )
        except DoubleSignRefused:
            return None
        if state != self._state.sign_state:
            self._state.sign_state = state
            out.append(PersistSignState(state))
        return signature

    def _own_index(self) -> ValidatorIndex | None:
        if self.public_key is None:
            return None
        return self._state.validator_sets[self.height].get_index(self.public_key)

"""Step transitions of the replica: StartRound, entering propose, timeouts, decide, new height.

Every change of (height, round, step) goes through ``_set_step``/``_set_height_step``, which
assert that :func:`consensus.round_step.is_legal_transition` allows it.

Never: evaluate the upon-rules (that is :mod:`consensus.replica.rules`) or validate input.
"""

from __future__ import annotations

from consensus.actions import Action, Broadcast, CommitBlock, ScheduleTimeout
from consensus.blocks import Block
from consensus.events import BlockExecuted
from consensus.messages import CommitCertificate, VoteType
from consensus.proposal import Proposal
from consensus.replica.evidence import EvidenceAndCatchUp
from consensus.replica.signing import BlocksAndSigning
from consensus.replica.state import ChainState, S
from consensus.round_step import RoundStep, is_legal_transition
from consensus.types import DurationMs, Height, Round
from consensus.vote_set import HeightVotes


class StepTransitions(BlocksAndSigning, EvidenceAndCatchUp):
    """Entering rounds, steps and heights; the timeout handlers; the decision."""

    def _on_started(self, out: list[Action]) -> None:
        """Start at round 0, also after a restart. The node then replays the height's logged
        inputs (including our own messages as ProposalReceived/VoteReceived): the rounds,
        votes, lock and valid value are rebuilt exactly as they were. Jumping straight to the
        last signed round would skip the rules of the earlier rounds and lose the lock.
        The guard refuses to re-sign anything below the last signature, so nothing conflicts;
        without a log, f+1 votes of the current round bring the replica up (line 55)."""
        self._started = True
        self._start_round(Round(0), out)

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
        self._valid = None
        self._valid_round = -1
        self._decision = None
        self._once = frozenset()
        self._validity = {}

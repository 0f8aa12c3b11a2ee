"""The upon-rules of Algorithm 1, evaluated after every accepted input until none fires.

Each ``_try_*`` rule cites the paper's line; it returns True if it fired (and changed
something), so ``_apply_rules`` reads like the table of rules in the paper.

Never: loop without bound (``RULE_ITERATIONS_MAX``) or validate input.
"""

from __future__ import annotations

from consensus.actions import Action
from consensus.certificate import make_certificate
from consensus.messages import VoteType
from consensus.replica.state import AT_LEAST_PREVOTE, PREVOTE_STEPS, RULE_ITERATIONS_MAX, S
from consensus.replica.steps import StepTransitions
from consensus.types import Round


class Algorithm1Rules(StepTransitions):
    """The upon-rules (lines 22-55 of Algorithm 1), in the order they are tried."""

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

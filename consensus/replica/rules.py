"""The upon-rules of Algorithm 1, as pure functions of the state.

Each rule cites the paper's line and returns the transition it fires, or None if its condition
does not hold; :func:`find_rule` tries them in the order of :data:`UPON_RULES`. The replica applies
the transition and asks again, until no rule fires (at most ``RULE_ITERATIONS_MAX`` times).

Never: change the replica's state (the valid(v) cache aside) or validate input.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.certificate import make_certificate
from consensus.replica import transitions as t
from consensus.replica.state import (
    AT_LEAST_PREVOTE,
    PREVOTE_STEPS,
    ReplicaConfig,
    ReplicaState,
)
from consensus.replica.validity import find_block, is_valid
from consensus.round_step import S
from consensus.types import Round

PRECOMMIT_STEPS = frozenset({S.PRECOMMIT, S.PRECOMMIT_WAIT})


def find_rule(config: ReplicaConfig, state: ReplicaState) -> t.Transition | None:
    """The transition of the first rule whose condition holds; None once decided."""
    if state.current.round_state.step == S.COMMIT:
        return None
    for rule in UPON_RULES:
        fired = rule(config, state)
        if fired is not None:
            return fired
    return None


def decide(config: ReplicaConfig, state: ReplicaState) -> t.Decide | None:
    """Line 49: a proposal of any round and > 2/3 precommits for it: decide."""
    h = state.current
    for round_ in h.votes.get_rounds():
        precommits = h.votes.precommits(round_)
        for block_hash in precommits.get_quorum_blocks():
            block = find_block(h, block_hash)
            if block is not None and is_valid(config, state, block):
                return t.Decide(block, make_certificate(precommits, block.hash))
    return None


def skip_round(config: ReplicaConfig, state: ReplicaState) -> t.StartRound | None:
    """Line 55: votes of a higher round from > 1/3 of the power: go to that round."""
    h = state.current
    if config.faults.never_advance_round:
        return None
    vset = state.validator_sets[h.height]
    for round_ in reversed(h.votes.get_rounds()):
        if round_ <= h.round_state.round:
            return None
        if vset.is_one_third(h.votes.get_round_power(round_)):
            return t.StartRound(round_)
    return None


def leave_new_round(config: ReplicaConfig, state: ReplicaState) -> t.EnterPropose | None:
    """Waiting for txs at round 0, but the proposer already proposed: take part."""
    at = state.current.round_state
    if at.step == S.NEW_ROUND and at.round in state.current.proposals:
        return t.EnterPropose()
    return None


def prevote(config: ReplicaConfig, state: ReplicaState) -> t.Prevote | None:
    """Lines 22 and 28: prevote the round's proposal (or nil) in step propose."""
    h = state.current
    proposal = h.proposals.get(h.round_state.round)
    if h.round_state.step != S.PROPOSE or proposal is None:
        return None
    block, vr = proposal.block, proposal.pol_round
    locked_hash, locked_round = h.locked_hash, h.locked_round
    if config.faults.ignore_lock:
        locked_hash, locked_round = None, -1
    locked_ok = locked_hash == block.hash
    if vr == -1:  # line 22, with proposer-based time's timely(v)
        timely = h.round_state.round not in h.untimely_rounds
        accept = (locked_round == -1 or locked_ok) and (
            timely or config.faults.accept_untimely_proposals
        )
    elif h.votes.prevotes(Round(vr)).has_quorum_for(block.hash):  # line 28
        accept = locked_round <= vr or locked_ok
    else:
        return None
    return t.Prevote(block.hash if accept and is_valid(config, state, block) else None)


def start_prevote_wait(config: ReplicaConfig, state: ReplicaState) -> t.StartPrevoteWait | None:
    """Line 34: > 2/3 prevotes for anything, first time: start the prevote timeout."""
    h = state.current
    if h.round_state.step != S.PREVOTE:
        return None
    if not h.votes.prevotes(h.round_state.round).has_quorum_any():
        return None
    return t.StartPrevoteWait()


def lock_on_polka(config: ReplicaConfig, state: ReplicaState) -> t.LockOnPolka | None:
    """Line 36: the round's proposal with > 2/3 prevotes, first time in the round."""
    h = state.current
    at = h.round_state
    proposal = h.proposals.get(at.round)
    if at.step not in AT_LEAST_PREVOTE or proposal is None or at.polka_seen:
        return None
    block = proposal.block
    if not h.votes.prevotes(at.round).has_quorum_for(block.hash):
        return None
    if not is_valid(config, state, block):
        return None
    return t.LockOnPolka(block)


def precommit_nil(config: ReplicaConfig, state: ReplicaState) -> t.PrecommitNil | None:
    """Line 44: > 2/3 prevotes for nil: precommit nil."""
    h = state.current
    if h.round_state.step not in PREVOTE_STEPS:
        return None
    if not h.votes.prevotes(h.round_state.round).has_quorum_for(None):
        return None
    return t.PrecommitNil()


def leave_round_on_nil_precommits(
    config: ReplicaConfig, state: ReplicaState
) -> t.StartRound | None:
    """After our precommit, > 2/3 precommits for nil: no block can be decided in this round, so
    go to the next one now instead of waiting out the precommit timeout (line 47's wait exists to
    gather precommits for a block). Timeouts serve liveness only, so safety is untouched; this
    is what keeps a crashed proposer's heights short (issue 13, leader failover)."""
    h = state.current
    at = h.round_state
    if config.faults.never_advance_round or at.step not in PRECOMMIT_STEPS:
        return None
    if not h.votes.precommits(at.round).has_quorum_for(None):
        return None
    return t.StartRound(Round(at.round + 1))


def start_precommit_wait(config: ReplicaConfig, state: ReplicaState) -> t.StartPrecommitWait | None:
    """Line 47: > 2/3 precommits for anything, first time: start the precommit timeout."""
    h = state.current
    if h.round_state.precommit_wait_started:
        return None
    if not h.votes.precommits(h.round_state.round).has_quorum_any():
        return None
    return t.StartPrecommitWait()


Rule = Callable[[ReplicaConfig, ReplicaState], t.Transition | None]

UPON_RULES: tuple[Rule, ...] = (
    decide,
    skip_round,
    leave_new_round,
    prevote,
    start_prevote_wait,
    lock_on_polka,
    precommit_nil,
    leave_round_on_nil_precommits,
    start_precommit_wait,
)
"""The rules in the order they are tried (lines 22-55 of Algorithm 1, decision first)."""

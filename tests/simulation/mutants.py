"""Broken replicas that the simulator's checkers must catch: each breaks one promise.

Every mutant is a small subclass of the real replica that overrides as few methods as possible
(listed in its docstring), so that it can be ported when those internals move. The simulator
runs it for every honest node (``SimConfig.replica_class``); Byzantine nodes keep the real one.
"""

from __future__ import annotations

import dataclasses

from consensus.actions import Action
from consensus.blocks import ChainTip
from consensus.crypto import sha256
from consensus.messages import VoteType
from consensus.replica import Replica
from consensus.types import Hash32, Round

STALE_APP_HASH = Hash32(sha256(b"an app hash the application never returned"))


class LockIgnoringReplica(Replica):
    """Safety (agreement): prevotes as if never locked and proposes fresh blocks, forgetting its
    valid value: the two rules that carry a polka across rounds.
    Overrides ``_try_prevote`` and ``_enter_propose``."""

    def _try_prevote(self, out: list[Action]) -> bool:
        saved = self._locked, self._locked_round
        self._locked, self._locked_round = None, -1
        try:
            return super()._try_prevote(out)
        finally:
            self._locked, self._locked_round = saved

    def _enter_propose(self, out: list[Action], round_: Round | None = None) -> None:
        saved = self._valid, self._valid_round
        self._valid, self._valid_round = None, -1
        try:
            super()._enter_propose(out, round_)
        finally:
            self._valid, self._valid_round = saved


class AmnesiacReplica(Replica):
    """Safety (no double-sign): restarts with a blank SignState instead of the one it persisted.
    Overrides ``__init__``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.pop("sign_state", None)
        super().__init__(*args[:4], sign_state=None, **kwargs)  # type: ignore[arg-type]


class StaleAppHashReplica(Replica):
    """Validity: builds and checks blocks against an app hash the application never returned
    (it ignores the one BlockExecuted brings), so honest nodes agree on blocks that claim a
    state that does not exist. Overrides ``_tip``."""

    def _tip(self) -> ChainTip:
        return dataclasses.replace(super()._tip(), app_hash=STALE_APP_HASH)


class NeverPrecommitsReplica(Replica):
    """Liveness: prevotes but never signs a precommit, so nothing is ever decided.
    Overrides ``_cast_vote``."""

    def _cast_vote(self, vote_type: VoteType, block_hash: Hash32 | None, out: list[Action]) -> None:
        if vote_type != VoteType.PRECOMMIT:
            super()._cast_vote(vote_type, block_hash, out)


class StuckInProposeReplica(Replica):
    """Liveness: ignores the propose timeout, so a round whose proposer is silent never ends
    (no nil prevote, no later round). Overrides ``_on_timeout_propose``."""

    def _on_timeout_propose(self, out: list[Action]) -> None:
        return None

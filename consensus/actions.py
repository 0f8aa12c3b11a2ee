"""Outputs of the replica (imperative: things the node must do, in order).

The node executes a ``handle`` result's actions in list order. ``PersistSignState`` always comes
before the ``Broadcast`` carrying the signature it covers: the node fsyncs it before sending.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.blocks import Block
from consensus.messages import CommitCertificate, DuplicateVoteEvidence
from consensus.round_step import Timer
from consensus.safety import SignState
from consensus.types import DurationMs, Height, PublicKey, Round
from consensus.wire import Message


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Gossip ``message`` to every peer (the replica has already processed its own copy)."""

    message: Message


@dataclass(frozen=True, slots=True)
class SendTo:
    """Send ``message`` to one peer (the replica uses it to hand a validator that is still on
    the previous height the proposal and precommits that decided it)."""

    public_key: PublicKey
    message: Message


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Deliver ``TimeoutElapsed(height, round, timer)`` after ``delay_ms``. Timers are never
    cancelled: the replica rejects the ones that have become stale."""

    height: Height
    round: Round
    timer: Timer
    delay_ms: DurationMs


@dataclass(frozen=True, slots=True)
class PersistSignState:
    """Durably store (fsync) the last-signed state before any later action is carried out."""

    sign_state: SignState


@dataclass(frozen=True, slots=True)
class CommitBlock:
    """``block`` is final: store it with ``certificate``, execute it, answer BlockExecuted."""

    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """Misbehaviour was detected or received and verified (store/expose it)."""

    evidence: DuplicateVoteEvidence


Action = Broadcast | SendTo | ScheduleTimeout | PersistSignState | CommitBlock | ReportEvidence

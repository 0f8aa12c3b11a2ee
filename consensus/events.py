"""Inputs of the replica (past tense: things that happened).

Time is an input. ``Started`` must carry the node's clock; every other event may carry
``now_ms`` too, and the replica keeps the latest value it has seen (never going backwards). The
replica uses it only to stamp the blocks it proposes (``Header.time_ms``), so a driver should
pass ``now_ms`` on every event it can; the simulator passes its simulated clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.blocks import EMPTY_RESULTS_HASH, Block, TxsRule
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote
from consensus.proposal import Proposal
from consensus.round_step import Timer
from consensus.types import Hash32, Height, Round, TimestampMs
from consensus.validators import ValidatorSet


@dataclass(frozen=True, slots=True)
class Started:
    """The node started (or restarted) the replica; it enters round 0 or re-schedules."""

    now_ms: TimestampMs


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    proposal: Proposal
    now_ms: TimestampMs | None = None


@dataclass(frozen=True, slots=True)
class VoteReceived:
    vote: Vote
    now_ms: TimestampMs | None = None


@dataclass(frozen=True, slots=True)
class EvidenceReceived:
    """Evidence gossiped by a peer (verified before it is kept for a block)."""

    evidence: DuplicateVoteEvidence
    now_ms: TimestampMs | None = None


@dataclass(frozen=True, slots=True)
class TimeoutElapsed:
    """A ``ScheduleTimeout(height, round, timer, ...)`` fired (see :class:`Timer` for what each
    one does). Stale timeouts are rejected."""

    height: Height
    round: Round
    timer: Timer
    now_ms: TimestampMs | None = None


@dataclass(frozen=True, slots=True)
class TxsAvailable:
    """The node's current candidate txs for the next proposal (replaces the previous list)."""

    txs: tuple[bytes, ...]
    now_ms: TimestampMs | None = None


@dataclass(frozen=True, slots=True)
class BlockExecuted:
    """The node executed committed block ``height``: ``app_hash`` is the ledger state after it,
    ``validators`` the validator set of height ``height + 2``, ``results_hash`` the root of its
    receipts (the next header carries both hashes)."""

    height: Height
    app_hash: Hash32
    validators: ValidatorSet
    now_ms: TimestampMs | None = None
    txs_rule: TxsRule | None = None
    """The application's rule for the txs of block ``height + 1`` (None: any txs)."""
    results_hash: Hash32 = EMPTY_RESULTS_HASH


@dataclass(frozen=True, slots=True)
class CommittedBlockReceived:
    """Block sync: a block and the certificate that committed it, fetched from a peer."""

    block: Block
    certificate: CommitCertificate
    now_ms: TimestampMs | None = None


Event = (
    Started
    | ProposalReceived
    | VoteReceived
    | EvidenceReceived
    | TimeoutElapsed
    | TxsAvailable
    | BlockExecuted
    | CommittedBlockReceived
)

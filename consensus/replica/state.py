"""The replica's state, in one place, and the limits that bound it.

:class:`ReplicaState` is everything that decides what the replica does next: what it keeps
across heights, and a :class:`HeightState` for the height being decided, which holds a frozen
:class:`RoundState` for the round and step it is in. :func:`new_height_state` is the one
function that builds a height's state (through :func:`new_replica_state` at start, and after
every committed block), and a round's one-shot rules are fields of its RoundState, so they
reset with the round.
:func:`freeze` gives the comparable :class:`ReplicaSnapshot` that ``Replica.snapshot()``
returns. Only :class:`consensus.replica.core.Replica` changes a ReplicaState.

Never: hold behaviour or do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from consensus.blocks import EMPTY_RESULTS_HASH, Block, TxsRule
from consensus.errors import ConsensusError
from consensus.leader import EMPTY_WINDOW, LeaderWindow, compute_proposer_skips
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote
from consensus.params import ConsensusParams
from consensus.proposal import Proposal
from consensus.replica.faults import ReplicaFaults
from consensus.round_step import RoundStep, S
from consensus.safety import SignState
from consensus.types import ChainId, Hash32, Height, PublicKey, Round, TimestampMs
from consensus.validators import ValidatorSet
from consensus.vote_set import HeightVotes

FUTURE_ROUNDS_PER_VALIDATOR_MAX = 2
"""A validator's votes may open at most this many rounds above ours (bounds vote spam)."""
PROPOSAL_ROUNDS_AHEAD_MAX = 8
"""Proposals more than this many rounds ahead of ours are dropped (they come again)."""
FUTURE_HEIGHT_MESSAGES_MAX = 1_024
"""Buffer for next-height proposals and votes that arrive before BlockExecuted."""
FUTURE_MESSAGES_PER_VALIDATOR_MAX = 16
"""One validator's share of that buffer: an honest one sends a proposal and two votes per round,
so a Byzantine one cannot crowd out everybody else's next-height messages."""
PENDING_EVIDENCE_MAX = 256
RULE_ITERATIONS_MAX = 64

PREVOTE_STEPS = frozenset({S.PREVOTE, S.PREVOTE_WAIT})
AT_LEAST_PREVOTE = frozenset({S.PREVOTE, S.PREVOTE_WAIT, S.PRECOMMIT, S.PRECOMMIT_WAIT})


class RejectedInput(ConsensusError, ValueError):
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
    txs_rule: TxsRule | None = None
    """The application's rule for the txs of block ``height + 1`` (None: any txs)."""
    last_results_hash: Hash32 = EMPTY_RESULTS_HASH
    """Root of the receipts of block ``height`` (empty at 0)."""
    leader_window: LeaderWindow | None = None
    """What the last committed blocks (up to ``height``) show present: committed data every
    node agrees on. It decides whom round 0 of the next heights skips (:mod:`consensus.leader`).
    None: no history given, so round 0 keeps the plain rotation until the replica has folded in
    ``W`` blocks itself (the node and the simulator always give it)."""


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """What a replica is and runs with; fixed for its lifetime."""

    chain_id: ChainId
    params: ConsensusParams
    public_key: PublicKey | None
    """Our validator key; None for a non-voting observer."""
    faults: ReplicaFaults
    """Deliberate deviations for tests and the simulator (``ReplicaFaults()`` = honest)."""


@dataclass(frozen=True, slots=True)
class RoundState:
    """Where the replica is within its height. Replaced, never changed: a new round starts
    from a fresh one, so the once-per-round rules below are armed again."""

    round: Round
    step: RoundStep
    polka_seen: bool = False
    """Line 36 fired in this round (lock and valid value are set once per round)."""
    precommit_wait_started: bool = False
    """Line 47 fired in this round (the precommit timeout is armed once per round)."""


@dataclass(slots=True)
class HeightState:
    """The height being decided. Built only by :func:`new_height_state`."""

    height: Height
    last_block_hash: Hash32
    """The block this height extends (``ChainTip`` of the new block)."""
    last_commit: CommitCertificate | None
    last_block_time_ms: TimestampMs
    app_hash: Hash32
    last_results_hash: Hash32
    votes: HeightVotes
    proposals: dict[Round, Proposal]
    """The first validly signed proposal of each round."""
    locked_hash: Hash32 | None
    """lockedValue, by hash (the block itself is only needed as validValue)."""
    locked_round: int
    valid_block: Block | None
    """validValue."""
    valid_round: int
    decision: tuple[Block, CommitCertificate] | None
    """The decided block and its certificate, until BlockExecuted starts the next height."""
    round_state: RoundState
    untimely_rounds: set[Round] = field(default_factory=set)
    """Rounds whose proposal arrived with a timestamp out of bounds (proposer-based time): a
    fresh one is prevoted nil."""
    validity: dict[Hash32, str | None] = field(default_factory=dict)
    """Cache of valid(v) for this height: a pure function's results, not state."""
    txs_rule: TxsRule | None = None
    """The application's rule for this height's txs (part of valid(v)); a function of the
    application state, which ``app_hash`` identifies."""
    leader_window: LeaderWindow = EMPTY_WINDOW
    """What the committed blocks up to ``height - 1`` show present."""
    proposer_skips: frozenset[PublicKey] = frozenset()
    """Who round 0's proposer rotation skips: shown absent by ``leader_window``
    (:func:`consensus.leader.compute_proposer_skips`)."""


@dataclass(slots=True)
class ReplicaState:
    """Everything that decides the replica's behaviour. Only ``Replica`` changes it."""

    validator_sets: dict[int, ValidatorSet]
    """Sets of the current height's neighbours and of the heights evidence may come from."""
    sign_state: SignState
    """What we signed last; every signature goes through it (:mod:`consensus.safety`)."""
    txs: tuple[bytes, ...]
    """The node's candidate txs for our next proposal."""
    pending_evidence: dict[Hash32, DuplicateVoteEvidence]
    """Verified evidence waiting to go into a block."""
    committed_evidence: dict[Hash32, int]
    """Evidence already in a committed block (by hash), with its height, until it ages out."""
    now_ms: TimestampMs
    """The latest time the node told us; only stamps the blocks we propose."""
    started: bool
    next_height_messages: list[Proposal | Vote]
    """Proposals and votes of the next height that arrived before BlockExecuted."""
    untimely_next_height: set[Round]
    """Rounds of the buffered next-height proposals that arrived with an out-of-bounds time."""
    absent_proposers: set[PublicKey]
    """Validators whose last turn as proposer ended in our propose timeout with no proposal;
    their next turns get the short propose timeout until a proposal of theirs arrives."""
    last_proposal: Proposal | None
    """The proposal that carried the last committed block (sent to lagging validators)."""
    current: HeightState


def new_replica_state(chain: ChainState, sign_state: SignState) -> ReplicaState:
    """A replica's state before Started, on top of ``chain``."""
    return ReplicaState(
        validator_sets=dict(chain.validator_sets),
        sign_state=sign_state,
        txs=(),
        pending_evidence={},
        committed_evidence={},
        now_ms=TimestampMs(0),
        started=False,
        next_height_messages=[],
        untimely_next_height=set(),
        absent_proposers=set(),
        last_proposal=None,
        current=new_height_state(chain),
    )


def new_height_state(chain: ChainState) -> HeightState:
    """The state of height ``chain.height + 1``, at its round 0, before anything arrived."""
    height = Height(chain.height + 1)
    window = chain.leader_window
    if window is None:
        window = LeaderWindow.empty_after(chain.height)
    vset = chain.validator_sets[height]
    return HeightState(
        height=height,
        last_block_hash=chain.last_block_hash,
        last_commit=chain.last_commit,
        last_block_time_ms=chain.last_block_time_ms,
        app_hash=chain.app_hash,
        last_results_hash=chain.last_results_hash,
        votes=HeightVotes(height, vset),
        proposals={},
        locked_hash=None,
        locked_round=-1,
        valid_block=None,
        valid_round=-1,
        decision=None,
        round_state=RoundState(Round(0), S.NEW_HEIGHT),
        txs_rule=chain.txs_rule,
        leader_window=window,
        proposer_skips=compute_proposer_skips(window, vset, height),
    )


@dataclass(frozen=True, slots=True)
class ReplicaSnapshot:
    """A frozen, comparable copy of a ReplicaState: its fields and its height's, by name (only
    the validity cache and the txs rule are left out). Equal snapshots mean equal behaviour."""

    validator_sets: tuple[tuple[int, ValidatorSet], ...]
    sign_state: SignState
    txs: tuple[bytes, ...]
    pending_evidence: tuple[tuple[Hash32, DuplicateVoteEvidence], ...]
    committed_evidence: tuple[tuple[Hash32, int], ...]
    now_ms: TimestampMs
    started: bool
    next_height_messages: tuple[Proposal | Vote, ...]
    untimely_next_height: frozenset[Round]
    absent_proposers: frozenset[PublicKey]
    last_proposal: Proposal | None
    height: Height
    last_block_hash: Hash32
    last_commit: CommitCertificate | None
    last_block_time_ms: TimestampMs
    app_hash: Hash32
    last_results_hash: Hash32
    votes: tuple[tuple[int, int, tuple[Vote, ...]], ...]
    proposals: tuple[tuple[Round, Proposal], ...]
    locked_hash: Hash32 | None
    locked_round: int
    valid_block: Block | None
    valid_round: int
    decision: tuple[Block, CommitCertificate] | None
    round_state: RoundState
    untimely_rounds: frozenset[Round]
    leader_window: LeaderWindow
    proposer_skips: frozenset[PublicKey]


_NOT_SNAPSHOT = frozenset({"current", "validity", "txs_rule"})


def freeze(state: ReplicaState) -> ReplicaSnapshot:
    """The snapshot of ``state``. Built field by field, by name, so a field added to the state
    but not to the snapshot (or the other way round) fails here at once."""
    values: dict[str, Any] = {}
    for part in (state, state.current):
        for f in fields(part):
            if f.name not in _NOT_SNAPSHOT:
                values[f.name] = _frozen(getattr(part, f.name))
    return ReplicaSnapshot(**values)


def _frozen(value: object) -> object:
    if isinstance(value, HeightVotes):
        return value.snapshot()
    if isinstance(value, dict):
        return tuple(sorted(value.items(), key=lambda item: item[0]))
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, set):
        return frozenset(value)
    return value

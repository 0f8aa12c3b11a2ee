"""The replica's state, its limits and the two types it hands out (shared by its modules).

:class:`ReplicaState` only declares the attributes the replica's modules share;
:class:`consensus.replica.Replica` initialises them. The names here are also importable from
:mod:`consensus.replica`, their public home.

Never: hold behaviour (that is in the other modules of this package) or do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from consensus.blocks import Block
from consensus.crypto import PrivateKey
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote
from consensus.params import ConsensusParams
from consensus.proposal import Proposal
from consensus.round_step import RoundStep
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


class ReplicaState:
    """The attributes of a replica (declared here, set by ``Replica.__init__``)."""

    chain_id: ChainId
    params: ConsensusParams
    _key: PrivateKey | None
    public_key: PublicKey | None
    _sets: dict[int, ValidatorSet]
    _sign_state: SignState
    _txs: tuple[bytes, ...]
    _evidence: dict[Hash32, DuplicateVoteEvidence]
    _committed_evidence: dict[Hash32, int]
    _now_ms: TimestampMs
    _started: bool
    _future: list[Proposal | Vote]
    _last_proposal: Proposal | None
    """The proposal that carried the last committed block (sent to lagging validators)."""
    _decision: tuple[Block, CommitCertificate] | None
    _once: frozenset[str]
    _validity: dict[Hash32, str | None]  # cache of a pure function, not state

    # per height (reset by ``_enter_height``)
    _height: Height
    _round: Round
    _step: RoundStep
    _last_block_hash: Hash32
    _last_commit: CommitCertificate | None
    _last_block_time_ms: TimestampMs
    _app_hash: Hash32
    _votes: HeightVotes
    _proposals: dict[Round, Proposal]
    _locked: Hash32 | None
    """lockedValue, by hash (the block itself is only needed as validValue)."""
    _locked_round: int
    _valid: Block | None
    _valid_round: int

"""What the replica does to its state, as values.

Validation (:mod:`consensus.replica.validation`) turns an accepted event into one transition
and each upon-rule (:mod:`consensus.replica.rules`) names the transition it fires; only
``Replica._apply`` carries them out. So deciding what to do is pure, and every change of the
state happens in one class.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.blocks import Block
from consensus.events import BlockExecuted
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote
from consensus.proposal import Proposal
from consensus.types import Hash32, PublicKey, Round


@dataclass(frozen=True, slots=True)
class Start:
    """Started: enter round 0 (also after a restart; the node then replays the height's log)."""


@dataclass(frozen=True, slots=True)
class SetTxs:
    """TxsAvailable: the candidate txs for our next proposal."""

    txs: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class StoreProposal:
    """A validly signed proposal of our height, the first of its round."""

    proposal: Proposal
    timely: bool = True
    """Its timestamp was within the bounds of our clock when it arrived (or the arrival time
    is unknown: a WAL record of an older version)."""


@dataclass(frozen=True, slots=True)
class AddVote:
    """A validly signed vote of our height, not yet counted."""

    vote: Vote


@dataclass(frozen=True, slots=True)
class BufferForNextHeight:
    """A validly signed proposal or vote of the next height, kept until we get there."""

    message: Proposal | Vote
    timely: bool = True
    """For a proposal: its timestamp was within bounds when it arrived."""


@dataclass(frozen=True, slots=True)
class HelpLaggingPeer:
    """A vote of our previous height: send its author what decided that height."""

    peer: PublicKey
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class AddEvidence:
    """Verified evidence gossiped by a peer (not gossiped on again)."""

    evidence: DuplicateVoteEvidence


@dataclass(frozen=True, slots=True)
class StartRound:
    """StartRound(round) of line 11: at a new height, on a round skip (line 55) or on the
    precommit timeout (line 65)."""

    round: Round


@dataclass(frozen=True, slots=True)
class EnterPropose:
    """Round 0 stops waiting for txs: they came, the empty-block interval passed, or the
    proposer already proposed."""


@dataclass(frozen=True, slots=True)
class Prevote:
    """Step prevote, voting ``block_hash`` (None = nil): lines 22, 28 and 57."""

    block_hash: Hash32 | None


@dataclass(frozen=True, slots=True)
class StartPrevoteWait:
    """Line 34: the prevote timeout starts."""


@dataclass(frozen=True, slots=True)
class LockOnPolka:
    """Line 36: the round's proposal has a polka; lock and precommit it (if still in a prevote
    step) and make it the valid value."""

    block: Block


@dataclass(frozen=True, slots=True)
class PrecommitNil:
    """Step precommit, voting nil: lines 44 and 61."""


@dataclass(frozen=True, slots=True)
class StartPrecommitWait:
    """Line 47: the precommit timeout starts."""


@dataclass(frozen=True, slots=True)
class Rebroadcast:
    """Re-send what we signed in this round and the one before (lost messages)."""


@dataclass(frozen=True, slots=True)
class Decide:
    """Line 49 (or block sync): ``block`` is committed by ``certificate``."""

    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class EnterNextHeight:
    """BlockExecuted: the decided block is executed; the next height starts."""

    executed: BlockExecuted


Transition = (
    Start
    | SetTxs
    | StoreProposal
    | AddVote
    | BufferForNextHeight
    | HelpLaggingPeer
    | AddEvidence
    | StartRound
    | EnterPropose
    | Prevote
    | StartPrevoteWait
    | LockOnPolka
    | PrecommitNil
    | StartPrecommitWait
    | Rebroadcast
    | Decide
    | EnterNextHeight
)

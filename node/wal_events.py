"""Consensus inputs as WAL records: what the driver appends before the replica handles an event.

Only events that change what the replica may sign are logged: proposals, votes, evidence,
timeouts and block-sync commits, plus the replica's own signed messages (so after a crash it
remembers exactly what it proposed and voted, and its locks). ``TxsAvailable`` is not logged: it
only feeds the next proposal, and a restarted proposer either re-signs the identical proposal it
logged or signs nothing (the safety guard refuses a conflicting one). ``Started`` and
``BlockExecuted`` are re-derived from the store on restart.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Iterator

from consensus import codec
from consensus.blocks import Block
from consensus.events import (
    CommittedBlockReceived,
    Event,
    EvidenceReceived,
    ProposalReceived,
    TimeoutElapsed,
    VoteReceived,
)
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote
from consensus.proposal import Proposal
from consensus.round_step import Timer
from consensus.types import Height, Round, TimestampMs

log = logging.getLogger("depochain.driver")


class WalTag(enum.IntEnum):
    PROPOSAL = 1
    VOTE = 2
    EVIDENCE = 3
    TIMEOUT = 4
    COMMITTED_BLOCK = 5


LoggedEvent = (
    ProposalReceived | VoteReceived | EvidenceReceived | TimeoutElapsed | CommittedBlockReceived
)


_LOGGED_TYPES = (
    ProposalReceived,
    VoteReceived,
    EvidenceReceived,
    TimeoutElapsed,
    CommittedBlockReceived,
)


def is_logged(event: Event) -> bool:
    return isinstance(event, _LOGGED_TYPES)


def encode_event(event: LoggedEvent) -> bytes:
    if isinstance(event, ProposalReceived):
        # Its arrival time too: a replay must judge the proposal's timestamp as it was judged.
        arrival = [] if event.now_ms is None else [event.now_ms]
        return codec.encode([int(WalTag.PROPOSAL), event.proposal.to_wire(), *arrival])
    if isinstance(event, VoteReceived):
        return codec.encode([int(WalTag.VOTE), event.vote.to_wire()])
    if isinstance(event, EvidenceReceived):
        return codec.encode([int(WalTag.EVIDENCE), event.evidence.to_wire()])
    if isinstance(event, TimeoutElapsed):
        return codec.encode([int(WalTag.TIMEOUT), event.height, event.round, int(event.timer)])
    return codec.encode(
        [int(WalTag.COMMITTED_BLOCK), event.block.to_wire(), event.certificate.to_wire()]
    )


def decode_event(data: bytes) -> LoggedEvent:
    """Decode a WAL record; raises CodecError for a record this version cannot read."""
    value = codec.decode(data)
    items = codec.expect_list(value, "wal record", 4)
    if not items:
        raise codec.CodecError("empty wal record")
    tag = codec.expect_uint(items[0], "wal tag")
    if tag == WalTag.PROPOSAL and len(items) in (2, 3):  # 2: no arrival time (older version)
        arrival = codec.expect_uint(items[2], "arrival", 2**62) if len(items) == 3 else None
        return ProposalReceived(
            Proposal.from_wire(items[1]), TimestampMs(arrival) if arrival is not None else None
        )
    if tag == WalTag.VOTE and len(items) == 2:
        return VoteReceived(Vote.from_wire(items[1]))
    if tag == WalTag.EVIDENCE and len(items) == 2:
        return EvidenceReceived(DuplicateVoteEvidence.from_wire(items[1]))
    if tag == WalTag.TIMEOUT and len(items) == 4:
        timer = codec.expect_uint(items[3], "timer")
        if timer not in Timer._value2member_map_:
            raise codec.CodecError(f"unknown timer {timer}")
        return TimeoutElapsed(
            Height(codec.expect_uint(items[1], "height")),
            Round(codec.expect_uint(items[2], "round")),
            Timer(timer),
        )
    if tag == WalTag.COMMITTED_BLOCK and len(items) == 3:
        return CommittedBlockReceived(
            Block.from_wire(items[1]), CommitCertificate.from_wire(items[2])
        )
    raise codec.CodecError(f"unknown wal record tag {tag}")


def encode_own_message(message: Proposal | Vote) -> bytes:
    """The record of a message we signed, as a peer's copy of it would be logged."""
    own = ProposalReceived(message) if isinstance(message, Proposal) else VoteReceived(message)
    return encode_event(own)


def decode_replayable(records: Iterable[bytes]) -> Iterator[LoggedEvent]:
    """The events of ``records``, skipping (with a warning) those this version cannot read."""
    for record in records:
        try:
            yield decode_event(record)
        except codec.CodecError as exc:
            log.warning("wal: skipping a record this version cannot read: %s", exc)


def is_own_message(event: Event, public_key: bytes | None) -> bool:
    """True if ``event`` carries a proposal or vote signed by ``public_key``."""
    if public_key is None:
        return False
    if isinstance(event, ProposalReceived):
        return event.proposal.proposer == public_key
    return isinstance(event, VoteReceived) and event.vote.validator == public_key

"""Which of a peer's consensus messages may be written to the WAL at all.

The driver appends every consensus input to the WAL before the replica sees it (persist before
you act). Unchecked, that let any connected peer write to our disk at wire speed: proposals with
bad signatures, from non-validators, or for height 10^6 were appended and only then refused, and
40 of them grew the WAL by hundreds of megabytes in seconds. So a peer's proposal, vote or
evidence is first checked here against what needs no replica state change:

- its height is one the replica can use (the previous, current or next height);
- it is signed, with a valid signature, by the validator the validator set of that height
  expects (the proposer of that round, or the validator at that index);
- its record is no larger than a full block needs;
- it is new: an exact copy of one the replica accepted at this height (gossip repeats it) is
  not logged again (the replica refuses such a copy; a lagging peer's vote is exempt, since
  each one asks us again for the certificate it missed);
- the height's byte budget for peers' records is not spent; past it, only messages of the
  replica's current round are still logged (they are what liveness needs, and the replica
  accepts a bounded number of them per round).

What fails is dropped before the WAL, counted by the driver, and never handed to the replica
(which would refuse it anyway). Our own messages never pass through here: they are always
logged. The checks reuse the replica's own pure validation functions, so they can only refuse
what the replica itself would refuse.
"""

from __future__ import annotations

from consensus.events import EvidenceReceived, ProposalReceived, VoteReceived
from consensus.replica import RejectedInput, Replica
from consensus.replica.validation import validate_proposal_signed, validate_vote_signed

PeerEvent = ProposalReceived | VoteReceived | EvidenceReceived

RECORD_OVERHEAD_BYTES = 64 * 1024
"""Room a proposal's record needs beyond its block (round, signature, encoding)."""
SMALL_RECORD_BYTES_MAX = 16 * 1024
"""Largest vote or evidence record (a vote is well under 1 KiB, evidence holds two votes)."""
BUDGET_BLOCKS_PER_HEIGHT = 4
"""Full blocks' worth of peers' records logged per height before only the current round is."""
BUDGET_SLACK_BYTES = 4 * 1024 * 1024


def is_peer_event(event: object) -> bool:
    return isinstance(event, ProposalReceived | VoteReceived | EvidenceReceived)


class WalAdmission:
    """Per-height accounting of peers' WAL records and the checks before each append."""

    def __init__(self, block_bytes_max: int) -> None:
        self.record_bytes_max = block_bytes_max + RECORD_OVERHEAD_BYTES
        self.height_budget_bytes = BUDGET_BLOCKS_PER_HEIGHT * block_bytes_max + BUDGET_SLACK_BYTES
        self._height = -1
        self._spent_bytes = 0
        self._accepted: set[bytes] = set()

    def get_refusal(self, event: PeerEvent, record: bytes, replica: Replica) -> str | None:
        """Why ``event`` (encoded as ``record``) must not be logged, or None if it may be."""
        self._enter_height(replica.height)
        reason = get_invalidity(event, replica)
        if reason is not None:
            return reason
        limit = (
            self.record_bytes_max if isinstance(event, ProposalReceived) else SMALL_RECORD_BYTES_MAX
        )
        if len(record) > limit:
            return f"record of {len(record)} bytes exceeds {limit}"
        if record in self._accepted:
            return "a copy was accepted at this height"
        over = self._spent_bytes + len(record) > self.height_budget_bytes
        if over and not _is_current_round(event, replica):
            return "height's byte budget for peers' messages is spent"
        return None

    def record_logged(self, record: bytes) -> None:
        self._spent_bytes += len(record)

    def record_accepted(self, event: PeerEvent, record: bytes, replica_height: int) -> None:
        """The replica took ``event``: an exact copy of it is refused from now on."""
        if isinstance(event, VoteReceived) and event.vote.height < replica_height:
            return  # a lagging peer's vote: each copy asks for help again
        self._accepted.add(record)

    def _enter_height(self, height: int) -> None:
        if height != self._height:
            self._height, self._spent_bytes = height, 0
            self._accepted.clear()


def get_invalidity(event: PeerEvent, replica: Replica) -> str | None:
    """The stateless checks: a usable height, the expected signer, a valid signature."""
    if isinstance(event, EvidenceReceived):
        votes = (event.evidence.vote_a, event.evidence.vote_b)
        if not all(vote.is_signature_valid(replica.chain_id) for vote in votes):
            return "evidence with a bad vote signature"
        return None
    message = event.proposal if isinstance(event, ProposalReceived) else event.vote
    if not replica.height - 1 <= message.height <= replica.height + 1:
        return "height outside the replica's window"
    validator_set = replica.get_validator_set(message.height)
    try:
        if isinstance(event, ProposalReceived):
            skips = replica.get_proposer_skips(message.height)
            validate_proposal_signed(event.proposal, validator_set, replica.chain_id, skips)
        else:
            validate_vote_signed(event.vote, validator_set, replica.chain_id)
    except RejectedInput as exc:
        return str(exc)
    return None


def _is_current_round(event: PeerEvent, replica: Replica) -> bool:
    if isinstance(event, EvidenceReceived):
        return False
    message = event.proposal if isinstance(event, ProposalReceived) else event.vote
    return message.height == replica.height and message.round == replica.round

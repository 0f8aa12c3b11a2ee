"""Votes of one height: per (round, type) tallies by voting power, and equivocation detection.

A vote is validated (:func:`validate_vote`) before it is added, so a VoteSet only ever holds
authentic votes. The first vote of a validator for a (round, type) counts; a second, different
one is returned as :class:`Equivocation` evidence and also counted for the block it names
(bounded by ``CONFLICTING_VOTES_MAX``), so an equivocator cannot hide a polka from anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.errors import InvalidMessage
from consensus.messages import DuplicateVoteEvidence, Vote, VoteType
from consensus.types import ChainId, Hash32, Height, Round, ValidatorIndex
from consensus.validators import ValidatorSet

CONFLICTING_VOTES_MAX = 4
"""Conflicting votes counted per validator and (round, type) beyond its first (bounds memory).
[simulator fix] 2 was too few: a Byzantine validator that also signs votes for rounds ahead
(sim ROUND_RUSHER, seed 10090 of ``depochain simulate``) fills the slots with junk hashes before
its real vote arrives, hiding a polka again. Known gap: an equivocator sending more versions
than this still can; the complete fix is CometBFT's VoteSetMaj23 (count a conflicting vote
for a block once a peer claims > 2/3 for it, and have gossip re-offer those votes)."""


class InvalidVote(InvalidMessage):
    """A vote from an unknown validator, with a mismatched index, or a bad signature."""


@dataclass(frozen=True, slots=True)
class Added:
    vote: Vote


@dataclass(frozen=True, slots=True)
class Duplicate:
    vote: Vote


@dataclass(frozen=True, slots=True)
class Equivocation:
    evidence: DuplicateVoteEvidence


AddResult = Added | Duplicate | Equivocation


def validate_vote(vote: Vote, validator_set: ValidatorSet, chain_id: ChainId) -> None:
    """Raise :class:`InvalidVote` unless the signer sits at ``validator_index`` and signed it."""
    member = validator_set.get_by_index(vote.validator_index)
    if member is None or member.public_key != vote.validator:
        raise InvalidVote("validator index does not match a validator of this height")
    if not vote.is_signature_valid(chain_id):
        raise InvalidVote("bad vote signature")


class VoteSet:
    """The validated votes of one (height, round, type) with power tallies per block hash."""

    def __init__(
        self, height: Height, round_: Round, vote_type: VoteType, validator_set: ValidatorSet
    ) -> None:
        self.height = height
        self.round = round_
        self.type = vote_type
        self.validator_set = validator_set
        self._votes: dict[ValidatorIndex, Vote] = {}
        self._conflicting: dict[ValidatorIndex, dict[Hash32 | None, Vote]] = {}
        """Later votes of a validator that differ from its first (equivocation)."""
        self._power_by_hash: dict[Hash32 | None, int] = {}
        self._power_any = 0

    def add_vote(self, vote: Vote) -> AddResult:
        """Count a validated vote of this (height, round, type)."""
        if (vote.height, vote.round, vote.type) != (self.height, self.round, self.type):
            raise ValueError("vote added to the wrong VoteSet")  # our own bug, not bad input
        existing = self._votes.get(vote.validator_index)
        if existing is not None:
            if existing.block_hash == vote.block_hash:
                return Duplicate(existing)
            # [simulator fix] A conflicting vote still counts for the block it names (the paper
            # counts messages; CometBFT tracks conflicting votes too). Counting only the first
            # vote let a double voter show nil to some honest replicas and X to others, so the
            # former never saw X's polka and a lock on X could never be released: a liveness
            # failure with 1 Byzantine of 4 (sim seed 11). Two different blocks still cannot
            # both reach > 2/3 unless > 1/3 of the power equivocates. Bounded per validator.
            others = self._conflicting.setdefault(vote.validator_index, {})
            if vote.block_hash in others:
                return Duplicate(others[vote.block_hash])
            if len(others) < CONFLICTING_VOTES_MAX:
                others[vote.block_hash] = vote
                power = self.validator_set.validators[vote.validator_index].power
                self._power_by_hash[vote.block_hash] = (
                    self._power_by_hash.get(vote.block_hash, 0) + power
                )
            return Equivocation(DuplicateVoteEvidence.of(existing, vote))
        member = self.validator_set.validators[vote.validator_index]
        self._votes[vote.validator_index] = vote
        self._power_by_hash[vote.block_hash] = (
            self._power_by_hash.get(vote.block_hash, 0) + member.power
        )
        self._power_any += member.power
        return Added(vote)

    def get_vote(self, index: ValidatorIndex) -> Vote | None:
        """The validator's first vote in this set."""
        return self._votes.get(index)

    def contains(self, vote: Vote) -> bool:
        """This validator's vote for this block is already counted (first or conflicting)."""
        first = self._votes.get(vote.validator_index)
        if first is not None and first.block_hash == vote.block_hash:
            return True
        return vote.block_hash in self._conflicting.get(vote.validator_index, {})

    def get_power(self, block_hash: Hash32 | None) -> int:
        return self._power_by_hash.get(block_hash, 0)

    @property
    def power_any(self) -> int:
        return self._power_any

    def has_quorum_for(self, block_hash: Hash32 | None) -> bool:
        """> 2/3 of the power voted for ``block_hash`` (None = nil)."""
        return self.validator_set.is_quorum(self.get_power(block_hash))

    def has_quorum_any(self) -> bool:
        """> 2/3 of the power voted, for anything."""
        return self.validator_set.is_quorum(self._power_any)

    def get_quorum_block(self) -> Hash32 | None:
        """The block (not nil) that > 2/3 of the power voted for, if any."""
        for block_hash, power in self._power_by_hash.items():
            if block_hash is not None and self.validator_set.is_quorum(power):
                return block_hash
        return None

    def get_quorum_blocks(self) -> list[Hash32]:
        """Every block (not nil) with > 2/3 of the power; more than one only if more than 1/3
        of the power equivocated (conflicting votes count too)."""
        return [
            h
            for h, power in self._power_by_hash.items()
            if h is not None and self.validator_set.is_quorum(power)
        ]

    def signer_indexes(self) -> frozenset[ValidatorIndex]:
        return frozenset(self._votes)

    def votes(self) -> tuple[Vote, ...]:
        """All counted votes, by validator index (an equivocator's first vote, then the
        conflicting ones; at most one vote per validator for any one block hash)."""
        return tuple(
            vote
            for i in sorted(self._votes)
            for vote in (self._votes[i], *self._conflicting.get(i, {}).values())
        )

    def snapshot(self) -> tuple[Vote, ...]:
        return self.votes()


class HeightVotes:
    """All prevotes and precommits of one height, by round."""

    def __init__(self, height: Height, validator_set: ValidatorSet) -> None:
        self.height = height
        self.validator_set = validator_set
        self._sets: dict[tuple[Round, VoteType], VoteSet] = {}

    def get(self, round_: Round, vote_type: VoteType) -> VoteSet:
        """The vote set of (round, type); an empty, unstored one if nothing arrived yet."""
        found = self._sets.get((round_, vote_type))
        if found is None:
            return VoteSet(self.height, round_, vote_type, self.validator_set)
        return found

    def prevotes(self, round_: Round) -> VoteSet:
        return self.get(round_, VoteType.PREVOTE)

    def precommits(self, round_: Round) -> VoteSet:
        return self.get(round_, VoteType.PRECOMMIT)

    def add_vote(self, vote: Vote) -> AddResult:
        key = (vote.round, vote.type)
        vote_set = self._sets.get(key)
        if vote_set is None:
            vote_set = VoteSet(self.height, vote.round, vote.type, self.validator_set)
        result = vote_set.add_vote(vote)
        if isinstance(result, Added):
            self._sets[key] = vote_set
        return result

    def get_rounds(self) -> list[Round]:
        return sorted({r for r, _ in self._sets})

    def get_round_power(self, round_: Round) -> int:
        """Power of the distinct validators with any vote in ``round_`` (for round skipping)."""
        signers = self.prevotes(round_).signer_indexes() | self.precommits(round_).signer_indexes()
        return sum(self.validator_set.validators[i].power for i in signers)

    def count_rounds_above(self, index: ValidatorIndex, round_: Round) -> int:
        """In how many rounds above ``round_`` validator ``index`` has votes (spam bound)."""
        return len(
            {
                r
                for (r, _), vote_set in self._sets.items()
                if r > round_ and vote_set.get_vote(index) is not None
            }
        )

    def has_vote_in_round(self, index: ValidatorIndex, round_: Round) -> bool:
        return any(self.get(round_, t).get_vote(index) is not None for t in VoteType)

    def snapshot(self) -> tuple[tuple[int, int, tuple[Vote, ...]], ...]:
        return tuple((r, int(t), self._sets[(r, t)].snapshot()) for r, t in sorted(self._sets))

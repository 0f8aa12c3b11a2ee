"""Minimal reproductions of replica bugs the simulator found (each names the seed that did)."""

from __future__ import annotations

from consensus.crypto import PrivateKey, SignPurpose
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.types import ChainId, Hash32, Height, Round
from consensus.validators import Validator, ValidatorSet
from consensus.vote_set import CONFLICTING_VOTES_MAX, Equivocation, VoteSet

CHAIN = ChainId("fix-test")
KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(4)]
VSET = ValidatorSet.of(Validator(k.public_key, 10) for k in KEYS)  # type: ignore[arg-type]
BLOCK_X = Hash32(b"x" * 32)


def _prevote(key: PrivateKey, block_hash: Hash32 | None) -> Vote:
    payload = compute_vote_sign_payload(VoteType.PREVOTE, 1, 0, block_hash)
    index = VSET.get_index(key.public_key)
    assert index is not None
    return Vote(
        VoteType.PREVOTE,
        Height(1),
        Round(0),
        block_hash,
        index,
        key.public_key,
        key.sign(SignPurpose.VOTE, CHAIN, payload),
    )


def test_a_double_voter_cannot_hide_a_polka() -> None:
    """Seed 11 (4 validators, 1 double voter): an honest replica got the Byzantine nil prevote
    first and X second; counting only the first hid X's polka from it forever."""
    votes = VoteSet(Height(1), Round(0), VoteType.PREVOTE, VSET)
    byzantine, *honest = KEYS
    votes.add_vote(_prevote(byzantine, None))
    assert isinstance(votes.add_vote(_prevote(byzantine, BLOCK_X)), Equivocation)
    votes.add_vote(_prevote(honest[0], BLOCK_X))
    assert not votes.has_quorum_for(BLOCK_X)
    votes.add_vote(_prevote(honest[1], BLOCK_X))
    assert votes.has_quorum_for(BLOCK_X)
    assert votes.power_any == 30  # each validator counts once towards "any"
    assert not votes.has_quorum_for(None)


def test_conflicting_votes_are_bounded_and_deduplicated() -> None:
    votes = VoteSet(Height(1), Round(0), VoteType.PREVOTE, VSET)
    byzantine = KEYS[0]
    votes.add_vote(_prevote(byzantine, None))
    for i in range(CONFLICTING_VOTES_MAX + 1):
        votes.add_vote(_prevote(byzantine, Hash32(bytes([i]) * 32)))
    assert len(votes.votes()) == 1 + CONFLICTING_VOTES_MAX
    assert votes.contains(_prevote(byzantine, Hash32(bytes([1]) * 32)))
    assert not votes.contains(_prevote(byzantine, Hash32(bytes([4]) * 32)))

"""Minimal reproductions of replica bugs the simulator found (each names the seed that did)."""

from __future__ import annotations

from consensus.actions import SendTo
from consensus.crypto import PrivateKey, SignPurpose
from consensus.events import Started, VoteReceived
from consensus.messages import (
    CommitCertificate,
    CommitSig,
    Vote,
    VoteType,
    compute_vote_sign_payload,
)
from consensus.params import ConsensusParams
from consensus.replica import ChainState, Replica
from consensus.types import ChainId, Hash32, Height, Round, TimestampMs
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


def _precommit(key: PrivateKey, height: int, round_: int, block_hash: Hash32) -> Vote:
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, height, round_, block_hash)
    index = VSET.get_index(key.public_key)
    assert index is not None
    return Vote(
        VoteType.PRECOMMIT,
        Height(height),
        Round(round_),
        block_hash,
        index,
        key.public_key,
        key.sign(SignPurpose.VOTE, CHAIN, payload),
    )


def test_no_catch_up_replies_to_precommits_of_our_block_from_another_round() -> None:
    """`depochain simulate --seed 40062 --validators 7 --byzantine 2`: nodes held certificates
    of block 5 from rounds 0 and 1; each answered the other round's precommits with its own,
    and the catch-up traffic grew until the event queue overflowed."""
    cert_votes = [_precommit(k, 1, 1, BLOCK_X) for k in KEYS[:3]]
    cert = CommitCertificate(
        Height(1),
        Round(1),
        BLOCK_X,
        tuple(
            CommitSig(v.validator_index, v.signature)
            for v in sorted(cert_votes, key=lambda v: v.validator_index)
        ),
    )
    chain = ChainState(
        height=Height(1),
        last_block_hash=BLOCK_X,
        last_commit=cert,
        last_block_time_ms=TimestampMs(1_000),
        app_hash=Hash32(bytes(32)),
        validator_sets={1: VSET, 2: VSET, 3: VSET},
    )
    replica = Replica(CHAIN, KEYS[0], ConsensusParams(), chain)
    replica.handle(Started(TimestampMs(2_000)))
    other_round = _precommit(KEYS[3], 1, 0, BLOCK_X)
    actions = replica.handle(VoteReceived(other_round))
    assert not [a for a in actions if isinstance(a, SendTo)]
    lagging = _prevote(KEYS[3], BLOCK_X)  # a prevote of height 1: that validator is behind
    assert [a for a in replica.handle(VoteReceived(lagging)) if isinstance(a, SendTo)]

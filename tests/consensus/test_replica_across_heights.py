"""What the replica keeps, drops and hands on from one height to the next.

A replica is driven through heights the way a syncing node drives it: each block arrives with
its certificate (CommittedBlockReceived) and the node answers BlockExecuted. Old validator sets
and evidence are kept exactly as long as evidence from their heights may still go into a block;
next-height messages are replayed once and then forgotten; a lagging validator gets the signed
precommits that decided the height.
"""

from __future__ import annotations

from consensus.actions import Action, CommitBlock, SendTo
from consensus.blocks import GENESIS_PARENT_HASH, Block, make_block
from consensus.certificate import make_certificate
from consensus.events import (
    BlockExecuted,
    CommittedBlockReceived,
    EvidenceReceived,
    ProposalReceived,
    TimeoutElapsed,
    VoteReceived,
)
from consensus.messages import CommitCertificate, DuplicateVoteEvidence, Vote, VoteType
from consensus.params import ConsensusParams
from consensus.replica import RejectedInput, Replica
from consensus.round_step import RoundStep
from consensus.types import Hash32, Height, Round, TimestampMs
from consensus.vote_set import VoteSet
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    PARAMS,
    VSET,
    block_at_1,
    broadcast_votes,
    precommit,
    prevote,
    proposal,
    proposer_index,
    started,
)

S = RoundStep
AGE_MAX = 2
PARAMS_SHORT_EVIDENCE = ConsensusParams(
    **{
        **{f: getattr(PARAMS, f) for f in PARAMS.__dataclass_fields__},
        "evidence_age_max_heights": AGE_MAX,
    }
)
APP_HASH = Hash32(b"\x0a" * 32)


def certify(block: Block, round_: int = 0) -> CommitCertificate:
    votes = VoteSet(block.height, Round(round_), VoteType.PRECOMMIT, VSET)
    for i in (1, 2, 3):
        votes.add_vote(precommit(i, round_, block.hash, height=block.height))
    return make_certificate(votes, block.hash)


class Synced:
    """A replica fed committed blocks, one height at a time."""

    def __init__(self, params: ConsensusParams = PARAMS_SHORT_EVIDENCE) -> None:
        self.replica = started(0, params=params).replica
        self.parent_hash, self.last_commit = GENESIS_PARENT_HASH, None
        self.app_hash = GENESIS_APP_HASH

    def commit_next(self, evidence: tuple[DuplicateVoteEvidence, ...] = ()) -> list[Action]:
        height = self.replica.height
        block = make_block(
            chain_id=CHAIN,
            height=height,
            time_ms=TimestampMs(2_000 * height),
            proposer=VSET.validators[1].public_key,
            parent_hash=self.parent_hash,
            last_commit=self.last_commit,
            app_hash=self.app_hash,
            validators_hash=VSET.compute_hash(),
            evidence=evidence,
        )
        cert = certify(block)
        out = self.replica.handle_strict(CommittedBlockReceived(block, cert))
        assert CommitBlock(block, cert) in out
        out += self.replica.handle_strict(BlockExecuted(height, APP_HASH, VSET))
        self.parent_hash, self.last_commit, self.app_hash = block.hash, cert, APP_HASH
        return out


def equivocation_at(height: int, validator: int = 2) -> DuplicateVoteEvidence:
    return DuplicateVoteEvidence.of(
        precommit(validator, 0, None, height=height),
        precommit(validator, 0, b"\x0e" * 32, height=height),
    )


def reason(replica: Replica, event: object) -> str:
    try:
        replica.handle_strict(event)  # type: ignore[arg-type]
    except RejectedInput as refused:
        return str(refused)
    return "accepted"


def test_validator_sets_are_kept_while_their_evidence_may_be_included() -> None:
    chain = Synced()
    for _ in range(6):
        chain.commit_next()
    h = chain.replica.height  # 7: evidence of heights >= h - 1 - AGE_MAX may still be included
    oldest = h - 1 - AGE_MAX
    kept = [chain.replica.get_validator_set(x) is not None for x in range(oldest - 1, h + 2)]
    assert kept == [False] + [True] * (h + 2 - oldest)


def test_evidence_is_remembered_until_it_is_too_old_to_include() -> None:
    chain = Synced()
    chain.commit_next()  # height 2
    committed = equivocation_at(1)
    pending = equivocation_at(2, validator=3)
    chain.commit_next(evidence=(committed,))  # block 2 includes evidence of height 1
    assert chain.replica.handle_strict(EvidenceReceived(pending)) != []
    while chain.replica.height - 1 - AGE_MAX < 1:
        chain.commit_next()
        assert reason(chain.replica, EvidenceReceived(committed)) == "evidence already known"
    # height 1 evidence is at the edge now (oldest == 1): still remembered
    assert reason(chain.replica, EvidenceReceived(committed)) == "evidence already known"
    while chain.replica.height - 1 - AGE_MAX < 2:
        chain.commit_next()
    assert reason(chain.replica, EvidenceReceived(pending)) == "evidence already known"
    chain.commit_next()
    assert reason(chain.replica, EvidenceReceived(pending)) == (
        "evidence too old or from the future"
    )
    assert reason(chain.replica, EvidenceReceived(committed)) == (
        "evidence too old or from the future"
    )


def fill_share(replica: Replica, validator: int, height: int) -> int:
    """Send next-height prevotes of ``validator`` until its buffer share is used up."""
    for r in range(1_000):
        got = reason(replica, VoteReceived(prevote(validator, r, None, height=height)))
        if got != "accepted":
            assert got == "validator's share of the next-height buffer is used up"
            return r
    raise AssertionError("the share never ran out")


def test_next_height_messages_are_replayed_once_then_forgotten() -> None:
    chain = Synced()
    chain.commit_next()
    share = fill_share(chain.replica, 1, height=3)
    assert share > 0
    chain.commit_next()  # height 3: the buffered votes are replayed into it
    # the buffer holds nothing of height 3 any more: validator 1 has its whole share again
    assert fill_share(chain.replica, 1, height=4) == share


def test_a_buffered_proposal_is_taken_up_at_its_height() -> None:
    me = next(i for i in range(4) if i not in (proposer_index(1, 0), proposer_index(2, 0)))
    others = [i for i in range(4) if i != me]
    replica = started(me).replica
    block = block_at_1(proposer=proposer_index(1, 0))
    replica.handle(ProposalReceived(proposal(block)))
    for i in others:
        replica.handle(VoteReceived(prevote(i, 0, block.hash)))
    for i in others:
        replica.handle(VoteReceived(precommit(i, 0, block.hash)))
    assert replica.step == S.COMMIT
    cert = certify(block)
    block2 = make_block(
        chain_id=CHAIN,
        height=Height(2),
        time_ms=TimestampMs(3_000),
        proposer=VSET.validators[proposer_index(2, 0)].public_key,
        parent_hash=block.hash,
        last_commit=cert,
        app_hash=APP_HASH,
        validators_hash=VSET.compute_hash(),
    )
    early = proposal(block2)
    replica.handle_strict(ProposalReceived(early))
    replica.handle_strict(BlockExecuted(Height(1), APP_HASH, VSET))
    out = replica.handle_strict(TimeoutElapsed(Height(2), Round(0), S.NEW_HEIGHT))
    assert [v.block_hash for v in broadcast_votes(out)] == [block2.hash]


def test_a_lagging_validator_gets_the_signed_precommits_that_decided() -> None:
    chain = Synced()
    chain.commit_next()
    cert = chain.last_commit
    assert cert is not None
    out = chain.replica.handle_strict(VoteReceived(prevote(3, 1, None, height=1)))
    votes = [a.message for a in out if isinstance(a, SendTo) and isinstance(a.message, Vote)]
    assert {a.public_key for a in out if isinstance(a, SendTo)} == {VSET.validators[3].public_key}
    assert [v.validator_index for v in votes] == [s.validator_index for s in cert.signatures]
    for v in votes:
        assert (v.type, v.height, v.round, v.block_hash) == (
            VoteType.PRECOMMIT,
            cert.height,
            cert.round,
            cert.block_hash,
        )
        assert v.validator == VSET.validators[v.validator_index].public_key
        assert v.is_signature_valid(CHAIN)

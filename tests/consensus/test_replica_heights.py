"""Evidence in blocks, and validator-set changes taking effect at H+2."""

from __future__ import annotations

from dataclasses import replace

from consensus.actions import CommitBlock
from consensus.blocks import GENESIS_PARENT_HASH, Block, make_block
from consensus.certificate import verify_certificate
from consensus.events import BlockExecuted, ProposalReceived, VoteReceived
from consensus.messages import DuplicateVoteEvidence
from consensus.proposal import Proposal
from consensus.types import ChainId, Hash32, Height, TimestampMs
from consensus.validators import ValidatorSet
from tests.consensus.replica_fixtures import (
    CHAIN,
    GENESIS_APP_HASH,
    VSET,
    bad_signature,
    broadcast_votes,
    broadcasts,
    prevote,
    proposal,
    proposer_index,
    started,
)
from tests.consensus.test_replica_cluster import CHAIN as CLUSTER_CHAIN
from tests.consensus.test_replica_cluster import Cluster, make_cluster

ME = 0


def equivocation(index: int = 2) -> DuplicateVoteEvidence:
    return DuplicateVoteEvidence.of(prevote(index, 0, None), prevote(index, 0, b"\x0a" * 32))


def block_with(evidence: tuple[DuplicateVoteEvidence, ...]) -> Block:
    return make_block(
        chain_id=CHAIN,
        height=Height(1),
        time_ms=TimestampMs(2_000),
        proposer=VSET.validators[1].public_key,
        parent_hash=GENESIS_PARENT_HASH,
        last_commit=None,
        app_hash=GENESIS_APP_HASH,
        validators_hash=VSET.compute_hash(),
        evidence=evidence,
    )


def test_detected_equivocation_goes_into_our_next_proposal() -> None:
    replica = started(ME).replica
    e = equivocation()
    replica.handle(VoteReceived(e.vote_a))
    replica.handle(VoteReceived(e.vote_b))
    assert proposer_index(1, 3) == ME
    out = replica.handle(VoteReceived(prevote(1, 3, None)))
    out += replica.handle(VoteReceived(prevote(3, 3, None)))  # f+1 in round 3: skip to it
    [p] = [m for m in broadcasts(out) if isinstance(m, Proposal)]
    assert p.block.evidence == (e,)


def test_block_with_valid_evidence_is_prevoted() -> None:
    replica = started(ME).replica
    block = block_with((equivocation(),))
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(block))))
    assert v.block_hash == block.hash


def test_block_with_forged_evidence_is_prevoted_nil() -> None:
    e = equivocation()
    forged = DuplicateVoteEvidence.of(
        e.vote_a, replace(e.vote_b, signature=bad_signature(e.vote_b.signature))
    )
    replica = started(ME).replica
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(block_with((forged,))))))
    assert v.block_hash is None


def test_block_with_too_much_evidence_is_prevoted_nil() -> None:
    from tests.consensus.replica_fixtures import PARAMS

    params = replace(PARAMS, evidence_max=1)
    replica = started(ME, params=params).replica
    block = block_with((equivocation(2), equivocation(3)))
    [v] = broadcast_votes(replica.handle(ProposalReceived(proposal(block))))
    assert v.block_hash is None


def test_committed_evidence_leaves_the_pool() -> None:
    replica = started(ME).replica
    e = equivocation()
    replica.handle(VoteReceived(e.vote_a))
    replica.handle(VoteReceived(e.vote_b))
    block = block_with((e,))
    replica.handle(ProposalReceived(proposal(block)))
    from tests.consensus.replica_fixtures import precommit

    out = []
    for i in (1, 2, 3):
        out += replica.handle(VoteReceived(precommit(i, 0, block.hash)))
    assert any(isinstance(a, CommitBlock) for a in out)
    replica.handle(BlockExecuted(Height(1), Hash32(b"\x01" * 32), VSET))
    assert replica.snapshot().pending_evidence == ()


# ---------------------------------------------------------------------------------------------
# validator-set change at H+2, through the 4-replica harness


class ShrinkingCluster(Cluster):
    """Executing block 1 removes validator ``gone``: the set changes at height 3."""

    gone: int = 3

    def effect(self, source: int, actions: list) -> None:  # type: ignore[override,type-arg]
        for action in actions:
            if isinstance(action, CommitBlock) and action.block.height == 1:
                keep = [v for i, v in enumerate(self.vset.validators) if i != self.gone]
                self.vset = ValidatorSet(tuple(keep))
            super().effect(source, [action])


def test_validator_set_change_takes_effect_two_heights_later() -> None:
    base = make_cluster()
    old = base.vset
    gone_key = old.validators[ShrinkingCluster.gone].public_key
    cluster = ShrinkingCluster(base.replicas, base.vset)
    cluster.start()
    cluster.run(until_height=5)
    new = ValidatorSet(tuple(v for v in old.validators if v.public_key != gone_key))
    live = next(i for i, r in enumerate(cluster.replicas) if r.public_key != gone_key)
    commits = cluster.commits[live]
    assert max(commits) >= 5
    for height, (block, cert) in sorted(commits.items()):
        expected = old if height <= 2 else new
        assert block.header.validators_hash == expected.compute_hash()
        verify_certificate(cert, block.hash, height, expected, CLUSTER_CHAIN)
        assert block.header.proposer != gone_key or height <= 2
    assert ChainId(CLUSTER_CHAIN)

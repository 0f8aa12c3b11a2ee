"""A restarted node hands its replica what leader skipping reads (issue 13): the certificate its
last block carries and the validator set of that certificate's height, from real LevelDB. A
replica built from it skips whom the rest of the network skips; without them it would name the
plain rotation's proposer for one height and disagree with everyone else."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus import codec
from consensus.messages import CommitCertificate
from consensus.replica import Replica
from consensus.types import Height
from node.chain import Chain
from node.storage import LevelDBStore
from node.validator_history import HISTORY_META
from tests.node.ledger_blocks import CHAIN_ID, _certify, _make_block, make_genesis


def _commit_three_blocks_without_validator_0(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(make_genesis(), store)
    for height in (1, 2, 3):
        block = _make_block(chain, Height(height), ())
        everyone = _certify(chain, block)
        # validator 0's precommit is missing from every certificate (as if it were down)
        without_0 = CommitCertificate(
            everyone.height, everyone.round, everyone.block_hash, everyone.signatures[1:]
        )
        chain.commit(block, without_0)
    store.close()


@pytest.mark.parametrize("history", ["kept", "lost"])
def test_a_restarted_node_hands_its_replica_the_carried_certificate(
    tmp_path: Path, history: str
) -> None:
    """``lost``: no validator history (as right after state sync): the ledger's set serves."""
    genesis = make_genesis()
    _commit_three_blocks_without_validator_0(tmp_path)
    store = LevelDBStore(tmp_path / "db")
    if history == "lost":
        store.put_meta(HISTORY_META, codec.encode([]))
    try:
        again = Chain(genesis, store)
        tip = again.compute_chain_state()
        block_3 = again.get_block(3)
        assert block_3 is not None and block_3.header.last_commit is not None
        assert tip.last_block_last_commit == block_3.header.last_commit
        assert 2 in tip.validator_sets
        replica = Replica(CHAIN_ID, None, genesis.params, tip)
        absent = again.get_validators(2).validators[0].public_key
        assert replica.get_proposer_skips(4) == frozenset({absent})
    finally:
        store.close()

"""A restarted node hands its replica what leader skipping reads (issue 13): the window of the
last committed blocks (who proposed them, whose precommits their headers carry), rebuilt from
real LevelDB with the validator sets of those heights. A replica built from it skips whom the
rest of the network skips; without it it would name the plain rotation's proposer for ``W``
heights and disagree with everyone else."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus import codec
from consensus.blocks import Block, make_block
from consensus.leader import LeaderWindow, compute_window_size, is_probe_height
from consensus.messages import CommitCertificate
from consensus.replica import Replica
from consensus.types import Height, TimestampMs
from node.chain import Chain
from node.storage import LevelDBStore
from node.validator_history import HISTORY_META
from tests.consensus.ledger import world
from tests.node.ledger_blocks import CHAIN_ID, _certify, make_genesis

BLOCKS = 15


def _make_block(chain: Chain, height: int) -> Block:
    """Proposed by validator 1 of the set, always (so validator 0 never shows itself present)."""
    tip = chain.compute_chain_state()
    vset = tip.validator_sets[height]
    return make_block(
        chain_id=CHAIN_ID,
        height=Height(height),
        time_ms=TimestampMs(world.GENESIS_TIME_MS + 1000 * height),
        proposer=vset.validators[1].public_key,
        parent_hash=tip.last_block_hash,
        last_commit=tip.last_commit,
        app_hash=tip.app_hash,
        validators_hash=vset.compute_hash(),
        last_results_hash=tip.last_results_hash,
    )


def _commit_blocks_without_validator_0(tmp_path: Path) -> LeaderWindow | None:
    """Commit the blocks; the running chain's window (advanced block by block)."""
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(make_genesis(), store)
    for height in range(1, BLOCKS + 1):
        block = _make_block(chain, height)
        everyone = _certify(chain, block)
        # validator 0's precommit is missing from every certificate (as if it were down)
        without_0 = CommitCertificate(
            everyone.height, everyone.round, everyone.block_hash, everyone.signatures[1:]
        )
        chain.commit(block, without_0)
    window = chain.compute_chain_state().leader_window
    store.close()
    return window


@pytest.mark.parametrize("history", ["kept", "lost"])
def test_a_restarted_node_hands_its_replica_the_leader_window(tmp_path: Path, history: str) -> None:
    """``lost``: no validator history record: the ledger's sets serve (the set never changed)."""
    genesis = make_genesis()
    running = _commit_blocks_without_validator_0(tmp_path)
    store = LevelDBStore(tmp_path / "db")
    if history == "lost":
        store.put_meta(HISTORY_META, codec.encode([]))
    try:
        again = Chain(genesis, store)
        tip = again.compute_chain_state()
        vset = again.get_validators(BLOCKS + 1)
        assert compute_window_size(vset) <= BLOCKS and not is_probe_height(vset, BLOCKS + 1)
        assert tip.leader_window is not None and tip.leader_window.height == BLOCKS
        assert tip.leader_window == running  # rebuilt from the store = advanced while running
        replica = Replica(CHAIN_ID, None, genesis.params, tip)
        absent = vset.validators[0].public_key
        assert replica.get_proposer_skips(BLOCKS + 1) == frozenset({absent})
    finally:
        store.close()

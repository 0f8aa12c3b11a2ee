"""Building real replicas for simulated nodes, at start and after a crash.

A restarted replica gets exactly what a node would restore from disk: the last committed block's
hash, time and certificate, the app hash after it, the validator sets, and the last persisted
SignState. Nothing from the crashed replica object is reused.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus.blocks import GENESIS_PARENT_HASH
from consensus.crypto import PrivateKey
from consensus.leader import WINDOW_MAX, rebuild_window
from consensus.params import ConsensusParams
from consensus.replica import ChainState, Replica
from consensus.simulation.clock import GENESIS_TIME_MS
from consensus.simulation.nodes import SimNode
from consensus.types import ChainId, Height, TimestampMs, VotingPower
from consensus.validators import Validator, ValidatorSet

GENESIS_BLOCK_TIME_MS = TimestampMs(GENESIS_TIME_MS - 1_000)


def validator_set_of(keys: Sequence[PrivateKey], powers: Sequence[int]) -> ValidatorSet:
    return ValidatorSet.of(
        Validator(k.public_key, VotingPower(p)) for k, p in zip(keys, powers, strict=True)
    )


def get_chain_state(node: SimNode, validators: ValidatorSet, params: ConsensusParams) -> ChainState:
    """What the node's store holds after its last committed block."""
    height = node.committed_height
    # Older sets too: a restarted replica must still verify evidence from recent heights.
    oldest = max(1, height - params.evidence_age_max_heights)
    sets = {h: validators for h in range(oldest, height + 3)}
    if height == 0:
        return ChainState(
            height=Height(0),
            last_block_hash=GENESIS_PARENT_HASH,
            last_commit=None,
            last_block_time_ms=GENESIS_BLOCK_TIME_MS,
            app_hash=node.app.app_hash,
            validator_sets=sets,
        )
    block, certificate = node.blocks[height]
    return ChainState(
        height=Height(height),
        last_block_hash=block.hash,
        last_commit=certificate,
        last_block_time_ms=block.header.time_ms,
        app_hash=node.app.app_hash,
        validator_sets=sets,
        leader_window=rebuild_window(
            [node.blocks[h][0].header for h in range(max(1, height - WINDOW_MAX + 1), height + 1)],
            sets.get,
        ),
    )


def build_replica(
    node: SimNode,
    chain_id: ChainId,
    params: ConsensusParams,
    validators: ValidatorSet,
    replica_class: type[Replica] = Replica,
) -> Replica:
    return replica_class(
        chain_id, node.key, params, get_chain_state(node, validators, params), node.sign_state
    )

"""valid(v) of the paper, evidence checks and the block we propose: functions of the state.

A block is valid if it extends the chain tip of our height (:func:`consensus.blocks.
get_block_invalidity`) and the application's rule accepts its txs (the height's ``txs_rule``:
for the ledger, every tx authenticated by its submitter's registered keys and in sequence); the
answer is cached per block hash in the height's state, since it cannot change within a height.
The block we propose holds only the txs that rule accepts.

Never: change the replica's state (the cache aside).
"""

from __future__ import annotations

from consensus.blocks import Block, ChainTip, build_block, get_block_invalidity
from consensus.evidence import get_evidence_invalidity
from consensus.messages import DuplicateVoteEvidence
from consensus.replica.faults import STALE_APP_HASH
from consensus.replica.state import HeightState, ReplicaConfig, ReplicaState
from consensus.types import Hash32, Height


def is_valid(config: ReplicaConfig, state: ReplicaState, block: Block) -> bool:
    """valid(v) of the paper: the block extends our chain and is well-formed."""
    if config.faults.accept_invalid_blocks:
        return True
    return get_invalidity(config, state, block) is None


def get_invalidity(config: ReplicaConfig, state: ReplicaState, block: Block) -> str | None:
    """Why ``block`` may not be the block of our height (None if it may)."""
    cache = state.current.validity
    if block.hash not in cache:
        reason = get_block_invalidity(
            block,
            compute_chain_tip(config, state),
            config.params,
            lambda evidence, height: get_evidence_invalidity_at(config, state, evidence, height),
        )
        rule = state.current.txs_rule
        if reason is None and rule is not None:
            reason = rule.get_invalidity(block.txs, block.height, block.header.time_ms)
            reason = None if reason is None else f"txs: {reason}"
        cache[block.hash] = reason
    return cache[block.hash]


def compute_chain_tip(config: ReplicaConfig, state: ReplicaState) -> ChainTip:
    h = state.current
    return ChainTip(
        chain_id=config.chain_id,
        height=Height(h.height - 1),
        last_block_hash=h.last_block_hash,
        last_commit=h.last_commit,
        last_block_time_ms=h.last_block_time_ms,
        app_hash=STALE_APP_HASH if config.faults.stale_app_hash else h.app_hash,
        validator_sets=state.validator_sets,
        last_results_hash=h.last_results_hash,
    )


def get_evidence_invalidity_at(
    config: ReplicaConfig, state: ReplicaState, evidence: DuplicateVoteEvidence, height: int
) -> str | None:
    """Why ``evidence`` may not go into a block at ``height`` (None if it may)."""
    return get_evidence_invalidity(
        evidence,
        height,
        state.validator_sets,
        config.params.evidence_age_max_heights,
        config.chain_id,
    )


def find_block(h: HeightState, block_hash: Hash32) -> Block | None:
    """A block of this height's proposals with this hash (the paper's v for a hash)."""
    for proposal in h.proposals.values():
        if proposal.block.hash == block_hash:
            return proposal.block
    return None


def build_our_block(config: ReplicaConfig, state: ReplicaState) -> Block:
    """A fresh block for us to propose: the waiting txs and the evidence still includable."""
    assert config.public_key is not None
    h = state.current
    evidence = [
        e
        for e in state.pending_evidence.values()
        if get_evidence_invalidity_at(config, state, e, h.height) is None
    ][: config.params.evidence_max]
    tip = compute_chain_tip(config, state)
    rule = h.txs_rule
    txs = state.txs
    time_ms = max(state.now_ms, tip.last_block_time_ms + 1)  # build_block's choice
    if rule is not None:
        txs = rule.select(txs, h.height, time_ms)

    def build(chosen: tuple[bytes, ...]) -> Block:
        vset, me = state.validator_sets[h.height], config.public_key
        assert me is not None
        return build_block(tip, config.params, vset, me, state.now_ms, chosen, tuple(evidence))

    block = build(txs)
    if rule is not None and len(block.txs) < len(txs):
        # A tx left out for size may leave a gap in its submitter's nonces: select again.
        block = build(rule.select(block.txs, h.height, time_ms))
    return block

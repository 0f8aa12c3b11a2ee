"""Shared builders for the replica's unit tests (no tests here): keys, a validator set, signed
votes and proposals, valid blocks on the genesis tip, and a started replica."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consensus import crypto
from consensus.actions import Action, Broadcast, PersistSignState
from consensus.blocks import GENESIS_PARENT_HASH, Block, make_block
from consensus.crypto import PrivateKey, SignPurpose
from consensus.events import Started
from consensus.messages import Vote, VoteType, compute_vote_sign_payload
from consensus.params import ConsensusParams
from consensus.proposal import Proposal, compute_proposal_sign_payload
from consensus.replica import ChainState, Replica
from consensus.safety import SignState
from consensus.types import (
    ChainId,
    Hash32,
    Height,
    Round,
    Signature,
    TimestampMs,
    ValidatorIndex,
)
from consensus.validators import ValidatorSet

CHAIN = ChainId("depochain-test")
GENESIS_APP_HASH = crypto.sha256(b"genesis")
GENESIS_TIME_MS = TimestampMs(1_000)
PARAMS = ConsensusParams(
    timeout_propose_ms=3_000,
    timeout_prevote_ms=1_000,
    timeout_precommit_ms=1_000,
    timeout_delta_ms=500,
    timeout_max_ms=10_000,
    timeout_commit_ms=1_000,
)
KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(4)]
VSET = ValidatorSet.of([(k.public_key, 10) for k in KEYS])
"""Four validators of power 10: quorum is 3 of them, f+1 is 2."""


def key_of(index: int) -> PrivateKey:
    """The key of the validator at ``index`` of VSET (sorted order)."""
    public_key = VSET.validators[index].public_key
    return next(k for k in KEYS if k.public_key == public_key)


def proposer_index(height: int, round_: int) -> int:
    return VSET.validators.index(VSET.proposer(height, round_))


def non_proposer_index(height: int, round_: int) -> int:
    return next(i for i in range(4) if i != proposer_index(height, round_))


def genesis(vset: ValidatorSet = VSET) -> ChainState:
    return ChainState(
        height=Height(0),
        last_block_hash=GENESIS_PARENT_HASH,
        last_commit=None,
        last_block_time_ms=GENESIS_TIME_MS,
        app_hash=GENESIS_APP_HASH,
        validator_sets={1: vset, 2: vset},
    )


def block_at_1(
    txs: tuple[bytes, ...] = (),
    proposer: int = 0,
    app_hash: Hash32 = GENESIS_APP_HASH,
    time_ms: int = 2_000,
) -> Block:
    return make_block(
        chain_id=CHAIN,
        height=Height(1),
        time_ms=TimestampMs(time_ms),
        proposer=VSET.validators[proposer].public_key,
        parent_hash=GENESIS_PARENT_HASH,
        last_commit=None,
        app_hash=app_hash,
        validators_hash=VSET.compute_hash(),
        txs=txs,
    )


def vote(
    index: int, vote_type: VoteType, round_: int, block_hash: bytes | None, height: int = 1
) -> Vote:
    payload = compute_vote_sign_payload(vote_type, height, round_, block_hash)
    return Vote(
        vote_type,
        Height(height),
        Round(round_),
        None if block_hash is None else Hash32(block_hash),
        ValidatorIndex(index),
        VSET.validators[index].public_key,
        key_of(index).sign(SignPurpose.VOTE, CHAIN, payload),
    )


def prevote(index: int, round_: int, block_hash: bytes | None, height: int = 1) -> Vote:
    return vote(index, VoteType.PREVOTE, round_, block_hash, height)


def precommit(index: int, round_: int, block_hash: bytes | None, height: int = 1) -> Vote:
    return vote(index, VoteType.PRECOMMIT, round_, block_hash, height)


def proposal(
    block: Block, round_: int = 0, pol_round: int = -1, signer: int | None = None
) -> Proposal:
    height = block.height
    index = proposer_index(height, round_) if signer is None else signer
    payload = compute_proposal_sign_payload(height, round_, pol_round, block.hash)
    return Proposal(
        height,
        Round(round_),
        pol_round,
        block,
        VSET.validators[index].public_key,
        key_of(index).sign(SignPurpose.PROPOSAL, CHAIN, payload),
    )


def bad_signature(sig: Signature) -> Signature:
    return Signature(bytes([sig[0] ^ 1]) + sig[1:])


@dataclass
class Started_:
    replica: Replica
    index: int
    actions: list[Action]


def started(
    index: int,
    params: ConsensusParams = PARAMS,
    sign_state: SignState | None = None,
    now_ms: int = 1_500,
) -> Started_:
    replica = Replica(CHAIN, key_of(index), params, genesis(), sign_state)
    actions = replica.handle(Started(TimestampMs(now_ms)))
    return Started_(replica, index, actions)


def broadcasts(actions: Sequence[Action]) -> list[object]:
    return [a.message for a in actions if isinstance(a, Broadcast)]


def broadcast_votes(actions: Sequence[Action]) -> list[Vote]:
    return [m for m in broadcasts(actions) if isinstance(m, Vote)]


def assert_persist_before_broadcast(actions: Sequence[Action]) -> None:
    """Every signed broadcast is preceded by a PersistSignState covering it."""
    persisted = False
    for action in actions:
        if isinstance(action, PersistSignState):
            persisted = True
        if isinstance(action, Broadcast) and isinstance(action.message, Vote | Proposal):
            assert persisted

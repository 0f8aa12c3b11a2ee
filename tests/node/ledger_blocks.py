"""Deterministic ledger blocks for the storage crash tests: real transfers that move balances.

``build_blocks(seed, count)`` executes them through ``node.chain.Chain`` on an in-memory store
and returns each block, its certificate and the ledger state after it, so the crash child can
commit the same blocks to LevelDB and the parent can tell what the state must be at any height.
Blocks are a pure function of (seed, height): Ed25519 signatures are deterministic too.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from consensus.blocks import GENESIS_PARENT_HASH, Block, make_block
from consensus.crypto import SignPurpose
from consensus.ledger import GenesisDoc, State
from consensus.ledger.txs import Transfer
from consensus.messages import CommitCertificate, CommitSig, VoteType, compute_vote_sign_payload
from consensus.params import ConsensusParams
from consensus.types import ChainId, Height, Round, TimestampMs, ValidatorIndex
from node.chain import Chain
from node.home import ChainGenesis, genesis_to_json
from node.storage import MemoryStore
from tests.consensus.ledger import world

CHAIN_ID = ChainId(world.CHAIN_ID)
PAYERS = ("BANKA/alice", "BANKA/bob")
TXS_PER_BLOCK = 60
"""Enough for a batch of a few dozen KiB, so a write takes long enough to be cut."""


@dataclass(frozen=True, slots=True)
class LedgerBlock:
    block: Block
    certificate: CommitCertificate
    state: State
    """The ledger state once this block is executed."""


def make_genesis() -> ChainGenesis:
    ledger = GenesisDoc.from_json_dict(world.genesis_json())
    params = ConsensusParams()
    return ChainGenesis(ledger, params, genesis_to_json(ledger, params))


@functools.cache
def build_blocks(seed: int, count: int) -> tuple[LedgerBlock, ...]:
    chain = Chain(make_genesis(), MemoryStore())
    factory = world.TxFactory()
    rng = random.Random(seed)
    blocks: list[LedgerBlock] = []
    for height in range(1, count + 1):
        txs = tuple(_transfer(factory, rng) for _ in range(TXS_PER_BLOCK))
        block = _make_block(chain, Height(height), txs)
        certificate = _certify(chain, block)
        chain.commit(block, certificate)
        blocks.append(LedgerBlock(block, certificate, chain.state))
    return tuple(blocks)


def genesis_state() -> State:
    return Chain(make_genesis(), MemoryStore()).state


def _transfer(factory: world.TxFactory, rng: random.Random) -> bytes:
    payer = rng.choice(PAYERS)
    payee = PAYERS[1 - PAYERS.index(payer)]
    return factory.raw(payer, Transfer(payee, "BANKA:USD", rng.randrange(1, 50)))


def _make_block(chain: Chain, height: Height, txs: tuple[bytes, ...]) -> Block:
    tip = chain.compute_chain_state()
    vset = tip.validator_sets[height]
    return make_block(
        chain_id=CHAIN_ID,
        height=height,
        time_ms=TimestampMs(world.GENESIS_TIME_MS + 1000 * height),
        proposer=vset.proposer(height, 0).public_key,
        parent_hash=tip.last_block_hash if height > 1 else GENESIS_PARENT_HASH,
        last_commit=tip.last_commit,
        app_hash=tip.app_hash,
        validators_hash=vset.compute_hash(),
        txs=txs,
        last_results_hash=tip.last_results_hash,
    )


def _certify(chain: Chain, block: Block) -> CommitCertificate:
    """Every validator's precommit (the node stores certificates; it does not verify them)."""
    vset = chain.get_validators(block.height)
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, block.height, 0, block.hash)
    keys = {world.key(bank + "-val").public_key: world.key(bank + "-val") for bank in world.BANKS}
    signatures = tuple(
        CommitSig(
            ValidatorIndex(index),
            keys[validator.public_key].sign(SignPurpose.VOTE, CHAIN_ID, payload),
        )
        for index, validator in enumerate(vset.validators)
    )
    return CommitCertificate(block.height, Round(0), block.hash, signatures)

"""Builds the store ``depochain bench state`` measures: a chain whose state holds N funded
customer accounts, in a real LevelDB.

Block 1 is a real empty block committed by ``node.chain.Chain`` over a small genesis (two banks,
a settlement agent). The accounts then arrive in bulk: each later block is an empty block whose
state changes add a run of accounts and their balances (in key order, so each run is one range
of the state tree) with the supply they add, stored by the store's one-batch ``commit_block``
like any block. Old tree versions are pruned as it goes. Nothing is ever held whole in memory.

Account keys come from a pool of :data:`KEY_POOL` keys (an account record holds its public key
either way; deriving a million distinct ones would only time Ed25519 key generation).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from consensus import crypto
from consensus.blocks import Block, make_block
from consensus.crypto import SignPurpose
from consensus.ledger import GenesisDoc, encode_receipts
from consensus.ledger.commitment import root_of
from consensus.ledger.records import Account, AccountStatus, Balance, Instrument
from consensus.ledger.state import (
    META_KEY,
    State,
    account_key,
    balance_key,
    commit_block_changes,
    encode_meta,
    encode_value,
    instrument_key,
)
from consensus.messages import CommitCertificate, CommitSig, VoteType, compute_vote_sign_payload
from consensus.params import ConsensusParams
from consensus.types import ChainId, Height, Round, TimestampMs, ValidatorIndex
from node.bench.world import BANKS, GENESIS_TIME_MS, bench_key, genesis_doc
from node.chain import Chain
from node.home import ChainGenesis, genesis_to_json
from node.state_tree import prune_state_tree
from node.storage import BlockWrite, LevelDBStore

CHAIN_ID = "depochain-bench-state"
KEY_POOL = 256
ACCOUNTS_PER_BLOCK = 50_000
"""Accounts added by one bulk block (its batch is ~10 MB)."""
OPENING_BALANCE = 10**12


def customer_id(bank: str, index: int) -> str:
    return f"{bank}/u{index:08d}"


def pool_key(index: int) -> crypto.PrivateKey:
    return bench_key(f"pool/{index % KEY_POOL}")


def bench_genesis() -> ChainGenesis:
    """Two banks (validators) and a settlement agent; the customers come in bulk later."""
    ledger = GenesisDoc.from_json_dict(genesis_doc(CHAIN_ID))
    params = ConsensusParams()
    return ChainGenesis(ledger, params, genesis_to_json(ledger, params))


def next_block(chain: Chain, txs: tuple[bytes, ...]) -> tuple[Block, CommitCertificate]:
    """The chain's next block of ``txs``, with every validator's precommit."""
    height = Height(chain.height + 1)
    tip = chain.compute_chain_state()
    vset = tip.validator_sets[height]
    block = make_block(
        chain_id=ChainId(CHAIN_ID),
        height=height,
        time_ms=TimestampMs(GENESIS_TIME_MS + 1000 * height),
        proposer=vset.proposer(height, 0).public_key,
        parent_hash=tip.last_block_hash,
        last_commit=tip.last_commit,
        app_hash=tip.app_hash,
        validators_hash=vset.compute_hash(),
        txs=txs,
        last_results_hash=tip.last_results_hash,
    )
    payload = compute_vote_sign_payload(VoteType.PRECOMMIT, height, 0, block.hash)
    keys = {bench_key(bank + "/val").public_key: bench_key(bank + "/val") for bank in BANKS}
    signatures = tuple(
        CommitSig(
            ValidatorIndex(i), keys[v.public_key].sign(SignPurpose.VOTE, ChainId(CHAIN_ID), payload)
        )
        for i, v in enumerate(vset.validators)
    )
    return block, CommitCertificate(height, Round(0), block.hash, signatures)


def _account_run(bank: str, start: int, stop: int) -> dict[bytes, bytes | None]:
    """State records of customers ``start..stop`` of ``bank``, each holding OPENING_BALANCE."""
    changes: dict[bytes, bytes | None] = {}
    kyc = crypto.sha256(bank.encode())
    keys = [pool_key(i).public_key for i in range(KEY_POOL)]
    for index in range(start, stop):
        aid = customer_id(bank, index)
        account = Account(
            aid, AccountStatus.ACTIVE, (keys[index % KEY_POOL],), 1, kyc, 2 * GENESIS_TIME_MS,
            False, 1,
        )  # fmt: skip
        changes[account_key(aid)] = encode_value(account)
        changes[balance_key(aid, f"{bank}:USD")] = encode_value(Balance(OPENING_BALANCE, 0, 0))
    return changes


def _commit_bulk(store: LevelDBStore, genesis: ChainGenesis, bank: str, run: range) -> None:
    """One empty block whose state changes add the customers ``run`` of ``bank``."""
    chain = Chain(genesis, store)
    state: State = chain.state
    block, certificate = next_block(chain, ())
    changes = _account_run(bank, run.start, run.stop)
    iid = f"{bank}:USD"
    instrument = state.get_record(instrument_key(iid))
    assert isinstance(instrument, Instrument)
    supply = instrument.supply + OPENING_BALANCE * len(run)
    changes[instrument_key(iid)] = encode_value(Instrument(instrument.spec, supply))
    tree, tree_writes = commit_block_changes(state, block.height, changes)
    app_hash = root_of(tree)
    changes[META_KEY] = encode_meta(block.height, app_hash)
    store.commit_block(
        BlockWrite(
            height=block.height,
            block=block.encode(),
            certificate=certificate.encode(),
            results=encode_receipts(()),
            tx_hashes=(),
            state_changes=changes,
            app_hash=app_hash,
            tree_writes=tree_writes,
        )
    )
    prune_state_tree(store, block.height, 1)


def build_store(
    path: Path, accounts: int, progress: Callable[[str], None] = lambda _text: None
) -> None:
    """A store at ``path`` holding ``accounts`` customers, split evenly between the banks."""
    genesis = bench_genesis()
    store = LevelDBStore(path)
    try:
        chain = Chain(genesis, store)
        chain.commit(*next_block(chain, ()))
        for bank in BANKS:
            count = accounts_of(bank, accounts)
            for start in range(0, count, ACCOUNTS_PER_BLOCK):
                stop = min(count, start + ACCOUNTS_PER_BLOCK)
                _commit_bulk(store, genesis, bank, range(start, stop))
                progress(f"{bank}: {stop:,} accounts")
    finally:
        store.close()


def accounts_of(bank: str, accounts: int) -> int:
    """How many customers ``bank`` got in :func:`build_store`."""
    b = BANKS.index(bank)
    return accounts // len(BANKS) + (1 if b < accounts % len(BANKS) else 0)

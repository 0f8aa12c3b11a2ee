"""The ledger state on disk (``node.state_store``): a LevelDB-backed ``State`` against the
in-memory one (random changes, with and without uncommitted layers, a cache small enough to
evict), snapshot isolation of an older ``State``, a chain reopened from its store, and the
bounds that keep the node's memory independent of the number of accounts."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from consensus.ledger.commitment import build_state_tree
from consensus.ledger.queries import get_balance
from consensus.ledger.state import META_KEY, State, balance_key, encode_meta
from consensus.ledger.txs import Transfer
from consensus.merkle import NodeCache
from consensus.types import Height
from node.chain import Chain
from node.state_store import CachedStateBase, StateCache, StateLimits, entry_bytes
from node.storage import BlockWrite, LevelDBStore, MemoryStore
from tests.consensus.ledger import world
from tests.node.ledger_blocks import PAYERS, _certify, _make_block, make_genesis

KEYS = [bytes([p]) + bytes([c]) for p in b"ABN" for c in b"\x00\x01\x02\xff"]
changes_of = st.dictionaries(st.sampled_from(KEYS), st.none() | st.binary(max_size=6), max_size=6)
steps = st.lists(st.tuples(changes_of, st.booleans()), min_size=1, max_size=12)
prefixes = [b"", b"A", b"B", b"N", b"B\x01", b"\xff", b"A\xff"]


def _write(height: int, changes: dict[bytes, bytes | None]) -> BlockWrite:
    return BlockWrite(
        height=height,
        block=b"\x90",
        certificate=b"\x90",
        results=b"",
        tx_hashes=[],
        state_changes=changes,
        app_hash=bytes(32),
    )


def _assert_same(disk: State, memory: State) -> None:
    for key in KEYS:
        assert disk.get(key) == memory.get(key)
    assert list(disk.items()) == list(memory.items())
    for prefix in prefixes:
        assert list(disk.iter_prefix(prefix)) == list(memory.iter_prefix(prefix))
    assert (
        build_state_tree(disk.items(), 0).root_hash == build_state_tree(memory.items(), 0).root_hash
    )


@given(steps, st.integers(min_value=0, max_value=1500))
def test_leveldb_state_reads_as_the_memory_state(
    step_list: list[tuple[dict[bytes, bytes | None], bool]], cache_bytes: int
) -> None:
    """Each step applies changes to both; a committed step stores them in LevelDB and rebases
    the disk state on a fresh snapshot, an uncommitted one leaves them as a layer."""
    genesis = {META_KEY: encode_meta(0, bytes(32))}
    memory = State((dict(genesis),))
    with tempfile.TemporaryDirectory() as path:
        store = LevelDBStore(path)
        try:
            cache = StateCache(cache_bytes)
            height, pending = 0, dict[bytes, bytes | None](genesis)
            disk = State((dict(genesis),), base=store.state_snapshot())
            for changes, commit in step_list:
                memory = memory.with_changes(changes)
                disk = disk.with_changes(changes)
                pending.update(changes)
                if commit:
                    height += 1
                    store.commit_block(_write(height, pending))
                    cache.advance(height, pending)
                    disk = disk.rebased(CachedStateBase(store.state_snapshot(), cache, height))
                    pending = {}
                _assert_same(disk, memory)
                assert cache.size == sum(entry_bytes(k, v) for k, v in cache.entries.items())
                assert cache.size <= cache.bytes_limit
        finally:
            store.close()


def _commit_transfers(chain: Chain, rng: random.Random, factory: world.TxFactory) -> None:
    height = Height(chain.height + 1)
    txs = tuple(
        factory.raw(payer, Transfer(PAYERS[1 - i % 2], "BANKA:USD", rng.randrange(1, 50)))
        for i, payer in enumerate(PAYERS * 5)
    )
    block = _make_block(chain, height, txs)
    chain.commit(block, _certify(chain, block))


def test_an_older_state_never_sees_later_commits(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "db")
    try:
        chain, rng, factory = Chain(make_genesis(), store), random.Random(1), world.TxFactory()
        _commit_transfers(chain, rng, factory)
        old = chain.state
        before = {key: old.get(key) for key in (balance_key(p, "BANKA:USD") for p in PAYERS)}
        items_before = list(old.items())
        old_balance = get_balance(old, PAYERS[0], "BANKA:USD")
        for _ in range(3):
            _commit_transfers(chain, rng, factory)
        assert (
            chain.state.get(balance_key(PAYERS[0], "BANKA:USD"))
            != before[balance_key(PAYERS[0], "BANKA:USD")]
        )
        assert {key: old.get(key) for key in before} == before
        assert get_balance(old, PAYERS[0], "BANKA:USD") == old_balance
        assert list(old.items()) == items_before
        assert old.height == 1 and chain.state.height == 4
    finally:
        store.close()


def test_a_reopened_chain_reads_its_state_from_disk_with_the_same_app_hashes(
    tmp_path: Path,
) -> None:
    """A chain on LevelDB, closed and reopened between blocks, keeps the app hashes of the
    same chain kept in memory, and reads the same state."""
    memory = Chain(make_genesis(), MemoryStore())
    rng_m, rng_d = random.Random(7), random.Random(7)
    factory_m, factory_d = world.TxFactory(), world.TxFactory()
    limits = StateLimits(state_cache_bytes=2_000, state_decoded_records=4, tree_cache_nodes=8)
    for _round in range(3):
        store = LevelDBStore(tmp_path / "db")
        try:
            disk = Chain(make_genesis(), store, limits=limits)
            assert disk.state.app_hash == memory.state.app_hash
            assert list(disk.state.items()) == list(memory.state.items())
            for _ in range(2):
                _commit_transfers(memory, rng_m, factory_m)
                _commit_transfers(disk, rng_d, factory_d)
                assert disk.state.app_hash == memory.state.app_hash
                assert store.get_app_hash(disk.height) == memory.store.get_app_hash(memory.height)
        finally:
            store.close()


def test_memory_of_the_state_stays_within_its_bounds(tmp_path: Path) -> None:
    """Small bounds, many distinct records, from genesis and after a reopen: the caches never
    hold more than they may."""
    limits = StateLimits(state_cache_bytes=3_000, state_decoded_records=5, tree_cache_nodes=20)
    rng, factory = random.Random(3), world.TxFactory()
    for _reopen in range(2):
        store = LevelDBStore(tmp_path / "db")
        try:
            chain = Chain(make_genesis(), store, limits=limits)
            for _ in range(4):
                _commit_transfers(chain, rng, factory)
                _assert_bounded(chain, limits)
        finally:
            store.close()


def _assert_bounded(chain: Chain, limits: StateLimits) -> None:
    assert 0 < chain.state_cache.size <= limits.state_cache_bytes
    memo = chain.state.memo
    assert all(len(records) <= limits.state_decoded_records for records in memo.values())
    assert memo.entries() > 0
    assert chain.state.layer_count == 0  # committed writes left memory
    assert _node_cache_size(chain.node_cache) <= limits.tree_cache_nodes


def _node_cache_size(cache: NodeCache) -> int:
    return len(cache._nodes)

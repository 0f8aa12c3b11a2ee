"""LevelDBStore and MemoryStore answer every sequence of operations identically.

A hypothesis state machine drives both with the same calls: valid and invalid commits (wrong
heights, malformed fields, repeated tx hashes, deletes), every read, prefix/start/limit scans,
iterators held across a commit, metadata, and reopening the LevelDB store. Any difference in a
result or in the error raised fails the test.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from node.storage import BlockWrite, LevelDBStore, MemoryStore, StorageError, Store
from node.storage.check import find_inconsistencies

TX_POOL = [bytes([i]) * 32 for i in range(12)]
STATE_KEYS = [b"", b"a", b"a/1", b"a/2", b"ab", b"b", b"\xff", b"\xff\x00", b"x" * 1025]
PREFIXES = [b"", b"a", b"a/", b"b", b"\xff", b"zz"]
META_NAMES = ["genesis", "chain_id", "", "x" * 300]

tx_hashes = st.lists(st.sampled_from(TX_POOL), max_size=6)
state_changes = st.dictionaries(
    st.sampled_from(STATE_KEYS[1:-1]), st.one_of(st.none(), st.binary(max_size=8)), max_size=5
)
DEFECTS: dict[str, dict[str, Any]] = {
    "empty block": {"block": b""},
    "empty certificate": {"certificate": b""},
    "short app hash": {"app_hash": b"\x00" * 31},
    "long tx hash": {"tx_hashes": [TX_POOL[0], b"\x01" * 33]},
    "empty state key": {"state_changes": {b"a": b"1", b"": b"2"}},
    "long state key": {"state_changes": {b"a": b"1", STATE_KEYS[-1]: b"2"}},
    "str result": {"results": "r"},
}
defects = st.one_of(st.just(None), st.just(None), st.just(None), st.sampled_from(list(DEFECTS)))


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """A call's result, or the kind and message of the StorageError it raised."""
    try:
        result = call()
        return ("ok", list(result) if hasattr(result, "__next__") else result)
    except StorageError as exc:
        return ("error", type(exc).__name__, str(exc))


class StoresAgree(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="storage-model-"))
        self.leveldb = LevelDBStore(self.tmp / "db")
        self.memory = MemoryStore()
        self.commits = 0

    def both(self, call: Callable[[Store], Any]) -> tuple[Any, ...]:
        expected = outcome(lambda: call(self.memory))
        actual = outcome(lambda: call(self.leveldb))
        assert actual == expected
        return actual

    @rule(
        height_offset=st.sampled_from([1, 1, 1, 1, 0, 2, -5]),
        block=st.binary(min_size=1, max_size=6),
        results=st.binary(max_size=6),
        txs=tx_hashes,
        changes=state_changes,
        app_hash=st.binary(min_size=32, max_size=32),
        defect=defects,
    )
    def commit(
        self,
        height_offset: int,
        block: bytes,
        results: bytes,
        txs: list[bytes],
        changes: dict[bytes, bytes | None],
        app_hash: bytes,
        defect: str | None,
    ) -> None:
        height = self.memory.latest_height() + height_offset
        write = BlockWrite(height, block, b"cert" + block, results, txs, changes, app_hash)
        if defect is not None:
            write = dataclasses.replace(write, **DEFECTS[defect])
        if self.both(lambda s: s.commit_block(write))[0] == "ok":
            self.commits += 1

    @rule(offset=st.integers(-2, 2))
    def read_height(self, offset: int) -> None:
        height = self.memory.latest_height() + offset
        self.both(lambda s: s.get_block(height))
        self.both(lambda s: s.get_certificate(height))
        self.both(lambda s: s.get_results(height))
        self.both(lambda s: s.get_app_hash(height))

    @rule(tx_hash=st.one_of(st.sampled_from(TX_POOL), st.binary(max_size=33)))
    def read_tx(self, tx_hash: bytes) -> None:
        self.both(lambda s: s.get_tx_location(tx_hash))

    @rule(key=st.sampled_from(STATE_KEYS))
    def read_state(self, key: bytes) -> None:
        self.both(lambda s: s.get_state(key))

    @rule(
        prefix=st.sampled_from(PREFIXES),
        start=st.one_of(st.none(), st.sampled_from(STATE_KEYS)),
        limit=st.one_of(st.none(), st.integers(-1, 4)),
    )
    def scan(self, prefix: bytes, start: bytes | None, limit: int | None) -> None:
        self.both(lambda s: s.iter_state(prefix, start=start, limit=limit))

    @rule(changes=state_changes, prefix=st.sampled_from(PREFIXES))
    def scan_across_a_commit(self, changes: dict[bytes, bytes | None], prefix: bytes) -> None:
        held = {id(s): s.iter_state(prefix) for s in (self.memory, self.leveldb)}
        height = self.memory.latest_height() + 1
        write = BlockWrite(height, b"b", b"c", b"", [], changes, b"\x00" * 32)
        if self.both(lambda s: s.commit_block(write))[0] == "ok":
            self.commits += 1
        self.both(lambda s: held[id(s)])

    @rule(name=st.sampled_from(META_NAMES), value=st.binary(max_size=8))
    def meta(self, name: str, value: bytes) -> None:
        self.both(lambda s: s.get_meta(name))
        self.both(lambda s: s.put_meta(name, value))
        self.both(lambda s: s.get_meta(name))

    @rule()
    def reopen_leveldb(self) -> None:
        self.leveldb.close()
        self.leveldb = LevelDBStore(self.tmp / "db", create=False)

    @invariant()
    def same_tip_index_and_state(self) -> None:
        assert self.leveldb.latest_height() == self.memory.latest_height() == self.commits
        assert find_inconsistencies(self.leveldb) == []
        self.both(lambda s: [s.get_tx_location(tx_hash) for tx_hash in TX_POOL])
        self.both(lambda s: s.iter_state())

    def teardown(self) -> None:
        self.leveldb.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


StoresAgree.TestCase.settings = settings(StoresAgree.TestCase.settings, stateful_step_count=30)
TestStoresAgree = StoresAgree.TestCase

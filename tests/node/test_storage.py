"""Block store behaviour shared by LevelDBStore and MemoryStore, then LevelDB-only behaviour."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plyvel
import pytest

from node.storage import (
    BlockWrite,
    InvalidInputError,
    LevelDBStore,
    MemoryStore,
    StorageError,
    Store,
    StoreClosedError,
    StoreCorruptedError,
    StoreLockedError,
    keys,
)
from node.storage.base import STATE_KEY_BYTES_MAX
from node.storage.check import find_inconsistencies


def make_write(height: int, **changes: Any) -> BlockWrite:
    """A valid block at ``height`` whose parts are tagged with it."""
    tag = b"%d" % height
    write = BlockWrite(
        height=height,
        block=b"block" + tag,
        certificate=b"cert" + tag,
        results=b"results" + tag,
        tx_hashes=[bytes([height % 256, i]) * 16 for i in range(3)],
        state_changes={b"acct/" + tag: b"balance" + tag, b"shared": tag},
        app_hash=bytes([height % 256]) * 32,
    )
    return dataclasses.replace(write, **changes)


def dump(store: Store) -> dict[str, Any]:
    """Everything observable about a store (for "a refused call changed nothing")."""
    latest = store.latest_height()
    heights = range(latest + 2)
    return {
        "latest": latest,
        "blocks": [store.get_block(h) for h in heights],
        "certificates": [store.get_certificate(h) for h in heights],
        "results": [store.get_results(h) for h in heights],
        "app_hashes": [store.get_app_hash(h) for h in heights],
        "state": list(store.iter_state()),
        "txs": {h: store.get_tx_location(h) for w in _writes_upto(latest + 1) for h in w},
    }


def _writes_upto(height: int) -> list[list[bytes]]:
    return [list(make_write(h).tx_hashes) for h in range(1, height + 1)]


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store = MemoryStore() if request.param == "memory" else LevelDBStore(tmp_path / "db")
    yield opened
    opened.close()


def test_both_stores_satisfy_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_empty_store_has_nothing(store: Store) -> None:
    assert store.latest_height() == 0
    for height in (0, 1, 2**64 - 1, 2**64, -1):
        assert store.get_block(height) is None
        assert store.get_certificate(height) is None
        assert store.get_results(height) is None
        assert store.get_app_hash(height) is None
    assert store.get_tx_location(b"\x00" * 32) is None
    assert store.get_state(b"anything") is None
    assert list(store.iter_state()) == []
    assert store.get_meta("genesis_hash") is None


def test_committed_block_reads_back(store: Store) -> None:
    for height in (1, 2):
        store.commit_block(make_write(height))
    assert store.latest_height() == 2
    for height in (1, 2):
        write = make_write(height)
        assert store.get_block(height) == write.block
        assert store.get_certificate(height) == write.certificate
        assert store.get_results(height) == write.results
        assert store.get_app_hash(height) == write.app_hash
        for index, tx_hash in enumerate(write.tx_hashes):
            assert store.get_tx_location(tx_hash) == (height, index)
    assert store.get_block(3) is None
    assert store.get_state(b"shared") == b"2"
    assert list(store.iter_state()) == [
        (b"acct/1", b"balance1"),
        (b"acct/2", b"balance2"),
        (b"shared", b"2"),
    ]


def test_state_change_none_deletes_the_key(store: Store) -> None:
    store.commit_block(make_write(1))
    store.commit_block(make_write(2, state_changes={b"acct/1": None, b"never-there": None}))
    assert store.get_state(b"acct/1") is None
    assert store.get_state(b"never-there") is None
    assert [k for k, _ in store.iter_state()] == [b"shared"]


def test_empty_block_and_empty_results_are_fine(store: Store) -> None:
    store.commit_block(make_write(1, tx_hashes=[], state_changes={}, results=b""))
    assert store.latest_height() == 1
    assert store.get_results(1) == b""


BAD_WRITES: dict[str, dict[str, Any]] = {
    "height zero": {"height": 0},
    "height gap": {"height": 3},
    "height repeated": {"height": 1},
    "negative height": {"height": -1},
    "bool height": {"height": True},
    "str height": {"height": "2"},
    "empty block": {"block": b""},
    "block not bytes": {"block": "block"},
    "bytearray block": {"block": bytearray(b"block")},
    "empty certificate": {"certificate": b""},
    "results not bytes": {"results": None},
    "short app hash": {"app_hash": b"\x00" * 31},
    "long app hash": {"app_hash": b"\x00" * 33},
    "short tx hash last": {"tx_hashes": [b"\xee" * 32, b"\x02" * 31]},
    "tx hash not bytes": {"tx_hashes": ["ab" * 16]},
    "tx hashes as bytes": {"tx_hashes": b"\x01" * 32},
    "empty state key": {"state_changes": {b"ok": b"1", b"": b"2"}},
    "long state key": {"state_changes": {b"k" * (STATE_KEY_BYTES_MAX + 1): b"v"}},
    "str state key": {"state_changes": {"k": b"v"}},
    "int state value": {"state_changes": {b"ok": b"1", b"k": 5}},
    "state changes as list": {"state_changes": [(b"k", b"v")]},
}


@pytest.mark.parametrize("bad", list(BAD_WRITES), ids=list(BAD_WRITES))
def test_refused_write_changes_nothing(store: Store, bad: str) -> None:
    store.commit_block(make_write(1))
    before = dump(store)
    with pytest.raises(InvalidInputError):
        store.commit_block(dataclasses.replace(make_write(2), **BAD_WRITES[bad]))
    assert dump(store) == before
    assert store.get_state(b"ok") is None
    assert store.get_tx_location(b"\xee" * 32) is None
    store.commit_block(make_write(2))  # and the store still takes the right block
    assert store.latest_height() == 2


def test_not_a_block_write_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInputError):
        store.commit_block(dataclasses.asdict(make_write(1)))  # type: ignore[arg-type]
    assert store.latest_height() == 0


def test_first_inclusion_of_a_tx_hash_wins(store: Store) -> None:
    repeated = b"\xaa" * 32
    store.commit_block(make_write(1, tx_hashes=[b"\x01" * 32, repeated, repeated]))
    store.commit_block(make_write(2, tx_hashes=[repeated, b"\x02" * 32]))
    assert store.get_tx_location(repeated) == (1, 1)
    assert store.get_tx_location(b"\x02" * 32) == (2, 1)


def test_iter_state_prefix_start_and_limit(store: Store) -> None:
    entries = {
        b"a": b"1",
        b"b/1": b"2",
        b"b/2": b"3",
        b"b0": b"4",
        b"\xff": b"5",
        b"\xff\xff": b"6",
    }
    store.commit_block(make_write(1, state_changes=entries))
    assert [k for k, _ in store.iter_state(b"b/")] == [b"b/1", b"b/2"]
    assert [k for k, _ in store.iter_state(b"b")] == [b"b/1", b"b/2", b"b0"]
    assert [k for k, _ in store.iter_state(b"b", start=b"b/2")] == [b"b/2", b"b0"]
    assert [k for k, _ in store.iter_state(b"b", start=b"a")] == [b"b/1", b"b/2", b"b0"]
    assert [k for k, _ in store.iter_state(b"b", start=b"c")] == []
    assert [k for k, _ in store.iter_state(limit=2)] == [b"a", b"b/1"]
    assert list(store.iter_state(limit=0)) == []
    assert [k for k, _ in store.iter_state(b"\xff")] == [b"\xff", b"\xff\xff"]
    assert [k for k, _ in store.iter_state(b"\xff\xff")] == [b"\xff\xff"]
    assert list(store.iter_state(b"zz")) == []
    assert dict(store.iter_state()) == entries


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.iter_state("b"),
        lambda s: s.iter_state(b"", start="a"),
        lambda s: s.iter_state(b"", limit=-1),
        lambda s: s.iter_state(b"", limit=1.5),
        lambda s: s.get_block("1"),
        lambda s: s.get_app_hash(1.0),
        lambda s: s.get_tx_location("ab"),
        lambda s: s.get_state("k"),
        lambda s: s.get_meta(b"k"),
        lambda s: s.get_meta(""),
        lambda s: s.put_meta("k", "v"),
        lambda s: s.put_meta("k" * 257, b"v"),
        lambda s: s.put_meta("k", b"v" * (1024 * 1024 + 1)),
    ],
)
def test_malformed_arguments_raise_a_typed_error(store: Store, call: Any) -> None:
    with pytest.raises(InvalidInputError):
        list(call(store) or [])
    assert store.get_meta("k") is None


def test_iterator_sees_the_state_as_of_the_call(store: Store) -> None:
    store.commit_block(make_write(1))
    iterator = store.iter_state()
    store.commit_block(make_write(2, state_changes={b"acct/1": None, b"zzz": b"new"}))
    assert list(iterator) == [(b"acct/1", b"balance1"), (b"shared", b"1")]


def test_meta_roundtrip_and_overwrite(store: Store) -> None:
    store.put_meta("genesis_hash", b"\x01" * 32)
    store.put_meta("genesis_hash", b"\x02" * 32)
    store.put_meta("ünïcode", b"")
    assert store.get_meta("genesis_hash") == b"\x02" * 32
    assert store.get_meta("ünïcode") == b""
    assert store.latest_height() == 0


def test_closed_store_refuses_every_call(store: Store) -> None:
    store.commit_block(make_write(1))
    store.close()
    store.close()
    for call in (
        lambda: store.latest_height(),
        lambda: store.get_block(1),
        lambda: store.get_block(-5),
        lambda: store.get_tx_location(b"\x00" * 32),
        lambda: store.get_state(b"shared"),
        lambda: store.iter_state(),
        lambda: store.get_meta("k"),
        lambda: store.put_meta("k", b"v"),
        lambda: store.commit_block(make_write(2)),
    ):
        with pytest.raises(StoreClosedError):
            call()


# -- LevelDB only ---------------------------------------------------------------------------------


def test_leveldb_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with LevelDBStore(path) as store:
        for height in (1, 2, 3):
            store.commit_block(make_write(height))
        store.put_meta("genesis_hash", b"g" * 32)
        before = dump(store)
    with LevelDBStore(str(path), create=False) as store:
        assert dump(store) == before
        assert store.get_meta("genesis_hash") == b"g" * 32
        store.commit_block(make_write(4))
        assert find_inconsistencies(store) == []


def test_leveldb_iterator_outliving_its_store_raises_closed(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "db")
    store.commit_block(make_write(1))
    iterator = store.iter_state()
    assert next(iterator) == (b"acct/1", b"balance1")
    store.close()
    with pytest.raises(StoreClosedError):
        next(iterator)


def test_leveldb_second_open_in_this_process_is_locked(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db"), pytest.raises(StoreLockedError, match="locked"):
        LevelDBStore(tmp_path / "db")


def test_leveldb_open_held_by_another_process_is_locked(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, plyvel; db = plyvel.DB(sys.argv[1], create_if_missing=True); "
            "print('open', flush=True); sys.stdin.read()",
            str(tmp_path / "db"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(StoreLockedError, match="locked by another process"):
            LevelDBStore(tmp_path / "db")
    finally:
        holder.communicate(input="", timeout=30)
    with LevelDBStore(tmp_path / "db") as store:  # free again once the holder exits
        assert store.latest_height() == 0


def test_leveldb_missing_database_without_create(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist") as raised:
        LevelDBStore(tmp_path / "absent", create=False)
    assert not isinstance(raised.value, StoreLockedError)
    assert not (tmp_path / "absent").exists()


def test_leveldb_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"not a directory")
    for create in (True, False):
        with pytest.raises(StorageError):
            LevelDBStore(tmp_path / "file", create=create)


def test_leveldb_refuses_a_foreign_database(tmp_path: Path) -> None:
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    db.put(b"someone else's", b"data")
    db.close()
    with pytest.raises(StoreCorruptedError, match="not a DepoChain store"):
        LevelDBStore(tmp_path / "db")


def test_leveldb_refuses_another_format_version(tmp_path: Path) -> None:
    LevelDBStore(tmp_path / "db").close()
    db = plyvel.DB(str(tmp_path / "db"))
    db.put(keys.FORMAT_VERSION_KEY, keys.encode_format_version(keys.FORMAT_VERSION + 1))
    db.close()
    with pytest.raises(StoreCorruptedError, match="format"):
        LevelDBStore(tmp_path / "db")


@pytest.mark.parametrize(
    "damage",
    [
        lambda db: db.delete(keys.certificate_key(3)),  # latest block incomplete
        lambda db: db.put(keys.block_key(4), b"stray"),  # data above latest
        lambda db: db.put(keys.LATEST_HEIGHT_KEY, b"\x03"),  # malformed record
    ],
)
def test_leveldb_open_detects_a_damaged_tip(tmp_path: Path, damage: Any) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        for height in (1, 2, 3):
            store.commit_block(make_write(height))
    db = plyvel.DB(str(tmp_path / "db"))
    damage(db)
    db.close()
    with pytest.raises(StoreCorruptedError):
        LevelDBStore(tmp_path / "db")


def test_consistency_check_finds_a_hole_below_the_tip(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        for height in (1, 2, 3):
            store.commit_block(make_write(height))
    db = plyvel.DB(str(tmp_path / "db"))
    db.delete(keys.results_key(2))
    db.close()
    with LevelDBStore(tmp_path / "db") as store:
        assert find_inconsistencies(store) == ["height 2: results missing"]

"""Key layout: heights sort numerically, columns never overlap, records round-trip."""

from __future__ import annotations

from pathlib import Path

import plyvel
from hypothesis import given
from hypothesis import strategies as st

from node.bench.storage import measure_block_commits
from node.storage import BlockWrite, LevelDBStore, keys
from node.storage.check import find_inconsistencies

heights = st.integers(0, keys.HEIGHT_MAX)


def test_height_256_sorts_after_255() -> None:
    assert keys.block_key(255) < keys.block_key(256)
    assert keys.block_key(9) < keys.block_key(10) < keys.block_key(100)
    assert keys.app_hash_key(2**32 - 1) < keys.app_hash_key(2**32)


@given(heights, heights)
def test_height_keys_sort_like_heights(a: int, b: int) -> None:
    for make_key in (keys.block_key, keys.certificate_key, keys.results_key, keys.app_hash_key):
        assert (make_key(a) < make_key(b)) == (a < b)
        assert keys.height_of_key(make_key(a)) == a


@given(heights, st.integers(0, keys.TX_INDEX_MAX))
def test_tx_location_roundtrip(height: int, index: int) -> None:
    assert keys.decode_tx_location(keys.encode_tx_location(height, index)) == (height, index)


def test_columns_do_not_overlap() -> None:
    prefixes = [
        keys.PREFIX_BLOCK,
        keys.PREFIX_CERTIFICATE,
        keys.PREFIX_RESULTS,
        keys.PREFIX_APP_HASH,
        keys.PREFIX_TX,
        keys.PREFIX_STATE,
        keys.PREFIX_META,
        keys.LATEST_HEIGHT_KEY,
        keys.FORMAT_VERSION_KEY,
    ]
    assert len(set(prefixes)) == len(prefixes)
    assert all(len(prefix) == 1 for prefix in prefixes)
    # Only the two singleton records are one byte long; every column key is longer.
    assert len(keys.state_key(b"x")) > 1 and len(keys.meta_key("x")) > 1


@given(st.binary(max_size=4), st.binary(max_size=6))
def test_prefix_upper_bound_separates_inside_from_after(prefix: bytes, key: bytes) -> None:
    bound = keys.compute_prefix_upper_bound(prefix)
    if key.startswith(prefix):
        assert bound is None or key < bound
    elif key > prefix:
        assert bound is not None and key >= bound


def test_leveldb_scans_heights_in_numeric_order(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        for height in range(1, 301):
            store.commit_block(
                BlockWrite(height, b"b", b"c", b"", [], {}, height.to_bytes(32, "big"))
            )
    db = plyvel.DB(str(tmp_path / "db"))
    try:
        scanned = [
            keys.height_of_key(k)
            for k in db.iterator(prefix=keys.PREFIX_BLOCK, include_value=False)
        ]
    finally:
        db.close()
    assert scanned == list(range(1, 301))


def test_measure_block_commits_writes_real_blocks(tmp_path: Path) -> None:
    result = measure_block_commits(tmp_path / "db", blocks=3, txs_per_block=20)
    assert result["txs"] == 60
    assert result["blocks_per_s"] > 0 and result["txs_per_s"] > 0
    assert result["bytes_per_block"] > 20 * 250
    with LevelDBStore(tmp_path / "db", create=False) as store:
        assert store.latest_height() == 3
        assert find_inconsistencies(store) == []
        assert len(list(store.iter_state(b"bal/"))) > 20

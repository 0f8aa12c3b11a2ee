"""Unit-level durability order of the two writes a validator's safety rests on.

A ``kill -9`` keeps the page cache, so the crash tests pass with every fsync removed; only a
power cut shows the difference. These tests watch the calls at the boundary instead
(tests/node/boundary.py): the sign-state file is written, fsynced, renamed and its folder
fsynced, in that order; and every LevelDB write of a block (and of metadata) asks for
``sync=True`` in one batch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.crypto import sha256
from consensus.safety import SignState, SignStep
from consensus.types import Height, Round
from node.signer import SignStateFile, decode_sign_state_file
from node.storage import BlockWrite, LevelDBStore, keys
from tests.node import boundary
from tests.node.boundary import BoundaryLog


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> BoundaryLog:
    recorded = BoundaryLog()
    boundary.install(monkeypatch, recorded)
    return recorded


def _state(height: int, step: SignStep = SignStep.PREVOTE) -> SignState:
    return SignState(Height(height), Round(0), step, sha256(b"%d" % height))


def test_persist_fsyncs_the_file_then_renames_then_fsyncs_the_folder(
    tmp_path: Path, log: BoundaryLog
) -> None:
    path = tmp_path / "sign_state.json"
    temp = str(path) + ".tmp"
    signer = SignStateFile(path)
    for height in (1, 2):
        log.clear()
        signer.persist(_state(height))
        ops = [(op.name, op.path) for _, op in log.find("sign")]
        assert ops == [
            ("write", temp),
            ("fsync", temp),
            ("replace", str(path)),
            ("fsync", str(tmp_path)),
        ]
        assert log.ops[2].data == temp  # the temp file is what replaces the old one
        assert decode_sign_state_file(log.ops[0].data, temp) == _state(height)
        [durable] = boundary.find_durable_persists(log, path)
        assert durable.state == _state(height)


def test_a_persist_without_either_fsync_is_not_durable(tmp_path: Path) -> None:
    """The checker the driver tests rely on refuses a persist missing either fsync."""
    path = tmp_path / "s.json"
    temp = str(path) + ".tmp"
    data = b'{"height": 1}'
    full = [
        boundary.Op("sign", "write", temp, data),
        boundary.Op("sign", "fsync", temp),
        boundary.Op("sign", "replace", str(path), temp),
        boundary.Op("sign", "fsync", str(tmp_path)),
    ]
    for missing in (1, 3):
        log = BoundaryLog([op for i, op in enumerate(full) if i != missing])
        assert boundary.find_durable_persists(log, path) == []


def _block(height: int) -> BlockWrite:
    return BlockWrite(
        height=height,
        block=b"block%d" % height,
        certificate=b"cert%d" % height,
        results=b"results%d" % height,
        tx_hashes=[sha256(b"tx%d" % height)],
        state_changes={b"balance/alice": b"%d" % height, b"gone": None},
        app_hash=sha256(b"app%d" % height),
    )


def test_each_block_is_one_batch_written_with_sync(tmp_path: Path, log: BoundaryLog) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        for height in (1, 2, 3):
            log.clear()
            store.commit_block(_block(height))
            [(_, write)] = log.find("store")
            assert write.name == "batch_write"
            sync, puts = write.data
            assert sync is True, f"block {height}'s batch is written without sync"
            assert puts == {
                keys.block_key(height): b"block%d" % height,
                keys.certificate_key(height): b"cert%d" % height,
                keys.results_key(height): b"results%d" % height,
                keys.app_hash_key(height): sha256(b"app%d" % height),
                keys.tx_key(sha256(b"tx%d" % height)): keys.encode_tx_location(height, 0),
                keys.state_key(b"balance/alice"): b"%d" % height,
                keys.state_key(b"gone"): None,
                keys.LATEST_HEIGHT_KEY: keys.encode_height(height),
            }


def test_metadata_and_the_format_record_are_written_with_sync(
    tmp_path: Path, log: BoundaryLog
) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        store.put_meta("genesis_hash", b"\x01" * 32)
    puts = [op.data for _, op in log.find("store", "put")]
    assert puts == [(True, keys.FORMAT_VERSION_KEY), (True, keys.meta_key("genesis_hash"))]

"""The serving side on a real LevelDB store and snapshot folder: answers are rate-limited per
peer, only snapshots whose anchor exists are offered, and a served anchor verifies."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus import codec
from node.chain import Chain
from node.statesync.anchor import Trust, verify_anchor
from node.statesync.files import SnapshotFolder
from node.statesync.messages import (
    AnchorRequest,
    AnchorResponse,
    ChunkRequest,
    ChunkResponse,
    SnapshotsRequest,
    SnapshotsResponse,
)
from node.statesync.serve import CHUNK_BURST, CHUNK_RATE_PER_S, SnapshotServer
from node.statesync.snapshot import Manifest, cut_chunks
from node.storage import LevelDBStore
from tests.node.ledger_blocks import build_blocks, make_genesis

PEER, OTHER = b"\x01" * 32, b"\x02" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(tmp_path: Path) -> tuple[SnapshotServer, Clock, LevelDBStore]:
    """Blocks 1..3 committed, snapshots of heights 2 (its anchor exists) and 3 (not yet)."""
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(make_genesis(), store)
    folder = SnapshotFolder(tmp_path / "snapshots", kept=5)
    for item in build_blocks(3, 3):
        chain.commit(item.block, item.certificate)
        height = item.block.height
        if height >= 2:
            validators = codec.encode(chain.get_validators(height + 1).to_wire())
            chunks = cut_chunks(store.iter_state(), 2048)
            folder.write(height, store.get_app_hash(height) or b"", validators, chunks)
    clock = Clock()
    return SnapshotServer(folder, store, clock), clock, store


def test_chunk_requests_are_rate_limited_per_peer(
    served: tuple[SnapshotServer, Clock, LevelDBStore],
) -> None:
    server, clock, _ = served
    answers = [server.answer(PEER, ChunkRequest(2, 0)) for _ in range(100)]
    assert sum(isinstance(a, ChunkResponse) for a in answers) == CHUNK_BURST
    assert server.stats.rate_limited == 100 - CHUNK_BURST
    assert isinstance(server.answer(OTHER, ChunkRequest(2, 0)), ChunkResponse)  # its own bucket
    clock.now += 1.0
    again = [server.answer(PEER, ChunkRequest(2, 0)) for _ in range(100)]
    assert sum(isinstance(a, ChunkResponse) for a in again) == CHUNK_RATE_PER_S


def test_only_snapshots_with_a_committed_next_block_are_offered(
    served: tuple[SnapshotServer, Clock, LevelDBStore],
) -> None:
    server, _, _ = served
    offer = server.answer(PEER, SnapshotsRequest())
    assert isinstance(offer, SnapshotsResponse)
    assert [Manifest.decode(raw).height for raw in offer.manifests] == [2]
    assert server.answer(PEER, AnchorRequest(3)) is None  # block 4 is not committed


def test_a_served_anchor_verifies(served: tuple[SnapshotServer, Clock, LevelDBStore]) -> None:
    server, _, store = served
    anchor = server.answer(PEER, AnchorRequest(2))
    assert isinstance(anchor, AnchorResponse)
    verified = verify_anchor(anchor, 2, Trust.from_genesis(make_genesis()))
    assert verified.app_hash == store.get_app_hash(2)

"""State sync's format and checks on real blocks and a real LevelDB: a snapshot written from a
committed chain rebuilds the certified app hash and installs into an empty store that a Chain
then opens at that height; a tampered chunk, a wrong manifest, chunks out of order and anchors
that do not prove the root are refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from consensus import codec
from consensus.crypto import sha256
from consensus.messages import CommitCertificate
from node.chain import Chain, ChainMismatchError
from node.leader_window import encode_headers
from node.statesync.anchor import AnchorError, Trust, verify_anchor
from node.statesync.files import SnapshotFolder
from node.statesync.messages import AnchorResponse
from node.statesync.snapshot import (
    Manifest,
    SnapshotError,
    cut_chunks,
    read_chunk,
    rebuild,
    verify_chunk,
)
from node.storage import LevelDBStore
from node.storage.install import SnapshotInstall, get_base_height
from tests.node.ledger_blocks import build_blocks, make_genesis

HEIGHT = 3
CHUNK_BYTES = 600


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> LevelDBStore:
    """A LevelDB store with blocks 1..HEIGHT+1 committed through a real Chain."""
    store = LevelDBStore(tmp_path_factory.mktemp("source") / "db")
    chain = Chain(make_genesis(), store)
    for item in build_blocks(7, HEIGHT + 1):
        chain.commit(item.block, item.certificate)
    return store


def _snapshot_at_tip(store: LevelDBStore) -> tuple[Manifest, list[bytes]]:
    chunks = list(cut_chunks(store.iter_state(), CHUNK_BYTES))
    app_hash = store.get_app_hash(store.latest_height())
    assert app_hash is not None
    manifest = Manifest(store.latest_height(), 1, app_hash, tuple(sha256(c) for c in chunks))
    return manifest, chunks


def _restore(manifest: Manifest, chunks: list[bytes], app_hash: bytes) -> list[tuple[bytes, bytes]]:
    pairs: list[tuple[bytes, bytes]] = []
    for index, chunk in enumerate(chunks):
        verify_chunk(manifest, index, chunk)
        pairs += read_chunk(chunk, pairs[-1][0] if pairs else None)
    return rebuild(manifest.height, pairs, app_hash).pairs


def _anchor(store: LevelDBStore, height: int) -> AnchorResponse:
    blocks = build_blocks(7, HEIGHT + 1)
    next_block = blocks[height].block
    chain = Chain(make_genesis(), store)
    return AnchorResponse(
        height,
        blocks[height - 1].block.encode(),
        blocks[height - 1].certificate.encode(),
        store.get_results(height) or b"",
        codec.encode(next_block.header.to_wire()),
        blocks[height].certificate.encode(),
        codec.encode(chain.get_validators(height + 1).to_wire()),
        encode_headers([item.block.header for item in blocks[: height - 1]]),
    )


def test_snapshot_is_cut_in_bounded_chunks_and_rebuilds_the_app_hash(source: LevelDBStore) -> None:
    manifest, chunks = _snapshot_at_tip(source)
    assert len(chunks) > 3
    assert all(len(chunk) <= CHUNK_BYTES for chunk in chunks)
    pairs = _restore(manifest, chunks, manifest.app_hash)
    assert dict(pairs) == dict(source.iter_state())


def test_a_tampered_chunk_is_refused(source: LevelDBStore) -> None:
    manifest, chunks = _snapshot_at_tip(source)
    tampered = bytearray(chunks[1])
    tampered[-1] ^= 1
    with pytest.raises(SnapshotError, match="does not hash"):
        verify_chunk(manifest, 1, bytes(tampered))


def test_a_wrong_manifest_does_not_rebuild_the_certified_root(source: LevelDBStore) -> None:
    """A peer that changes a balance and lists the hashes of its own chunks (a consistent but
    wrong manifest) is caught by the root check against the certified app hash."""
    manifest, chunks = _snapshot_at_tip(source)
    pairs = [p for chunk in chunks for p in read_chunk(chunk, None)]
    balances = [i for i, (key, _) in enumerate(pairs) if key.startswith(b"B")]
    first, other = next((i, j) for i in balances for j in balances if pairs[i][1] != pairs[j][1])
    pairs[first] = (pairs[first][0], pairs[other][1])  # a well-formed, wrong balance
    forged = list(cut_chunks(iter(pairs), CHUNK_BYTES))
    lying = dataclasses.replace(manifest, chunk_hashes=tuple(sha256(c) for c in forged))
    with pytest.raises(SnapshotError, match="certified app hash"):
        _restore(lying, forged, manifest.app_hash)


def test_chunk_keys_must_increase_across_chunks(source: LevelDBStore) -> None:
    _, chunks = _snapshot_at_tip(source)
    last_key = read_chunk(chunks[1], None)[-1][0]
    with pytest.raises(SnapshotError, match="out of order"):
        read_chunk(chunks[0], last_key)


def test_anchor_certifies_the_root_of_the_snapshot_height(source: LevelDBStore) -> None:
    trust = Trust.from_genesis(make_genesis())
    verified = verify_anchor(_anchor(source, HEIGHT), HEIGHT, trust)
    assert verified.app_hash == source.get_app_hash(HEIGHT)


def test_anchor_with_a_forged_certificate_is_refused(source: LevelDBStore) -> None:
    anchor = _anchor(source, HEIGHT)
    certificate = CommitCertificate.decode(anchor.next_certificate)
    short = dataclasses.replace(certificate, signatures=certificate.signatures[:1])
    forged = dataclasses.replace(anchor, next_certificate=short.encode())
    with pytest.raises(AnchorError, match="certificate"):
        verify_anchor(forged, HEIGHT, Trust.from_genesis(make_genesis()))


def test_anchor_of_another_height_is_refused(source: LevelDBStore) -> None:
    with pytest.raises(AnchorError):
        verify_anchor(_anchor(source, HEIGHT - 1), HEIGHT, Trust.from_genesis(make_genesis()))


def test_install_gives_a_store_a_chain_opens_at_the_base_height(
    source: LevelDBStore, tmp_path: Path
) -> None:
    """The source's tip is HEIGHT + 1: its state installs with block HEIGHT + 1 as the tip."""
    chunks = list(cut_chunks(source.iter_state(), CHUNK_BYTES))
    pairs = [p for chunk in chunks for p in read_chunk(chunk, None)]
    blocks = build_blocks(7, HEIGHT + 1)
    target = LevelDBStore(tmp_path / "db")
    rebuilt = rebuild(HEIGHT + 1, pairs, source.get_app_hash(HEIGHT + 1) or b"")
    target.install_snapshot(
        SnapshotInstall(
            height=HEIGHT + 1,
            block=blocks[HEIGHT].block.encode(),
            certificate=blocks[HEIGHT].certificate.encode(),
            results=source.get_results(HEIGHT + 1) or b"",
            app_hash=source.get_app_hash(HEIGHT + 1) or b"",
            state=rebuilt.pairs,
            tree_writes=rebuilt.tree.unpersisted(),
            window_headers=encode_headers([item.block.header for item in blocks[:HEIGHT]]),
        )
    )
    chain = Chain(make_genesis(), target)
    assert chain.height == HEIGHT + 1 and get_base_height(target) == HEIGHT + 1
    assert chain.state.app_hash == source.get_app_hash(HEIGHT + 1)
    assert list(chain.iter_blocks(1, 5)) == []  # nothing below the base is served
    # leader skipping reads the blocks below the base too: the joiner's window is the source's
    joined = chain.compute_chain_state().leader_window
    assert joined is not None and joined.start == 1
    assert joined == Chain(make_genesis(), source).compute_chain_state().leader_window
    target.close()


def test_anchor_without_the_leader_window_headers_is_refused(source: LevelDBStore) -> None:
    """A joiner without them would name other round-0 proposers than everyone else."""
    anchor = dataclasses.replace(_anchor(source, HEIGHT), window_headers=encode_headers([]))
    with pytest.raises(AnchorError, match=r"window headers of heights 1\.\.2"):
        verify_anchor(anchor, HEIGHT, Trust.from_genesis(make_genesis()))


def test_anchor_with_a_forged_leader_window_header_is_refused(source: LevelDBStore) -> None:
    """A header whose carried certificate leaves a validator out (to make it look absent)."""
    blocks = build_blocks(7, HEIGHT + 1)
    first, second = (item.block.header for item in blocks[:2])
    assert second.last_commit is not None
    fewer = dataclasses.replace(second.last_commit, signatures=second.last_commit.signatures[1:])
    forged = [first, dataclasses.replace(second, last_commit=fewer)]
    anchor = dataclasses.replace(_anchor(source, HEIGHT), window_headers=encode_headers(forged))
    with pytest.raises(AnchorError, match="header 2 is not block 3's parent"):
        verify_anchor(anchor, HEIGHT, Trust.from_genesis(make_genesis()))


def test_folder_keeps_only_the_newest_snapshots(tmp_path: Path) -> None:
    folder = SnapshotFolder(tmp_path / "snapshots", kept=2)
    for height in (10, 20, 30):
        folder.write(height, b"\x01" * 32, b"v", iter([b"chunk"]))
    assert folder.list_heights() == [30, 20]
    manifest = folder.read_manifest(30)
    assert manifest is not None and manifest.chunk_hashes == (sha256(b"chunk"),)
    assert folder.read_chunk(30, 0) == b"chunk" and folder.read_chunk(30, 1) is None


def test_an_interrupted_install_is_refused_at_start(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "db")
    store.put_meta("statesync_installing", b"1")
    with pytest.raises(ChainMismatchError, match="interrupted"):
        Chain(make_genesis(), store)
    store.close()

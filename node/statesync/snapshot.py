"""The snapshot format: the ledger state at one committed height, cut into chunks.

A snapshot of height ``h`` is the state after block ``h`` as (state key, value) pairs in key
order, the meta record left out (the restorer writes it). Pairs are cut into chunks of at most
a configured number of bytes (one pair at least); a chunk is the canonical encoding of its pairs
and is named by its sha256. The *manifest* lists height, format, the app hash the pairs must
rebuild and every chunk hash; the sha256 of its encoding names the snapshot.

Nothing here is trusted from a peer: a chunk counts only if it hashes to the manifest's entry,
pairs must be strictly increasing across chunks and decode as ledger records, and the rebuilt
tree's root must be the app hash of a certified header (:mod:`node.statesync.anchor`), not the
manifest's word for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from consensus import codec
from consensus.codec import CodecError
from consensus.crypto import sha256
from consensus.ledger.commitment import build_state_tree, root_of
from consensus.ledger.state import META_KEY, encode_meta, get_reader
from consensus.merkle import StateTree
from node.errors import NodeError

FORMAT = 1
"""Version of this layout; a node restores only formats it knows."""
CHUNKS_MAX = 100_000
"""Most chunks in one snapshot (a manifest of 3.2 MB of hashes at most)."""
CHUNK_ITEMS_MAX = 50_000
"""Most pairs in one chunk (below the codec's container bound)."""
PAIR_OVERHEAD_BYTES = 16
"""Encoding overhead of one pair in a chunk."""
CHUNK_ENVELOPE_BYTES = 16


class SnapshotError(NodeError):
    """A snapshot, chunk or manifest is malformed or does not verify."""


@dataclass(frozen=True, slots=True)
class Manifest:
    height: int
    format: int
    app_hash: bytes
    """The root the pairs must rebuild (the manifest's claim; checked against a header)."""
    chunk_hashes: tuple[bytes, ...]

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_hashes)

    def encode(self) -> bytes:
        return codec.encode([self.format, self.height, self.app_hash, list(self.chunk_hashes)])

    @property
    def snapshot_id(self) -> bytes:
        return sha256(self.encode())

    @classmethod
    def decode(cls, raw: bytes) -> Manifest:
        try:
            fmt, height, app_hash, hashes = codec.expect_fields(codec.decode(raw), "manifest", 4)
            return cls(
                height=codec.expect_int(height, "height", 1, 2**62),
                format=codec.expect_uint(fmt, "format", 2**16),
                app_hash=codec.expect_bytes(app_hash, "app_hash", 32),
                chunk_hashes=codec.expect_list_of(
                    hashes, "chunk_hashes", lambda h: codec.expect_bytes(h, "hash", 32), CHUNKS_MAX
                ),
            )
        except CodecError as exc:
            raise SnapshotError(f"bad manifest: {exc}") from exc


def cut_chunks(items: Iterable[tuple[bytes, bytes]], chunk_bytes: int) -> Iterator[bytes]:
    """Encoded chunks of ``items`` (state pairs in key order, meta excluded), each at most
    ``chunk_bytes`` unless one pair alone is larger (then SnapshotError: no peer could take
    it in a frame)."""
    budget = chunk_bytes - CHUNK_ENVELOPE_BYTES
    chunk: list[list[bytes]] = []
    size = 0
    for key, value in items:
        if key == META_KEY:
            continue
        cost = len(key) + len(value) + PAIR_OVERHEAD_BYTES
        if cost > budget:
            raise SnapshotError(f"state entry {key[:32]!r} ({cost} bytes) exceeds a chunk")
        if chunk and (size + cost > budget or len(chunk) >= CHUNK_ITEMS_MAX):
            yield codec.encode(chunk)
            chunk, size = [], 0
        chunk.append([key, value])
        size += cost
    if chunk:
        yield codec.encode(chunk)


def verify_chunk(manifest: Manifest, index: int, raw: bytes) -> None:
    """Raise SnapshotError unless ``raw`` is chunk ``index`` of ``manifest`` by its hash."""
    if not 0 <= index < manifest.chunk_count:
        raise SnapshotError(f"chunk {index} is not in a snapshot of {manifest.chunk_count}")
    if sha256(raw) != manifest.chunk_hashes[index]:
        raise SnapshotError(f"chunk {index} does not hash to the manifest's entry")


def read_chunk(raw: bytes, after: bytes | None) -> list[tuple[bytes, bytes]]:
    """The pairs of a chunk, checked: each decodes as a ledger record of its key, keys strictly
    increase (from ``after``, the last key of the previous chunk), the meta key is absent."""
    try:
        rows = codec.expect_list(codec.decode(raw), "chunk", CHUNK_ITEMS_MAX)
        pairs: list[tuple[bytes, bytes]] = []
        for row in rows:
            key_value, value_value = codec.expect_fields(row, "pair", 2)
            key = codec.expect_bytes(key_value, "key", max_len=1024)
            value = codec.expect_bytes(value_value, "value")
            if (after is not None and key <= after) or key == META_KEY or not key:
                raise SnapshotError(f"chunk keys out of order or reserved at {key[:32]!r}")
            get_reader(key)(codec.decode(value))
            pairs.append((key, value))
            after = key
    except (CodecError, ValueError, KeyError) as exc:
        raise SnapshotError(f"bad chunk: {exc}") from exc
    if not pairs:
        raise SnapshotError("empty chunk")
    return pairs


@dataclass(frozen=True, slots=True)
class RebuiltState:
    """A verified snapshot, ready to install: its pairs (meta included) and its tree."""

    height: int
    pairs: list[tuple[bytes, bytes]]
    tree: StateTree


def rebuild(height: int, pairs: list[tuple[bytes, bytes]], app_hash: bytes) -> RebuiltState:
    """The state and tree of ``pairs``; SnapshotError unless the root is ``app_hash`` (which
    the caller took from a certified header)."""
    tree = build_state_tree(pairs, height)
    if root_of(tree) != app_hash:
        raise SnapshotError(f"snapshot of height {height} does not rebuild the certified app hash")
    with_meta = [*pairs, (META_KEY, encode_meta(height, app_hash))]
    return RebuiltState(height, with_meta, tree)

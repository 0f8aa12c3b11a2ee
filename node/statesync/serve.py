"""Answering peers' snapshot requests from this node's snapshot folder and block store.

Only authenticated, allowlisted peers reach this (the P2P layer drops everyone else), and each
peer is rate-limited per kind of request (a token bucket), so a peer cannot make this node read
chunks from disk as fast as it can ask: requests beyond the rate are dropped and counted. A
request for something this node does not have gets no answer (the asker times out and asks
another peer), as in block sync.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus import codec
from consensus.blocks import Block
from node.failpoints import Failpoint, Failpoints
from node.leader_window import encode_headers, get_window_first_height, read_headers
from node.statesync.files import SnapshotFolder
from node.statesync.messages import (
    OFFERS_MAX,
    AnchorRequest,
    AnchorResponse,
    ChunkRequest,
    ChunkResponse,
    SnapshotsRequest,
    SnapshotsResponse,
    StateSyncPayload,
)
from node.storage import Store
from node.storage.install import get_base_height

log = logging.getLogger("depochain.statesync")

CHUNK_RATE_PER_S = 20.0
CHUNK_BURST = 40.0
LIST_RATE_PER_S = 1.0
LIST_BURST = 5.0


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: float
    tokens: float = -1.0
    updated_s: float = 0.0

    def take(self, now_s: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated_s = self.burst, now_s
        self.tokens = min(self.burst, self.tokens + (now_s - self.updated_s) * self.rate_per_s)
        self.updated_s = now_s
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class ServeStats:
    answered: int = 0
    rate_limited: int = 0
    unavailable: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class SnapshotServer:
    """This node's answers to state sync requests."""

    def __init__(
        self,
        folder: SnapshotFolder | None,
        store: Store,
        now_s: Callable[[], float],
        failpoints: Failpoints = Failpoints.NONE,
    ) -> None:
        self.folder = folder
        self._failpoints = failpoints  # TEST-ONLY hostile behaviours; NONE on a real node
        self._store = store
        self._now_s = now_s
        self._buckets: dict[tuple[bytes, bool], TokenBucket] = {}
        self.stats = ServeStats()

    def answer(self, peer: bytes, request: StateSyncPayload) -> StateSyncPayload | None:
        """The answer to ``request`` from ``peer`` (None: nothing to send)."""
        if not isinstance(request, SnapshotsRequest | AnchorRequest | ChunkRequest):
            return None  # responses are the restorer's, not ours
        if not self._allow(peer, isinstance(request, ChunkRequest)):
            self.stats.rate_limited += 1
            return None
        answer = self._answer(request)
        if answer is None:
            self.stats.unavailable += 1
        else:
            self.stats.answered += 1
            kind = type(request).__name__
            self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        return answer

    def _allow(self, peer: bytes, is_chunk: bool) -> bool:
        bucket = self._buckets.get((peer, is_chunk))
        if bucket is None:
            if len(self._buckets) > 1_000:  # peers are allowlisted; this only bounds memory
                self._buckets.clear()
            rate, burst = (
                (CHUNK_RATE_PER_S, CHUNK_BURST) if is_chunk else (LIST_RATE_PER_S, LIST_BURST)
            )
            bucket = self._buckets[(peer, is_chunk)] = TokenBucket(rate, burst)
        return bucket.take(self._now_s())

    def _answer(
        self, request: SnapshotsRequest | AnchorRequest | ChunkRequest
    ) -> StateSyncPayload | None:
        folder = self.folder
        if folder is None:
            return None
        if isinstance(request, SnapshotsRequest):
            return self._offers(folder)
        if isinstance(request, ChunkRequest):
            chunk = folder.read_chunk(request.height, request.index)
            if chunk is not None and self._failpoints.is_active(Failpoint.STATESYNC_BAD_CHUNKS):
                chunk = chunk[:-1] + bytes([chunk[-1] ^ 1])
            return None if chunk is None else ChunkResponse(request.height, request.index, chunk)
        return self._anchor(request.height)

    def _offers(self, folder: SnapshotFolder) -> SnapshotsResponse:
        """Our snapshots whose anchor we can give (the next block is committed)."""
        forge = self._failpoints.is_active(Failpoint.STATESYNC_FORGED_MANIFEST)
        manifests = []
        for height in folder.list_heights()[:OFFERS_MAX]:
            manifest = folder.read_manifest(height)
            if manifest is None or self._store.latest_height() <= height:
                continue
            if forge and manifest.chunk_count > 1:
                manifest = dataclasses.replace(manifest, chunk_hashes=manifest.chunk_hashes[:-1])
            manifests.append(manifest.encode())
        return SnapshotsResponse(tuple(manifests))

    def _anchor(self, height: int) -> AnchorResponse | None:
        store = self._store
        validators = self.folder.read_validators(height) if self.folder else None
        parts = (
            store.get_block(height),
            store.get_certificate(height),
            store.get_results(height),
            store.get_block(height + 1),
            store.get_certificate(height + 1),
        )
        if validators is None or any(part is None for part in parts):
            return None
        block, certificate, results, next_block, next_certificate = parts
        assert block and certificate and results is not None and next_block and next_certificate
        header = codec.encode(Block.decode(next_block).header.to_wire())
        base_height = get_base_height(store)
        window = read_headers(store, get_window_first_height(height), height - 1, base_height)
        if window is None:
            return None  # a joiner could not name round 0's proposers like everyone else
        return AnchorResponse(
            height,
            block,
            certificate,
            results,
            header,
            next_certificate,
            validators,
            encode_headers(window),
        )

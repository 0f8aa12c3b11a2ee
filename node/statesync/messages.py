"""What peers say to each other about snapshots: six P2P messages on channels of their own.

A joining node asks every peer for its snapshots (``SnapshotsRequest``; answered with their
manifests), then one peer for the *anchor* of the chosen height (block ``h`` with its certificate
and receipts, header ``h + 1`` with its certificate and validator set: what proves the app hash),
then chunks one by one. Every decode is strict and bounded like the rest of ``node.gossip``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from consensus import codec
from node.statesync.snapshot import CHUNKS_MAX

OFFERS_MAX = 10
"""Most snapshots one answer lists (a node keeps ``[statesync].snapshots_kept`` <= 100; it
offers its newest)."""
MANIFEST_BYTES_MAX = 64 + 33 * CHUNKS_MAX


class StateSyncChannel(enum.IntEnum):
    SNAPSHOTS_REQUEST = 6
    SNAPSHOTS_RESPONSE = 7
    ANCHOR_REQUEST = 8
    ANCHOR_RESPONSE = 9
    CHUNK_REQUEST = 10
    CHUNK_RESPONSE = 11


@dataclass(frozen=True, slots=True)
class SnapshotsRequest:
    pass


@dataclass(frozen=True, slots=True)
class SnapshotsResponse:
    manifests: tuple[bytes, ...]
    """Encoded manifests (``node.statesync.snapshot.Manifest``), newest first."""


@dataclass(frozen=True, slots=True)
class AnchorRequest:
    height: int


@dataclass(frozen=True, slots=True)
class AnchorResponse:
    height: int
    block: bytes
    certificate: bytes
    results: bytes
    next_header: bytes
    """Encoded header of ``height + 1``: its app hash is the snapshot's root."""
    next_certificate: bytes
    next_validators: bytes
    """Encoded validator set of ``height + 1`` (checked against the header's hash of it)."""
    window_headers: bytes = b""
    """Encoded headers of the blocks before ``height`` that leader skipping reads
    (:mod:`node.leader_window`; checked by the parent-hash chain down from ``block``)."""


@dataclass(frozen=True, slots=True)
class ChunkRequest:
    height: int
    index: int


@dataclass(frozen=True, slots=True)
class ChunkResponse:
    height: int
    index: int
    chunk: bytes


StateSyncPayload = (
    SnapshotsRequest
    | SnapshotsResponse
    | AnchorRequest
    | AnchorResponse
    | ChunkRequest
    | ChunkResponse
)


def encode_statesync(payload: StateSyncPayload) -> list[codec.Value]:
    """The gossip frame's list (channel first) for ``payload``."""
    if isinstance(payload, SnapshotsRequest):
        return [int(StateSyncChannel.SNAPSHOTS_REQUEST), 0]
    if isinstance(payload, SnapshotsResponse):
        return [int(StateSyncChannel.SNAPSHOTS_RESPONSE), list(payload.manifests)]
    if isinstance(payload, AnchorRequest):
        return [int(StateSyncChannel.ANCHOR_REQUEST), payload.height]
    if isinstance(payload, AnchorResponse):
        p = payload
        parts = [p.block, p.certificate, p.results, p.next_header, p.next_certificate]
        return [
            int(StateSyncChannel.ANCHOR_RESPONSE),
            p.height,
            *parts,
            p.next_validators,
            p.window_headers,
        ]
    if isinstance(payload, ChunkRequest):
        return [int(StateSyncChannel.CHUNK_REQUEST), payload.height, payload.index]
    return [int(StateSyncChannel.CHUNK_RESPONSE), payload.height, payload.index, payload.chunk]


def decode_statesync(channel: int, body: list[codec.Value]) -> StateSyncPayload | None:
    """The payload of a state sync channel, None if ``channel`` is not one; CodecError if the
    body is malformed."""
    if channel == StateSyncChannel.SNAPSHOTS_REQUEST and len(body) == 1:
        return SnapshotsRequest()
    if channel == StateSyncChannel.SNAPSHOTS_RESPONSE and len(body) == 1:
        read = lambda m: codec.expect_bytes(m, "manifest", max_len=MANIFEST_BYTES_MAX)  # noqa: E731
        return SnapshotsResponse(codec.expect_list_of(body[0], "manifests", read, OFFERS_MAX))
    if channel == StateSyncChannel.ANCHOR_REQUEST and len(body) == 1:
        return AnchorRequest(_height(body[0]))
    if channel == StateSyncChannel.ANCHOR_RESPONSE and len(body) == 8:
        parts = [codec.expect_bytes(part, "anchor part") for part in body[1:]]
        return AnchorResponse(_height(body[0]), *parts)
    if channel == StateSyncChannel.CHUNK_REQUEST and len(body) == 2:
        return ChunkRequest(_height(body[0]), codec.expect_int(body[1], "index", 0, CHUNKS_MAX))
    if channel == StateSyncChannel.CHUNK_RESPONSE and len(body) == 3:
        index = codec.expect_int(body[1], "index", 0, CHUNKS_MAX)
        return ChunkResponse(_height(body[0]), index, codec.expect_bytes(body[2], "chunk"))
    if channel in set(StateSyncChannel):
        raise codec.CodecError(f"state sync channel {channel}: wrong arity")
    return None


def _height(value: codec.Value) -> int:
    return codec.expect_int(value, "height", 1, 2**62)

"""What nodes say to each other over P2P: one small envelope around a few channels.

Consensus messages travel as the consensus core encodes them; the node adds channels of its own
for transaction gossip (batched: one frame carries many txs, because per-message overhead, not
bandwidth, bounds a Python node) and block sync (status, block requests and responses). Every
decode is strict and bounded; a peer's garbage raises CodecError and is dropped by the caller.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from consensus import codec
from consensus.messages import MESSAGE_BYTES_MAX
from consensus.wire import Message, decode_message, encode_message

TX_BATCH_MAX = 2_000
"""Most transactions in one gossip frame."""

SYNC_BLOCKS_MAX = 20
"""Most blocks in one sync response (each may be several MiB; frames are bounded too)."""

GOSSIP_FRAME_BYTES_MAX = MESSAGE_BYTES_MAX + 1024


class Channel(enum.IntEnum):
    CONSENSUS = 1
    TXS = 2
    STATUS = 3
    BLOCKS_REQUEST = 4
    BLOCKS_RESPONSE = 5


@dataclass(frozen=True, slots=True)
class ConsensusPayload:
    message: Message


@dataclass(frozen=True, slots=True)
class TxBatch:
    txs: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class StatusPayload:
    """A peer's latest committed height (sent on connect and after each commit), and in the
    periodic one its system clock's wall time (``node.network_time``)."""

    height: int
    time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BlocksRequest:
    from_height: int
    count: int


@dataclass(frozen=True, slots=True)
class BlocksResponse:
    """Committed blocks with the certificates that committed them, as stored (encoded)."""

    blocks: tuple[tuple[bytes, bytes], ...]


GossipPayload = ConsensusPayload | TxBatch | StatusPayload | BlocksRequest | BlocksResponse


def encode_gossip(payload: GossipPayload) -> bytes:
    if isinstance(payload, ConsensusPayload):
        return codec.encode([int(Channel.CONSENSUS), encode_message(payload.message)])
    if isinstance(payload, TxBatch):
        return codec.encode([int(Channel.TXS), list(payload.txs)])
    if isinstance(payload, StatusPayload):
        clock = [] if payload.time_ms is None else [payload.time_ms]
        return codec.encode([int(Channel.STATUS), payload.height, *clock])
    if isinstance(payload, BlocksRequest):
        return codec.encode([int(Channel.BLOCKS_REQUEST), payload.from_height, payload.count])
    return codec.encode([int(Channel.BLOCKS_RESPONSE), [list(pair) for pair in payload.blocks]])


def decode_gossip(data: bytes) -> GossipPayload:
    items = codec.expect_list(codec.decode(data, GOSSIP_FRAME_BYTES_MAX), "gossip", 3)
    if len(items) < 2:
        raise codec.CodecError("gossip frame too short")
    channel = codec.expect_uint(items[0], "channel")
    body = items[1:]
    if channel == Channel.CONSENSUS and len(body) == 1:
        return ConsensusPayload(decode_message(codec.expect_bytes(body[0], "message")))
    if channel == Channel.TXS and len(body) == 1:
        txs = codec.expect_list_of(
            body[0], "txs", lambda tx: codec.expect_bytes(tx, "tx"), TX_BATCH_MAX
        )
        return TxBatch(txs)
    if channel == Channel.STATUS and len(body) in (1, 2):
        time_ms = codec.expect_uint(body[1], "time_ms", 2**62) if len(body) == 2 else None
        return StatusPayload(codec.expect_uint(body[0], "height"), time_ms)
    if channel == Channel.BLOCKS_REQUEST and len(body) == 2:
        return BlocksRequest(
            codec.expect_uint(body[0], "from_height", 2**62),
            codec.expect_int(body[1], "count", 1, SYNC_BLOCKS_MAX),
        )
    if channel == Channel.BLOCKS_RESPONSE and len(body) == 1:
        return BlocksResponse(
            codec.expect_list_of(body[0], "blocks", _read_block_pair, SYNC_BLOCKS_MAX)
        )
    raise codec.CodecError(f"unknown gossip channel {channel} or wrong arity")


def _read_block_pair(value: codec.Value) -> tuple[bytes, bytes]:
    block, certificate = codec.expect_fields(value, "block pair", 2)
    return codec.expect_bytes(block, "block"), codec.expect_bytes(certificate, "certificate")

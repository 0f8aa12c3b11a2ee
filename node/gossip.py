"""What nodes say to each other over P2P: one small envelope around a few channels.

Consensus messages travel as the consensus core encodes them; the node adds channels of its own
for transaction gossip (batched: one frame carries many txs, because per-message overhead, not
bandwidth, bounds a Python node) and block sync (status, block requests and responses). Every
decode is strict and bounded; a peer's garbage raises CodecError and is dropped by the caller.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgpack

from consensus import codec
from consensus.messages import MESSAGE_BYTES_MAX
from consensus.wire import Message, decode_message, encode_message
from node.statesync.messages import StateSyncPayload, decode_statesync, encode_statesync

TX_BATCH_MAX = 2_000
"""Most transactions in one gossip frame."""

SYNC_BLOCKS_MAX = 20
"""Most blocks in one sync response; its bytes are capped too (``node.sync``)."""

TX_BATCH_ENVELOPE_BYTES = 1024
"""Room in a frame for a tx batch's envelope beyond its transactions."""
TX_OVERHEAD_BYTES = 8
"""Encoding overhead of one transaction in a batch (its msgpack bin header)."""

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
    bytes_max: int = 0
    """Largest frame the requester accepts (0: not said, as older nodes send it); the answer
    stays below it and the responder's own limit, and holds at least one block."""


@dataclass(frozen=True, slots=True)
class BlocksResponse:
    """Committed blocks with the certificates that committed them, as stored (encoded)."""

    blocks: tuple[tuple[bytes, bytes], ...]


GossipPayload = (
    ConsensusPayload | TxBatch | StatusPayload | BlocksRequest | BlocksResponse | StateSyncPayload
)


GOSSIP_FRAME_ITEMS_MAX = 9
"""Channel plus body: the longest is a state sync anchor (height, seven byte strings)."""


def encode_gossip(payload: GossipPayload) -> bytes:
    if isinstance(payload, ConsensusPayload):
        return codec.encode([int(Channel.CONSENSUS), encode_message(payload.message)])
    if isinstance(payload, TxBatch):
        return codec.encode([int(Channel.TXS), list(payload.txs)])
    if isinstance(payload, StatusPayload):
        clock = [] if payload.time_ms is None else [payload.time_ms]
        return codec.encode([int(Channel.STATUS), payload.height, *clock])
    if isinstance(payload, BlocksRequest):
        fields = [int(Channel.BLOCKS_REQUEST), payload.from_height, payload.count]
        return codec.encode([*fields, payload.bytes_max] if payload.bytes_max else fields)
    if isinstance(payload, BlocksResponse):
        blocks = [list(pair) for pair in payload.blocks]
        return codec.encode([int(Channel.BLOCKS_RESPONSE), blocks])
    return codec.encode(encode_statesync(payload))


def decode_gossip(data: bytes) -> GossipPayload:
    items = codec.expect_list(_decode_frame(data), "gossip", GOSSIP_FRAME_ITEMS_MAX)
    if len(items) < 2:
        raise codec.CodecError("gossip frame too short")
    channel = codec.expect_uint(items[0], "channel")
    body = items[1:]
    if channel == Channel.CONSENSUS and len(body) == 1:
        return ConsensusPayload(decode_message(codec.expect_bytes(body[0], "message")))
    if channel == Channel.TXS and len(body) == 1:
        txs = codec.expect_list(body[0], "txs", TX_BATCH_MAX)
        if not _are_all_bytes(txs):
            raise codec.CodecError("txs: every tx must be bytes")
        return TxBatch(tuple(txs))
    if channel == Channel.STATUS and len(body) in (1, 2):
        time_ms = codec.expect_uint(body[1], "time_ms", 2**62) if len(body) == 2 else None
        return StatusPayload(codec.expect_uint(body[0], "height"), time_ms)
    if channel == Channel.BLOCKS_REQUEST and len(body) in (2, 3):
        return BlocksRequest(
            codec.expect_uint(body[0], "from_height", 2**62),
            codec.expect_int(body[1], "count", 1, SYNC_BLOCKS_MAX),
            codec.expect_int(body[2], "bytes_max", 1, 2**40) if len(body) == 3 else 0,
        )
    if channel == Channel.BLOCKS_RESPONSE and len(body) == 1:
        return BlocksResponse(
            codec.expect_list_of(body[0], "blocks", _read_block_pair, SYNC_BLOCKS_MAX)
        )
    statesync = decode_statesync(channel, body)
    if statesync is not None:
        return statesync
    raise codec.CodecError(f"unknown gossip channel {channel} or wrong arity")


def _decode_frame(data: bytes) -> codec.Value:
    """``codec.decode(data, GOSSIP_FRAME_BYTES_MAX)``, with a cheaper canonical check for a tx
    batch: msgpack's own packing of a list of a small int and a list of bytes is the canonical
    encoding already (no maps to sort, nothing outside the value space), so the codec's walk
    over every transaction of the frame is not needed to compare the re-encoding."""
    if type(data) is not bytes:
        if not isinstance(data, bytearray | memoryview):
            raise codec.CodecError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
    if len(data) > GOSSIP_FRAME_BYTES_MAX:
        raise codec.CodecError(f"input of {len(data)} bytes exceeds {GOSSIP_FRAME_BYTES_MAX}")
    if not data:
        raise codec.CodecError("empty input")
    value = codec.unpack(data)
    if _is_tx_batch(value):
        canonical: bytes = msgpack.packb(value, use_bin_type=True)
    else:
        canonical = codec.encode(value)
    if canonical != data:
        raise codec.CodecError("non-canonical encoding")
    return value


def _is_tx_batch(value: codec.Value) -> bool:
    return (
        type(value) is list
        and len(value) == 2
        and type(value[0]) is int
        and value[0] == Channel.TXS
        and type(value[1]) is list
        and _are_all_bytes(value[1])
    )


def _are_all_bytes(items: list[codec.Value]) -> bool:
    return all(type(item) is bytes for item in items)


def split_tx_batches(txs: list[bytes], frame_bytes_max: int) -> tuple[list[list[bytes]], int]:
    """``txs`` in gossip batches that each fit a frame (by count and bytes), in order, and how
    many single transactions were too large for any frame (left out)."""
    budget = frame_bytes_max - TX_BATCH_ENVELOPE_BYTES
    batches: list[list[bytes]] = []
    batch: list[bytes] = []
    size = too_large = 0
    for tx in txs:
        cost = len(tx) + TX_OVERHEAD_BYTES
        if cost > budget:
            too_large += 1
            continue
        if batch and (size + cost > budget or len(batch) >= TX_BATCH_MAX):
            batches.append(batch)
            batch, size = [], 0
        batch.append(tx)
        size += cost
    if batch:
        batches.append(batch)
    return batches, too_large


def _read_block_pair(value: codec.Value) -> tuple[bytes, bytes]:
    block, certificate = codec.expect_fields(value, "block pair", 2)
    return codec.expect_bytes(block, "block"), codec.expect_bytes(certificate, "certificate")

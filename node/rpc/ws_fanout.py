"""Events of committed blocks for every websocket client: built and JSON-encoded once per block,
the same bytes queued to every matching subscription, and each client's outbox bounded by bytes.

One task (:class:`EventFanout`) takes committed blocks from the node's event bus. For each event
a block raises (NewBlock, NewBlockHeader, one Tx per transaction) that at least one subscription
wants, it encodes ``"data":…,"events":…}}`` once; each subscription owns its constant message
head ``{"jsonrpc":"2.0","id":…,"result":{"query":…,``; an outbox entry is the pair, so a
thousand subscribers of one event hold one copy of it. The task yields to the event loop every
few events, so a 5,000-transaction block never holds the loop, and client writers drain their
outboxes while the block is still being encoded.

An :class:`Outbox` counts the bytes a client has yet to be sent (head + body of every entry). A
client whose pending bytes would pass ``bytes_max`` is cut off: its entries are dropped at once
and its connection closes with code 1008 and a reason naming the bound. Nothing here waits on a
client, so one slow reader never delays the others, the bus or consensus.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from consensus.crypto import sha256
from node import metrics
from node.chain import CommittedBlock
from node.rpc.comet import shapes as cj
from node.rpc.comet.index import compute_tx_events
from node.rpc.comet.query import Query
from node.services import NodeServices, Subscription

log = logging.getLogger("depochain.rpc.websocket")

OUTBOX_BYTES_MAX = 16 * 1024 * 1024
"""Bytes a client may have pending. Holds two NewBlock events of a full default block (4 MiB of
txs is about 7 MiB of JSON) or a few thousand Tx events: a reader that keeps up never nears it,
one that stops reading reaches it and is cut off."""
EVENTS_PER_YIELD = 32
"""Events encoded and queued between two yields to the event loop."""
BUS_POLL_S = 1.0
CLOSE_SLOW_CONSUMER = 1008
"""Close code (policy violation, as CometBFT uses) for a client cut off as a slow consumer."""
EVENT_TYPES = ("NewBlock", "NewBlockHeader", "Tx")

EventMap = dict[str, list[str]]
LazyEvent = tuple[EventMap, Callable[[], dict[str, Any]]]
"""(``events`` map, a builder of ``data``) of one event: the map decides who wants it, and the
data of an event nobody wants is never built."""


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass
class FanoutStats:
    """Counters served at ``/metrics`` (``depochain_websocket_*``)."""

    connections: int = 0
    events_encoded: int = 0
    """Event bodies encoded: once per event of a block, however many subscribers it has."""
    messages_queued: int = 0
    """Event messages queued to clients (one per matching subscription)."""
    messages_sent: int = 0
    slow_consumers: int = 0
    """Clients cut off because their pending bytes passed the bound."""
    pending_bytes_peak: int = 0
    """The most bytes one client ever had pending: for a reader that keeps up it stays near a
    few events' worth, since publishing yields and the writers drain while a block is encoded."""
    outboxes: set[Outbox] = field(default_factory=set)

    def pending_bytes(self) -> int:
        return sum(outbox.pending_bytes for outbox in self.outboxes)

    def collect(self) -> list[metrics.Metric]:
        return [
            metrics.gauge("websocket_connections", "Open websocket clients", self.connections),
            metrics.gauge(
                "websocket_pending_bytes", "Bytes queued to websocket clients", self.pending_bytes()
            ),
            metrics.counter(
                "websocket_events_encoded",
                "Event bodies encoded (once per event, shared by its subscribers)",
                self.events_encoded,
            ),
            metrics.counter(
                "websocket_messages_queued",
                "Event messages queued to clients",
                self.messages_queued,
            ),
            metrics.counter("websocket_messages_sent", "Messages sent", self.messages_sent),
            metrics.gauge(
                "websocket_pending_bytes_peak",
                "Most bytes one client ever had pending",
                self.pending_bytes_peak,
            ),
            metrics.counter(
                "websocket_slow_consumers",
                "Clients cut off for passing the outbox byte bound",
                self.slow_consumers,
            ),
        ]


class Outbox:
    """What one client has yet to be sent: (head, body) pairs whose bytes are shared, bounded
    by their total size. ``cut_reason`` is set once the bound was passed; from then on the
    outbox is empty and takes nothing."""

    def __init__(self, stats: FanoutStats, bytes_max: int = OUTBOX_BYTES_MAX) -> None:
        self._entries: deque[tuple[bytes, bytes]] = deque()
        self._ready = asyncio.Event()
        self._stats = stats
        self.bytes_max = bytes_max
        self.pending_bytes = 0
        self.cut_reason: str | None = None
        self.cut = asyncio.Event()

    def put(self, head: bytes, body: bytes) -> bool:
        """Queue one message; False (and the client cut off) if it would pass the bound."""
        if self.cut_reason is not None:
            return False
        size = len(head) + len(body)
        if self.pending_bytes + size > self.bytes_max:
            self.cut_off(f"more than {self.bytes_max} bytes of events not read")
            return False
        self._entries.append((head, body))
        self.pending_bytes += size
        self._stats.pending_bytes_peak = max(self._stats.pending_bytes_peak, self.pending_bytes)
        self._ready.set()
        return True

    def cut_off(self, reason: str) -> None:
        self.cut_reason = reason
        self._entries.clear()  # free the references now, not when the socket finally closes
        self.pending_bytes = 0
        self._stats.slow_consumers += 1
        self.cut.set()

    async def get(self) -> bytes:
        """The next message's bytes (head and body joined only now, one at a time)."""
        while not self._entries:
            self._ready.clear()
            await self._ready.wait()
        head, body = self._entries.popleft()
        self.pending_bytes -= len(head) + len(body)
        return head + body


@dataclass(eq=False)
class EventSubscription:
    """One ``subscribe`` of one client: its query and the constant head of its messages."""

    query: Query
    outbox: Outbox
    head: bytes
    active: bool = True

    @classmethod
    def of(cls, query: Query, request_id: Any, outbox: Outbox) -> EventSubscription:
        envelope = encode_json({"jsonrpc": "2.0", "id": request_id})
        head = envelope[:-1] + b',"result":{"query":' + encode_json(query.text) + b","
        return cls(query, outbox, head)


class EventFanout:
    """Turns committed blocks into events for every active subscription (see module doc)."""

    def __init__(self, services: NodeServices, stats: FanoutStats) -> None:
        self.services = services
        self.stats = stats
        self.subscriptions: set[EventSubscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.on_bus_overflow: Callable[[], None] = lambda: None

    def add(self, subscription: EventSubscription) -> None:
        self.subscriptions.add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
            self._task.add_done_callback(_log_crash)

    def remove(self, subscription: EventSubscription) -> None:
        subscription.active = False
        self.subscriptions.discard(subscription)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        bus = self.services.bus
        subscription: Subscription = bus.subscribe()
        try:
            while True:
                if subscription.overflowed and subscription.queue.empty():
                    log.warning("websocket events fell behind the committed blocks")
                    self.on_bus_overflow()
                    subscription = bus.subscribe()
                try:
                    async with asyncio.timeout(BUS_POLL_S):
                        committed = await subscription.queue.get()
                except TimeoutError:
                    continue
                if committed is not None:
                    await self.publish(committed)
        finally:
            bus.unsubscribe(subscription)

    async def publish(self, committed: CommittedBlock) -> None:
        """Queue every event of ``committed`` to the subscriptions it matches, encoding each
        wanted event once and yielding to the loop every few events."""
        subscriptions = [s for s in self.subscriptions if s.active]
        if not subscriptions:
            return
        wanted = _wanted_types(subscriptions)
        events = build_events(self.services, committed, wanted)
        for count, (event_map, build_data) in enumerate(events):
            if count % EVENTS_PER_YIELD == EVENTS_PER_YIELD - 1:
                await asyncio.sleep(0)
            matching = [s for s in subscriptions if s.active and s.query.is_match(event_map)]
            if not matching:
                continue
            data = encode_json(build_data())
            body = b'"data":' + data + b',"events":' + encode_json(event_map) + b"}}"
            self.stats.events_encoded += 1
            for subscription in matching:
                if subscription.outbox.put(subscription.head, body):
                    self.stats.messages_queued += 1


def _log_crash(task: asyncio.Task[None]) -> None:
    """A bug in the fan-out is loud (the next subscription starts a new task)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("websocket event fan-out failed", exc_info=task.exception())


def _wanted_types(subscriptions: list[EventSubscription]) -> set[str]:
    wanted: set[str] = set()
    for subscription in subscriptions:
        named = subscription.query.event_type
        wanted.update(EVENT_TYPES if named is None else (named,))
    return wanted


# ---------------------------------------------------------------------------------------------
# event shapes (CometBFT's)


def build_events(
    services: NodeServices, committed: CommittedBlock, wanted: set[str]
) -> Iterator[LazyEvent]:
    """Every event a committed block raises, NewBlock first, one at a time as the caller asks."""
    block, receipts = committed.block, committed.receipts
    block_map = {"block.height": [str(block.height)]}
    if "NewBlock" in wanted:

        def new_block() -> dict[str, Any]:
            value = {
                "block": cj.block_json(
                    block,
                    _find_set(services, block.height + 1),
                    _find_set(services, block.height - 1),
                ),
                "block_id": cj.block_id_json(block.hash),
                "result_finalize_block": {
                    "events": [],
                    "tx_results": [cj.tx_result_json(r) for r in receipts],
                    "validator_updates": [],
                    "consensus_param_updates": None,
                    "app_hash": cj.b64(committed.app_hash),
                },
            }
            return {"type": "tendermint/event/NewBlock", "value": value}

        yield {"tm.event": ["NewBlock"], **block_map}, new_block
    if "NewBlockHeader" in wanted:

        def new_block_header() -> dict[str, Any]:
            header = cj.header_json(block, _find_set(services, block.height + 1))
            return {"type": "tendermint/event/NewBlockHeader", "value": {"header": header}}

        yield {"tm.event": ["NewBlockHeader"], **block_map}, new_block_header
    if "Tx" in wanted:
        for index, (raw, receipt) in enumerate(zip(block.txs, receipts, strict=True)):
            yield (
                compute_tx_events(block.height, sha256(raw), receipt),
                _tx_data(block.height, index, raw, receipt),
            )


def _tx_data(height: int, index: int, raw: bytes, receipt: Any) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        value = {"TxResult": cj.tx_result_event_json(height, index, raw, receipt)}
        return {"type": "tendermint/event/Tx", "value": value}

    return build


def _find_set(services: NodeServices, height: int) -> Any:
    if height < 1:
        return None
    try:
        return services.chain.get_validators(height)
    except LookupError:
        return None

"""CometBFT-compatible ``/websocket``: JSON-RPC over a websocket plus event subscriptions.

``subscribe`` (``{"query": "tm.event='NewBlock'"}``), ``unsubscribe`` and ``unsubscribe_all``
are answered here; every other method goes to the shared registry, exactly as over HTTP.
Events are sent with the subscribe request's id in CometBFT's shape
``{"query", "data": {"type": "tendermint/event/NewBlock", "value"}, "events"}``.

Everything is bounded: connections and subscriptions per node, subscriptions per connection,
the size of an incoming message and the queue of outgoing ones. A client that does not read its
events fast enough is cut off (the socket is closed with a reason), never buffered without
limit; a stalled write times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from consensus.crypto import sha256
from node.chain import CommittedBlock
from node.disk_space import StorageUnavailable
from node.errors import NodeError
from node.rpc import jsonrpc
from node.rpc.comet import shapes as cj
from node.rpc.comet.index import compute_tx_events
from node.rpc.comet.query import Query, QueryError, parse_query
from node.rpc.json_input import ClientJsonError, parse_client_json
from node.rpc.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, Method, Registry, RPCError
from node.rpc.server import REGISTRY_KEY, SERVICES_KEY
from node.services import (
    NodeServices,
    Subscription,
    TooManySubscribers,
)

log = logging.getLogger("depochain.rpc.websocket")

CONNECTIONS_MAX = 100
SUBSCRIPTIONS_PER_CONNECTION_MAX = 5
SUBSCRIPTIONS_MAX = 500
MESSAGE_BYTES_MAX = 1024 * 1024
OUTBOX_MESSAGES_MAX = 256
WRITE_TIMEOUT_S = 10.0
HEARTBEAT_S = 30.0
OVERFLOW_POLL_S = 1.0
CLOSE_SLOW_CONSUMER = 1008
EVENT_TYPES = ("NewBlock", "NewBlockHeader", "Tx")


class SlowConsumer(NodeError):
    """The client fell too far behind its events."""


@dataclass
class Hub:
    """Per-node counts, so limits hold across connections."""

    connections: int = 0
    subscriptions: int = 0


HUB_KEY: web.AppKey[Hub] = web.AppKey("websocket_hub", Hub)


@dataclass
class Connection:
    services: NodeServices
    registry: Registry
    hub: Hub
    ws: web.WebSocketResponse
    subscriptions: dict[str, tuple[Query, jsonrpc.RequestId]] = field(default_factory=dict)
    outbox: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(OUTBOX_MESSAGES_MAX))
    bus_subscription: Subscription | None = None

    # -- outgoing --------------------------------------------------------------------------

    def send(self, message: Any) -> None:
        try:
            self.outbox.put_nowait(json.dumps(message, separators=(",", ":")))
        except asyncio.QueueFull as exc:
            raise SlowConsumer("events were not read fast enough") from exc

    async def write_loop(self) -> None:
        while True:
            text = await self.outbox.get()
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await self.ws.send_str(text)

    # -- subscriptions ---------------------------------------------------------------------

    def subscribe(self, request_id: jsonrpc.RequestId, params: Any) -> dict[str, Any]:
        query = _read_query(params)
        if query.text in self.subscriptions:
            raise RPCError(INTERNAL_ERROR, "already subscribed")
        if len(self.subscriptions) >= SUBSCRIPTIONS_PER_CONNECTION_MAX:
            raise RPCError(
                INTERNAL_ERROR,
                f"max_subscriptions_per_client {SUBSCRIPTIONS_PER_CONNECTION_MAX} reached",
            )
        if self.hub.subscriptions >= SUBSCRIPTIONS_MAX:
            raise RPCError(INTERNAL_ERROR, f"max_subscriptions {SUBSCRIPTIONS_MAX} reached")
        if self.bus_subscription is None:
            try:
                self.bus_subscription = self.services.bus.subscribe()
            except TooManySubscribers as exc:
                raise RPCError(INTERNAL_ERROR, str(exc)) from exc
        self.subscriptions[query.text] = (query, request_id)
        self.hub.subscriptions += 1
        return {}

    def unsubscribe(self, params: Any) -> dict[str, Any]:
        query = _read_query(params)
        if self.subscriptions.pop(query.text, None) is None:
            raise RPCError(INTERNAL_ERROR, "subscription not found")
        self.hub.subscriptions -= 1
        return {}

    def unsubscribe_all(self) -> dict[str, Any]:
        if not self.subscriptions:
            raise RPCError(INTERNAL_ERROR, "subscription not found")
        self.hub.subscriptions -= len(self.subscriptions)
        self.subscriptions.clear()
        return {}

    def close_subscriptions(self) -> None:
        self.hub.subscriptions -= len(self.subscriptions)
        self.subscriptions.clear()
        if self.bus_subscription is not None:
            self.services.bus.unsubscribe(self.bus_subscription)
            self.bus_subscription = None

    async def event_loop(self) -> None:
        """Turns committed blocks into events for this connection's subscriptions."""
        while True:
            subscription = self.bus_subscription
            if subscription is None:
                await asyncio.sleep(OVERFLOW_POLL_S)
                continue
            if subscription.overflowed and subscription.queue.empty():
                raise SlowConsumer("fell behind the committed blocks")
            try:
                async with asyncio.timeout(OVERFLOW_POLL_S):
                    committed = await subscription.queue.get()
            except TimeoutError:
                continue
            if committed is not None and self.subscriptions:
                self.publish(committed)

    def publish(self, committed: CommittedBlock) -> None:
        events = list(build_events(self.services, committed, self._wanted_types()))
        for query, request_id in list(self.subscriptions.values()):
            for event_data, event_map in events:
                if query.is_match(event_map):
                    result = {"query": query.text, "data": event_data, "events": event_map}
                    self.send(jsonrpc.success(request_id, result))

    def _wanted_types(self) -> set[str]:
        wanted: set[str] = set()
        for query, _ in self.subscriptions.values():
            named = query.event_type
            wanted.update(EVENT_TYPES if named is None else (named,))
        return wanted

    # -- incoming --------------------------------------------------------------------------

    async def answer(self, text: str) -> None:
        try:
            request = parse_client_json(text)
        except ClientJsonError as exc:
            self.send(jsonrpc.failure(None, RPCError(jsonrpc.PARSE_ERROR, f"invalid JSON: {exc}")))
            return
        if (
            isinstance(request, dict)
            and request.get("method") in _LOCAL_METHODS
            and "id" in request
        ):
            self.send(self._answer_local(request))
            return
        answer = await jsonrpc.answer_one(self.registry, request, _log_internal, websocket=True)
        try:
            await self.services.sync_acknowledged()  # an accepted tx is on disk before we say so
        except StorageUnavailable as exc:  # not on disk: no ack may leave
            request_id = request.get("id") if isinstance(request, dict) else None
            answer = jsonrpc.failure(request_id, RPCError(jsonrpc.INTERNAL_ERROR, str(exc)))
        if answer is not None:
            self.send(answer)

    def _answer_local(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id, method, params = request["id"], request["method"], request.get("params")
        try:
            if method == "subscribe":
                result = self.subscribe(request_id, params)
            elif method == "unsubscribe":
                result = self.unsubscribe(params)
            else:
                result = self.unsubscribe_all()
        except RPCError as exc:
            return jsonrpc.failure(request_id, exc)
        return jsonrpc.success(request_id, result)


_LOCAL_METHODS = frozenset({"subscribe", "unsubscribe", "unsubscribe_all"})


def _log_internal(exc: BaseException) -> None:
    log.error("websocket handler failed", exc_info=exc)


def _read_query(params: Any) -> Query:
    if isinstance(params, list) and params:
        params = {"query": params[0]}
    if not isinstance(params, dict) or "query" not in params:
        raise RPCError(INVALID_PARAMS, "missing required param 'query'")
    try:
        return parse_query(params["query"])
    except QueryError as exc:
        raise RPCError(INVALID_PARAMS, f"query: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# event shapes


def build_events(
    services: NodeServices, committed: CommittedBlock, wanted: set[str]
) -> list[tuple[dict[str, Any], dict[str, list[str]]]]:
    """(data, events map) of every event a committed block raises, NewBlock first."""
    block, receipts = committed.block, committed.receipts
    out: list[tuple[dict[str, Any], dict[str, list[str]]]] = []
    if "NewBlock" in wanted:
        value = {
            "block": cj.block_json(
                block, _find_set(services, block.height + 1), _find_set(services, block.height - 1)
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
        out.append(_event("NewBlock", value, block.height))
    if "NewBlockHeader" in wanted:
        out.append(
            _event(
                "NewBlockHeader",
                {"header": cj.header_json(block, _find_set(services, block.height + 1))},
                block.height,
            )
        )
    if "Tx" in wanted:
        for index, (raw, receipt) in enumerate(zip(block.txs, receipts, strict=True)):
            data = {
                "type": "tendermint/event/Tx",
                "value": {"TxResult": cj.tx_result_event_json(block.height, index, raw, receipt)},
            }
            out.append((data, compute_tx_events(block.height, sha256(raw), receipt)))
    return out


def _event(
    kind: str, value: dict[str, Any], height: int
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    data = {"type": f"tendermint/event/{kind}", "value": value}
    return data, {"tm.event": [kind], "block.height": [str(height)]}


def _find_set(services: NodeServices, height: int) -> Any:
    if height < 1:
        return None
    try:
        return services.chain.get_validators(height)
    except LookupError:
        return None


# ---------------------------------------------------------------------------------------------
# the route


async def _websocket_route(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    if hub.connections >= CONNECTIONS_MAX:
        raise web.HTTPServiceUnavailable(reason=f"at most {CONNECTIONS_MAX} websocket clients")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MESSAGE_BYTES_MAX)
    await ws.prepare(request)
    hub.connections += 1
    connection = Connection(request.app[SERVICES_KEY], request.app[REGISTRY_KEY], hub, ws)
    try:
        await _serve(connection)
    finally:
        hub.connections -= 1
        connection.close_subscriptions()
    return ws


async def _serve(connection: Connection) -> None:
    ws = connection.ws
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(connection.write_loop())
            tasks.create_task(connection.event_loop())
            tasks.create_task(_read_loop(connection))
    except* SlowConsumer as group:
        reason = str(group.exceptions[0])
        log.info("websocket client cut off: %s", reason)
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_SLOW_CONSUMER, message=f"slow consumer: {reason}".encode())
    except* (_Closed, TimeoutError, ConnectionError):
        pass
    finally:
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()


class _Closed(Exception):
    """The client went away: stop the connection's other tasks."""


async def _read_loop(connection: Connection) -> None:
    async for message in connection.ws:
        if message.type == WSMsgType.TEXT:
            await connection.answer(message.data)
        elif message.type == WSMsgType.BINARY:
            await connection.answer(message.data.decode("utf-8", errors="replace"))
        else:
            break
    raise _Closed


async def _only_over_websocket(**_: Any) -> Any:
    raise RPCError(jsonrpc.METHOD_NOT_FOUND, "subscriptions are only available over /websocket")


def install(app: web.Application, registry: Registry, services: NodeServices) -> None:
    app[HUB_KEY] = Hub()
    app.router.add_get("/websocket", _websocket_route)
    for name in sorted(_LOCAL_METHODS):
        registry.add(Method(name, _only_over_websocket, websocket_only=True))

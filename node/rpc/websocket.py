"""CometBFT-compatible ``/websocket``: JSON-RPC over a websocket plus event subscriptions.

``subscribe`` (``{"query": "tm.event='NewBlock'"}``), ``unsubscribe`` and ``unsubscribe_all``
are answered here; every other method goes to the shared registry, exactly as over HTTP.
Events are sent with the subscribe request's id in CometBFT's shape
``{"query", "data": {"type": "tendermint/event/NewBlock", "value"}, "events"}``; they are built,
encoded and shared by ``node.rpc.ws_fanout`` (once per block, whatever the number of clients).

Everything is bounded: connections and subscriptions per node, subscriptions per connection,
the size of an incoming message and the BYTES queued for a client. A client whose pending
bytes pass the bound is cut off: the socket is closed with code 1008 and a reason ("slow
consumer: ..."), never buffered without limit; one that answers no ping is dropped. Cutting
one client off touches no other client, the event bus or consensus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from node import metrics
from node.disk_space import StorageUnavailable
from node.errors import NodeError
from node.rpc import jsonrpc
from node.rpc.comet.query import Query, QueryError, parse_query
from node.rpc.json_input import ClientJsonError, parse_client_json
from node.rpc.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, Method, Registry, RPCError
from node.rpc.server import REGISTRY_KEY, SERVICES_KEY
from node.rpc.ws_fanout import (
    CLOSE_SLOW_CONSUMER,
    OUTBOX_BYTES_MAX,
    EventFanout,
    EventSubscription,
    FanoutStats,
    Outbox,
    encode_json,
)
from node.services import NodeServices

log = logging.getLogger("depochain.rpc.websocket")

CONNECTIONS_MAX = 100
SUBSCRIPTIONS_PER_CONNECTION_MAX = 5
SUBSCRIPTIONS_MAX = 500
MESSAGE_BYTES_MAX = 1024 * 1024
HEARTBEAT_S = 30.0
"""A client that answers no ping within half of this is dropped (aiohttp's heartbeat)."""
WRITE_TIMEOUT_S = 2 * HEARTBEAT_S
"""Backstop for one stalled write; the byte bound or the heartbeat ends a stuck client first."""
MESSAGE_REASON_BYTES_MAX = 123
"""A close frame's reason is at most 123 bytes (RFC 6455, 5.5)."""
CLOSE_TIMEOUT_S = 30.0
"""How long a cut-off client has to answer our close frame before its socket is aborted."""
__all__ = ["CLOSE_SLOW_CONSUMER", "OUTBOX_BYTES_MAX", "install"]


class SlowConsumer(NodeError):
    """The client fell too far behind its events."""


@dataclass
class Hub:
    """Per-node state shared by the connections, so limits hold across them."""

    fanout: EventFanout
    stats: FanoutStats
    subscriptions: int = 0

    @classmethod
    def create(cls, services: NodeServices) -> Hub:
        stats = FanoutStats()
        hub = cls(EventFanout(services, stats), stats)
        hub.fanout.on_bus_overflow = hub.cut_off_everyone
        return hub

    @property
    def connections(self) -> int:
        return self.stats.connections

    def cut_off_everyone(self) -> None:
        for subscription in list(self.fanout.subscriptions):
            subscription.outbox.cut_off("fell behind the committed blocks")


HUB_KEY: web.AppKey[Hub] = web.AppKey("websocket_hub", Hub)


@dataclass
class Connection:
    services: NodeServices
    registry: Registry
    hub: Hub
    ws: web.WebSocketResponse
    outbox: Outbox
    subscriptions: dict[str, EventSubscription] = field(default_factory=dict)

    # -- outgoing --------------------------------------------------------------------------

    def send(self, message: Any) -> None:
        """Queue an answer; past the byte bound the client is cut off instead."""
        self.outbox.put(b"", encode_json(message))

    async def write_loop(self) -> None:
        while True:
            message = await self.outbox.get()
            try:
                async with asyncio.timeout(WRITE_TIMEOUT_S):
                    await self.ws.send_frame(message, WSMsgType.TEXT)
            except TimeoutError as exc:
                raise SlowConsumer(f"no data taken for {WRITE_TIMEOUT_S:g} s") from exc
            self.hub.stats.messages_sent += 1

    async def watch_cut(self) -> None:
        await self.outbox.cut.wait()
        raise SlowConsumer(self.outbox.cut_reason or "cut off")

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
        subscription = EventSubscription.of(query, request_id, self.outbox)
        self.subscriptions[query.text] = subscription
        self.hub.fanout.add(subscription)
        self.hub.subscriptions += 1
        return {}

    def unsubscribe(self, params: Any) -> dict[str, Any]:
        query = _read_query(params)
        subscription = self.subscriptions.pop(query.text, None)
        if subscription is None:
            raise RPCError(INTERNAL_ERROR, "subscription not found")
        self.hub.fanout.remove(subscription)
        self.hub.subscriptions -= 1
        return {}

    def unsubscribe_all(self) -> dict[str, Any]:
        if not self.subscriptions:
            raise RPCError(INTERNAL_ERROR, "subscription not found")
        self.close_subscriptions()
        return {}

    def close_subscriptions(self) -> None:
        for subscription in self.subscriptions.values():
            self.hub.fanout.remove(subscription)
        self.hub.subscriptions -= len(self.subscriptions)
        self.subscriptions.clear()

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
# the route


async def _websocket_route(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    if hub.connections >= CONNECTIONS_MAX:
        raise web.HTTPServiceUnavailable(reason=f"at most {CONNECTIONS_MAX} websocket clients")
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT_S, max_msg_size=MESSAGE_BYTES_MAX, timeout=CLOSE_TIMEOUT_S
    )
    await ws.prepare(request)
    hub.stats.connections += 1
    outbox = Outbox(hub.stats)
    hub.stats.outboxes.add(outbox)
    services, registry = request.app[SERVICES_KEY], request.app[REGISTRY_KEY]
    connection = Connection(services, registry, hub, ws, outbox)
    try:
        if await _serve(connection) and request.transport is not None:
            request.transport.abort()  # a cut-off client's unread bytes are not kept
    finally:
        hub.stats.connections -= 1
        hub.stats.outboxes.discard(outbox)
        connection.close_subscriptions()
    return ws


async def _serve(connection: Connection) -> bool:
    """Run the connection until it ends; True if the client was cut off as slow."""
    ws = connection.ws
    slow_reason: str | None = None
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(connection.write_loop())
            tasks.create_task(connection.watch_cut())
            tasks.create_task(_read_loop(connection))
    except* SlowConsumer as group:
        slow_reason = str(group.exceptions[0])
    except* (_Closed, TimeoutError, ConnectionError):
        pass
    if slow_reason is not None:
        await _close_slow(connection, slow_reason)
    elif not ws.closed:
        with contextlib.suppress(Exception):
            await ws.close()
    return slow_reason is not None


async def _close_slow(connection: Connection, reason: str) -> None:
    log.info("websocket client cut off: %s", reason)
    connection.close_subscriptions()
    message = f"slow consumer: {reason}".encode()[:MESSAGE_REASON_BYTES_MAX]
    with contextlib.suppress(Exception):
        # drain=False: the client is not reading; the close frame waits behind what the socket
        # already holds, and the client has CLOSE_TIMEOUT_S to reach and answer it.
        async with asyncio.timeout(CLOSE_TIMEOUT_S + WRITE_TIMEOUT_S):
            await connection.ws.close(code=CLOSE_SLOW_CONSUMER, message=message, drain=False)


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
    """Serve ``/websocket``; the fan-out task starts with the first subscription and stops
    with the app; its counters join the node's ``/metrics``."""
    hub = Hub.create(services)
    app[HUB_KEY] = hub
    app.router.add_get("/websocket", _websocket_route)
    for name in sorted(_LOCAL_METHODS):
        registry.add(Method(name, _only_over_websocket, websocket_only=True))

    async def stop_fanout(_: web.Application) -> None:
        await hub.fanout.stop()

    app.on_cleanup.append(stop_fanout)
    render_node_metrics = services.render_metrics
    services.render_metrics = lambda: render_node_metrics() + metrics.render(hub.stats.collect())

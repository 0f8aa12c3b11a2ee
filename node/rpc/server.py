"""The node's HTTP server: CometBFT-style JSON-RPC on ``/`` and ``/<method>``, and the domain
REST API under ``/api/``.

Every request body is bounded (``[rpc].body_bytes_max``); every failure is answered with a
typed JSON error. Before a handler runs, ``node.rpc.guard`` refuses a foreign ``Host`` and a
POST that is not JSON; heavy reads run in ``node.rpc.reads``' thread pool, within a per-request
cost budget and response byte cap, so no request stalls the loop consensus shares.

An exception escaping a handler is our bug: it is logged with a traceback and answered as a
JSON-RPC internal error (HTTP 200 on JSON-RPC routes, as CometBFT does) or a JSON 500 on REST,
never an HTML page or a dropped connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from node.disk_space import StorageUnavailable
from node.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from node.rpc import jsonrpc
from node.rpc.guard import make_guard_middleware
from node.rpc.jsonrpc import Registry
from node.rpc.reads import (
    READS_KEY,
    CostLimits,
    ReadPool,
    RequestBudget,
    ResponseTooLarge,
    budget_scope,
    client_scope,
)
from node.rpc.rest.submit import RETRY_AFTER_S
from node.services import NodeServices

log = logging.getLogger("depochain.rpc")

SERVICES_KEY: web.AppKey[NodeServices] = web.AppKey("services", NodeServices)
REGISTRY_KEY: web.AppKey[Registry] = web.AppKey("registry", Registry)

RouteInstaller = Callable[[web.Application, Registry, NodeServices], None]

UNACKNOWLEDGING_PATHS = frozenset({"/health"})
"""GET routes whose answer says nothing about any transaction, so they need not wait for the
mempool journal's fdatasync: under a steady stream of transactions one is nearly always in
flight, and ``/health`` (what operators and load balancers poll) would answer no faster than
the disk syncs."""


def _log_internal(exc: BaseException) -> None:
    log.error("rpc handler failed", exc_info=exc)


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(value, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


@web.middleware
async def _client_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Names the request's client (its remote address) for the read pool's fair queue."""
    with client_scope(request.remote or ""):
        return await handler(request)


@web.middleware
async def _errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SERVICES_KEY].config.rpc.body_bytes_max
        return json_response(
            {"error": {"code": "too_large", "message": f"request body exceeds {limit} bytes"}},
            413,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_response(
            {"error": {"code": _http_code_name(exc.status), "message": exc.reason}}, exc.status
        )
        if "Allow" in exc.headers:  # a 405 says which methods the route takes (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        _log_internal(exc)
        return json_response(
            {"error": {"code": "internal", "message": "internal error; see node logs"}}, 500
        )


@web.middleware
async def _durable_acks_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """No answer leaves while a transaction the node admitted is not yet on disk, so a client
    told "accepted" never loses the transaction to a crash of this node."""
    response = await handler(request)
    if request.method == "GET" and request.path in UNACKNOWLEDGING_PATHS:
        return response
    try:
        await request.app[SERVICES_KEY].sync_acknowledged()
    except StorageUnavailable as exc:  # the disk refused the fdatasync: nothing is acknowledged
        error = {"error": {"code": "storage_unavailable", "message": str(exc)}}
        refused = json_response(error, 503)
        refused.headers["Retry-After"] = str(RETRY_AFTER_S)  # as every other 503 of the API
        return refused
    return response


def _http_code_name(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 400: "malformed"}.get(
        status, f"http_{status}"
    )


def _make_cors_middleware(origins: tuple[str, ...]) -> Any:
    @web.middleware
    async def cors(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and ("*" in origins or origin in origins)
        if request.method == "OPTIONS" and allowed:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if allowed and origin is not None:
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Idempotency-Key"
        return response

    return cors


def _make_encoder(pool: ReadPool) -> jsonrpc.Encoder:
    """JSON-encodes an answer; a heavy call's (a block, a search) in the read pool, since one
    large ``json.dumps`` holds the GIL and the loop for its whole run."""

    async def encode(value: jsonrpc.JsonValue, heavy: bool) -> bytes:
        if heavy:
            return await pool.run(jsonrpc.dumps, value, admit=False)
        return jsonrpc.dumps(value)

    return encode


def _json_bytes_response(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


async def _post_jsonrpc(request: web.Request) -> web.Response:
    body = await request.read()
    registry = request.app[REGISTRY_KEY]
    encode = _make_encoder(request.app[READS_KEY])
    with budget_scope(RequestBudget(registry.limits)):
        answer = await jsonrpc.answer_body_bytes(registry, body, _log_internal, encode)
    return _json_bytes_response(answer)


async def _get_uri_route(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY_KEY]
    name = request.match_info["method"]
    if name not in registry.methods:
        raise web.HTTPNotFound(reason=f"unknown route /{name}")
    params = jsonrpc.uri_params(request.query)
    with budget_scope(RequestBudget(registry.limits)) as budget:
        try:
            result = await jsonrpc.call(registry, name, params)
        except jsonrpc.RPCError as exc:
            return json_response(jsonrpc.failure(-1, exc))
        except Exception as exc:
            _log_internal(exc)
            error = jsonrpc.RPCError(jsonrpc.INTERNAL_ERROR, "internal error; see node logs")
            return json_response(jsonrpc.failure(-1, error))
        heavy = budget.blocks + budget.rows > 0
        data = await _make_encoder(request.app[READS_KEY])(jsonrpc.success(-1, result), heavy)
        try:
            budget.charge_response(len(data))
        except ResponseTooLarge as exc:
            error = jsonrpc.RPCError(jsonrpc.RESPONSE_TOO_LARGE, str(exc))
            return json_response(jsonrpc.failure(-1, error))
    return _json_bytes_response(data)


async def _get_metrics(request: web.Request) -> web.Response:
    text = request.app[SERVICES_KEY].render_metrics()
    return web.Response(text=text, headers={"Content-Type": METRICS_CONTENT_TYPE})


async def _get_route_list(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY_KEY]
    lines = ["Available endpoints:"]
    for method in sorted(registry.methods.values(), key=lambda m: m.name):
        if method.websocket_only:
            continue
        args = "&".join(f"{p.name}=_" for p in method.params)
        lines.append(f"/{method.name}" + (f"?{args}" if args else ""))
    return web.Response(text="\n".join(lines) + "\n")


def build_app(services: NodeServices, installers: list[RouteInstaller]) -> web.Application:
    rpc = services.config.rpc
    middlewares = [
        _client_middleware,
        make_guard_middleware(rpc),
        _errors_middleware,
        _durable_acks_middleware,
    ]
    if rpc.cors_origins:  # outermost: a preflight is answered before the guard asks for JSON
        middlewares.insert(0, _make_cors_middleware(rpc.cors_origins))
    app = web.Application(client_max_size=rpc.body_bytes_max, middlewares=middlewares)
    limits = CostLimits(rpc.request_blocks_max, rpc.request_rows_max, rpc.response_bytes_max)
    registry = Registry(limits=limits)
    pool = ReadPool(
        rpc.get_read_threads(),
        rpc.reads_queued_max,
        rpc.reads_client_queued_max,
        rpc.reads_cpu_percent / 100,
    )
    app[SERVICES_KEY] = services
    app[REGISTRY_KEY] = registry
    app[READS_KEY] = pool

    async def close_pool(_: web.Application) -> None:
        pool.close()

    app.on_cleanup.append(close_pool)
    for install in installers:
        install(app, registry, services)
    app.router.add_get("/metrics", _get_metrics)
    app.router.add_post("/", _post_jsonrpc)
    app.router.add_get("/", _get_route_list)
    app.router.add_get("/{method:[a-z_]+}", _get_uri_route)
    return app


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner

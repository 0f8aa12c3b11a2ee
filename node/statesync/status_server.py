"""The node's RPC port while it joins by state sync: ``status`` shows how the restore is going.

The restore runs before the node proper exists (there is no chain to read yet), and opening
the installed state takes a while too; without this server an operator would see a closed port
for minutes. It listens on ``[rpc]``'s address from the start of the restore until the node
proper is about to bind it, in a thread of its own (the restore and the node's opening keep the
main thread busy), and answers:

- JSON-RPC ``status`` (POST ``/`` and GET ``/status``): CometBFT's shape, height 0,
  ``catching_up: true``, and ``sync_info.state_sync`` with the phase, the snapshot's height,
  chunks fetched of total and accounts restored; ``health``: ``{}`` (the process is up, as
  CometBFT answers while it state-syncs);
- REST ``GET /api/v1/status``: the same progress in the REST status's shape;
- everything else: 503 with ``Retry-After`` and a typed ``syncing`` error (a JSON-RPC error
  object on JSON-RPC routes), never a 500: nothing can be read before the state is installed.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any

from aiohttp import web

from node.explorer.route import EXPLORER_PATH
from node.rpc.comet import shapes as cj
from node.rpc.guard import make_guard_middleware
from node.rpc.jsonrpc import SYNCING, RPCError, failure, success
from node.rpc.rest.routes import API_PREFIX
from node.rpc.server import start_server
from node.statesync.restore import Progress

if TYPE_CHECKING:
    from node.app import NodeHome

RETRY_AFTER_S = 5
START_TIMEOUT_S = 30.0
SYNCING_MESSAGE = "the node is joining by state sync; only status and health answer until then"
NOT_METHODS = (EXPLORER_PATH, "/websocket", "/metrics")


def progress_json(progress: Progress) -> dict[str, Any]:
    """The restore's progress; integers as decimal strings, as CometBFT writes them."""
    return {
        "phase": progress.phase.value,
        "target_height": str(progress.height),
        "chunks_fetched": str(progress.chunks_done),
        "chunks_total": str(progress.chunks_total),
        "accounts_restored": str(progress.accounts_restored),
        "peers_refused": str(len(progress.rejected_peers)),
    }


class SyncingStatus:
    """The answers; apart from the server so they can be read without a socket."""

    def __init__(self, home: NodeHome, progress: Progress) -> None:
        self.home = home
        self.progress = progress

    def comet_status(self) -> dict[str, Any]:
        config, genesis = self.home.config, self.home.genesis
        genesis_time = cj.rfc3339(genesis.ledger.genesis_time_ms)
        public_key = self.home.node_key.public_key
        return {
            "node_info": cj.node_info_json(config, genesis.chain_id, public_key),
            "sync_info": {
                "latest_block_hash": "",
                "latest_app_hash": "",
                "latest_block_height": "0",
                "latest_block_time": genesis_time,
                "earliest_block_hash": "",
                "earliest_app_hash": "",
                "earliest_block_height": "0",
                "earliest_block_time": genesis_time,
                "catching_up": True,
                "state_sync": progress_json(self.progress),
            },
            "validator_info": {
                "address": cj.hex_upper(cj.address(public_key)),
                "pub_key": cj.pub_key_json(public_key),
                "voting_power": "0",
            },
        }

    def rest_status(self) -> dict[str, Any]:
        progress = self.progress
        return {
            "chain_id": self.home.genesis.chain_id,
            "moniker": self.home.config.node.moniker,
            "height": 0,
            "latest_block_hash": None,
            "latest_block_time_ms": None,
            "app_hash": None,
            "catching_up": True,
            "mempool_size": 0,
            "state_sync": {
                "phase": progress.phase.value,
                "target_height": progress.height,
                "chunks_fetched": progress.chunks_done,
                "chunks_total": progress.chunks_total,
                "accounts_restored": progress.accounts_restored,
            },
        }

    def answer_call(self, call: Any) -> tuple[dict[str, Any], bool]:
        """One JSON-RPC call's answer, and whether it was refused as syncing."""
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return failure(None, RPCError(-32600, "expected jsonrpc 2.0 and a method")), False
        request_id = call.get("id")
        request_id = request_id if isinstance(request_id, str | int) else None
        method = call["method"]
        if method == "status":
            return success(request_id, self.comet_status()), False
        if method == "health":
            return success(request_id, {}), False
        return failure(request_id, RPCError(SYNCING, SYNCING_MESSAGE)), True


def _json(value: Any, status: int = 200) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    body = json.dumps(value, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def build_syncing_app(answers: SyncingStatus) -> web.Application:
    rpc = answers.home.config.rpc
    app = web.Application(
        client_max_size=rpc.body_bytes_max, middlewares=[make_guard_middleware(rpc)]
    )

    async def post_jsonrpc(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            return _json(failure(None, RPCError(-32700, f"invalid JSON: {exc}")))
        calls = body if isinstance(body, list) else [body]
        answered = [answers.answer_call(call) for call in calls]
        refused = any(was_refused for _, was_refused in answered)
        results = [result for result, _ in answered]
        return _json(results if isinstance(body, list) else results[0], 503 if refused else 200)

    async def get_method(request: web.Request) -> web.Response:
        result, refused = answers.answer_call({"method": request.match_info["method"], "id": -1})
        return _json(result, 503 if refused else 200)

    async def get_rest_status(_: web.Request) -> web.Response:
        return _json(answers.rest_status())

    async def refuse(_: web.Request) -> web.Response:
        return _json({"error": {"code": "syncing", "message": SYNCING_MESSAGE}}, 503)

    app.router.add_post("/", post_jsonrpc)
    app.router.add_get(API_PREFIX + "/status", get_rest_status)
    for path in NOT_METHODS:  # plain routes of the node proper, refused in the REST shape
        app.router.add_get(path, refuse)
    app.router.add_get("/{method:[a-z_]+}", get_method)
    app.router.add_route("*", "/{tail:.*}", refuse)
    return app


class SyncingRpc:
    """Serves :func:`build_syncing_app` on ``[rpc]``'s address from a thread of its own."""

    def __init__(self, home: NodeHome, progress: Progress) -> None:
        self.progress = progress
        self._app = build_syncing_app(SyncingStatus(home, progress))
        self._rpc = home.config.rpc
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        """Listen; raises what binding raised (a taken port: the node could not start either)."""
        self._thread = threading.Thread(target=self._serve, name="syncing-rpc", daemon=True)
        self._thread.start()
        self._ready.wait(START_TIMEOUT_S)
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        """Stop listening (the port is free once this returns)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        thread.join()

    def _serve(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # handed to start(), which raises it in the main thread
            self._error = exc
            self._ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = await start_server(self._app, self._rpc.listen_host, self._rpc.listen_port)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

"""``POST /api/v1/txs/precheck``: would this signed transaction pass? (ERC-3643's
``canTransfer``, for every transaction type.)

The body is one signed tx as for ``POST /api/v1/txs`` (JSON ``{"tx": base64}`` or
``application/msgpack`` raw bytes). The answer is the code the tx would get as the next block's
first transaction at the tip's block time — ``{"would_pass", "code", "code_name", "log",
"height", "time_ms"}`` — computed by the ledger's own rules
(``consensus.ledger.queries.precheck_tx``) on the committed state, which it never changes. Nothing
is submitted; a later block, another block time or other pending txs may answer otherwise.
"""

from __future__ import annotations

from aiohttp import web

from consensus.ledger import Code
from consensus.ledger.queries import precheck_tx
from node.rpc.rest.submit import MSGPACK, ApiProblem, _read_json_body
from node.services import NodeServices


class PrecheckRoutes:
    def __init__(self, services: NodeServices) -> None:
        self.s = services

    async def post_precheck(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.content_type == MSGPACK:
            raw = body
        elif request.content_type in ("application/json", "application/octet-stream", ""):
            raws, is_batch = _read_json_body(body)
            if is_batch:
                raise ApiProblem(400, "malformed", 'one tx per pre-check: {"tx": base64}')
            raw = raws[0]
        else:
            raise ApiProblem(
                415, "unsupported_media_type", "send application/json or application/msgpack"
            )
        chain = self.s.chain
        state, time_ms = chain.state, chain.tip_time_ms
        code, log = precheck_tx(state, raw, time_ms)
        return web.json_response(
            {
                "would_pass": code is Code.OK,
                "code": int(code),
                "code_name": code.name,
                "log": log,
                "height": state.height + 1,
                "time_ms": time_ms,
            }
        )

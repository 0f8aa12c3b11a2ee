"""The OpenAPI 3 document of the REST API (``GET /api/openapi.json``) and a static docs page
(``GET /api/docs``; no CDN, the page renders the document itself).

The document is data written next to the code it describes (``node.rpc.rest.routes``,
``node.rpc.rest.submit``, ``node.rpc.rest.shapes``); tests run schemathesis against a real cluster
to prove the two agree (``tests/integration/test_schemathesis_api.py``).
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from node.rpc.rest.schemas import (
    HEIGHT_CURSOR,
    IDEMPOTENCY_KEY,
    INSTRUMENT_ID,
    LIST_CURSOR,
    LOCAL_NAME,
    PARTICIPANT_ID,
    SUBMITTER,
    Json,
    page_of,
    ref,
    schemas,
)

API_VERSION = "1.0.0"


# ---------------------------------------------------------------------------------------------
# paths

_REASONS = {
    200: "OK",
    202: "Accepted: the tx is pending in this node's mempool",
    400: "Malformed request: a parameter or body outside this document's schema",
    404: "Not found",
    409: "Conflict: the (submitter, idempotency key) is used by another tx",
    413: "Too large (body, tx or batch)",
    415: "Unsupported media type",
    422: "Well-formed, but the tx was refused: bytes that are not a signed tx (MALFORMED) or "
    "a ledger rule (details carry the receipt code and code_name)",
    429: "Mempool full, or the submitter's share of it: try again after Retry-After seconds",
    503: "Storage unavailable (disk nearly full): try again after Retry-After seconds",
}


def _error(status: int) -> Json:
    response: Json = {
        "description": _REASONS[status],
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}}
        }
    return response


def _ok(schema: Json, status: int = 200) -> Json:
    return {"description": _REASONS[status], "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: Json, description: str, required: bool = False) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: Json, description: str) -> Json:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size (default 50)")
CURSOR = _query("cursor", LIST_CURSOR, "next_cursor of the previous page (empty: first page)")
HEIGHT_CURSOR_PARAM = _query(
    "cursor", HEIGHT_CURSOR, "next_cursor of the previous page: the height to continue below"
)
PROVE = _query("prove", {"type": "boolean"}, "include the finality proof")
TX_HASH = _path(
    "tx_hash", {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$"}, "sha256 of the raw tx"
)


def _get(
    op_id: str, summary: str, schema: Json, params: list[Json], errors: tuple[int, ...]
) -> Json:
    responses = {"200": _ok(schema), **{str(code): _error(code) for code in errors}}
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "parameters": params,
            "responses": responses,
        }
    }


def _paths() -> Json:
    paged = [LIMIT, CURSOR]
    return {
        "/api/v1/status": _get(
            "getStatus", "Chain id, height and app hash of this node", ref("Status"), [], ()
        ),
        "/api/v1/participants": _get(
            "listParticipants",
            "Participants (banks, settlement agent...)",
            page_of("Participant"),
            paged,
            (400,),
        ),
        "/api/v1/participants/{participant_id}": _get(
            "getParticipant",
            "One participant",
            ref("Participant"),
            [_path("participant_id", PARTICIPANT_ID, "e.g. BANKA")],
            (400, 404),
        ),
        "/api/v1/instruments": _get(
            "listInstruments", "Instruments with their supply", page_of("Instrument"), paged, (400,)
        ),
        "/api/v1/instruments/{instrument_id}": _get(
            "getInstrument",
            "One instrument with its supply (minted - redeemed)",
            ref("Instrument"),
            [_path("instrument_id", INSTRUMENT_ID, "<ISSUER>:<CCY>, e.g. BANKA:USD")],
            (400, 404),
        ),
        "/api/v1/accounts": _get(
            "listAccounts", "Accounts with their balances", page_of("Account"), paged, (400,)
        ),
        "/api/v1/accounts/{bank}/{name}": _get(
            "getAccount",
            "One account: balances (total, frozen, held, free) and nonce",
            ref("Account"),
            [
                _path("bank", PARTICIPANT_ID, "the bank, e.g. BANKA"),
                _path("name", LOCAL_NAME, "the local name, e.g. alice"),
            ],
            (400, 404),
        ),
        "/api/v1/nonce": _get(
            "getNonce",
            "The submitter's last committed nonce and the next free one",
            ref("Nonce"),
            [_query("submitter", SUBMITTER, "participant or account id", True)],
            (400,),
        ),
        "/api/v1/txs/by-key": _get(
            "getTxByKey",
            "A transaction by (submitter, idempotency key)",
            ref("Tx"),
            [
                _query("submitter", SUBMITTER, "participant or account id", True),
                _query("key", IDEMPOTENCY_KEY, "the idempotency key", True),
                PROVE,
            ],
            (400, 404),
        ),
        "/api/v1/txs/{tx_hash}": _get(
            "getTx",
            "A transaction: status, receipt, events, height (and proof)",
            ref("Tx"),
            [TX_HASH, PROVE],
            (400, 404),
        ),
        "/api/v1/txs/{tx_hash}/proof": _get(
            "getTxProof",
            "Finality proof of a committed transaction",
            ref("FinalityProof"),
            [TX_HASH],
            (400, 404),
        ),
        "/api/v1/txs": {"post": _submit_operation()},
        "/api/v1/blocks": _get(
            "listBlocks",
            "Blocks, newest first",
            page_of("BlockSummary", HEIGHT_CURSOR),
            [LIMIT, HEIGHT_CURSOR_PARAM],
            (400,),
        ),
        "/api/v1/blocks/{height}": _get(
            "getBlock",
            "One block with its header, tx hashes and commit certificate",
            ref("Block"),
            [
                _path(
                    "height",
                    {"type": "string", "pattern": "^(latest|[0-9]+)$"},
                    "a height or latest",
                )
            ],
            (400, 404),
        ),
        "/api/v1/validators": _get(
            "getValidators",
            "The validator set of a height (default: the latest)",
            ref("Validators"),
            [_query("height", {"type": "integer", "minimum": 1}, "height (<= latest + 2)")],
            (400, 404),
        ),
    }


def _submit_operation() -> Json:
    responses = {
        "200": _ok({"oneOf": [ref("SubmitResult"), ref("BatchResult")]}, 200),
        "202": _ok(ref("SubmitResult"), 202),
        **{str(code): _error(code) for code in (400, 409, 413, 415, 422, 429, 503)},
    }
    responses["200"]["description"] = (
        "Already known (same signed tx: pending or committed), or a batch with one result each"
    )
    return {
        "operationId": "submitTxs",
        "summary": "Submit one signed transaction or a batch (idempotent)",
        "requestBody": {
            "required": True,
            "description": "JSON: one base64 tx or a batch. msgpack: a canonical msgpack list of "
            "byte strings is a batch; any other body is the raw bytes of one signed tx.",
            "content": {
                "application/json": {"schema": ref("SubmitJson")},
                "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "responses": responses,
    }


def build_openapi() -> Json:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DepoChain REST API",
            "version": API_VERSION,
            "description": "Domain API of a DepoChain node: deposit-token ledger queries, "
            "transaction submission and finality proofs. Errors: "
            '{"error": {"code", "message", "details"}}.',
        },
        "paths": _paths(),
        "components": {"schemas": schemas()},
    }


def install_docs(app: web.Application) -> None:
    document = build_openapi()
    page = resources.files("node.rpc.rest").joinpath("docs.html").read_text(encoding="utf-8")

    async def get_openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    async def get_docs(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app.router.add_get("/api/openapi.json", get_openapi)
    app.router.add_get("/api/docs", get_docs)

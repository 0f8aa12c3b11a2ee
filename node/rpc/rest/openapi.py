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
    ERROR_CODES_BY_STATUS,
    HEIGHT_CURSOR,
    HEIGHT_MAX,
    IDEMPOTENCY_KEY,
    INSTRUMENT_ID,
    LIST_CURSOR,
    LOCAL_NAME,
    PARTICIPANT_ID,
    SUBMITTER,
    Json,
    error_of,
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
    403: "The Host header names a host this node does not serve ([rpc].hosts_allowed)",
    404: "Not found",
    409: "Conflict: the (submitter, idempotency key) is used by another tx",
    413: "Too large (body, tx or batch)",
    415: "Unsupported media type: a POST must be application/json or application/msgpack",
    422: "Well-formed, but refused: the tx (rejected: bytes that are not a signed tx, or a "
    "ledger or admission rule; details carry the code and code_name), or the request's cost "
    "(limit_exceeded: more blocks or records than [rpc].request_blocks_max / request_rows_max; "
    "response_too_large: more than [rpc].response_bytes_max)",
    429: "Mempool full, or the submitter's share of it: try again after Retry-After seconds",
    503: "Busy (too many heavy reads queued) or storage unavailable (disk nearly full, or a "
    "write failed): try again after Retry-After seconds",
}
_ALWAYS: dict[int, list[str]] = {403: ["host_not_allowed"], 503: ["storage_unavailable"]}
"""Every route: the guard's Host check, and the durable acknowledgement after any answer."""
_READ = {**_ALWAYS, 422: ["limit_exceeded", "response_too_large"]}
"""A read run in the read pool (node.rpc.rest.offload), within the request's cost budget."""
_READ[503] = ["busy", "storage_unavailable"]


def _error(status: int, codes: list[str]) -> Json:
    response: Json = {
        "description": _REASONS[status],
        "content": {"application/json": {"schema": error_of(status, codes)}},
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}}
        }
    return response


def _errors(kind: dict[int, list[str]], statuses: tuple[int, ...]) -> Json:
    """The error responses: ``kind``'s (with their codes) and ``statuses`` (all their codes)."""
    table = {status: ERROR_CODES_BY_STATUS[status] for status in statuses} | kind
    return {str(status): _error(status, codes) for status, codes in sorted(table.items())}


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
PROVE_STATE = _query(
    "prove", {"type": "boolean"}, "answer the record's state proof instead (AccountProof...)"
)
PROOF_HEIGHT = _query(
    "height",
    {"type": "integer", "minimum": 0, "maximum": HEIGHT_MAX},
    "the state after block H to prove (default: the latest height - 1; used with prove=true "
    "and by the balances pages; a height not kept or not certified yet is a 404)",
)
TX_HASH = _path(
    "tx_hash", {"type": "string", "pattern": "^(0[xX])?[0-9a-fA-F]{64}$"}, "sha256 of the raw tx"
)
INSTRUMENT = _path("instrument_id", INSTRUMENT_ID, "<ISSUER>:<CCY>, e.g. BANKA:USD")


def _get(
    op_id: str,
    summary: str,
    schema: Json,
    params: list[Json],
    errors: tuple[int, ...],
    kind: dict[int, list[str]] = _READ,
) -> Json:
    responses = {"200": _ok(schema), **_errors(kind, errors)}
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
            "One instrument with its supply (minted - redeemed); with prove=true, its state proof",
            {"oneOf": [ref("Instrument"), ref("InstrumentProof")]},
            [INSTRUMENT, PROVE_STATE, PROOF_HEIGHT],
            (400, 404),
        ),
        "/api/v1/instruments/{instrument_id}/balances": _get(
            "listInstrumentBalances",
            "One page of the instrument's balances with a range proof of its slice (the proof "
            "of liabilities)",
            ref("BalancePage"),
            [
                INSTRUMENT,
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
                CURSOR,
                PROOF_HEIGHT,
            ],
            (400, 404),
        ),
        "/api/v1/accounts": _get(
            "listAccounts", "Accounts with their balances", page_of("Account"), paged, (400,)
        ),
        "/api/v1/accounts/{bank}/{name}": _get(
            "getAccount",
            "One account: balances (total, frozen, held, free) and nonce; with prove=true, the "
            "account, its nonce and every balance (or its absence) with their state proofs",
            {"oneOf": [ref("Account"), ref("AccountProof")]},
            [
                _path("bank", PARTICIPANT_ID, "the bank, e.g. BANKA"),
                _path("name", LOCAL_NAME, "the local name, e.g. alice"),
                PROVE_STATE,
                PROOF_HEIGHT,
            ],
            (400, 404),
        ),
        "/api/v1/nonce": _get(
            "getNonce",
            "The submitter's last committed nonce and the next free one",
            ref("Nonce"),
            [_query("submitter", SUBMITTER, "participant or account id", True)],
            (400,),
            _ALWAYS,  # answered on the loop: it reads the mempool's live nonce sets
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
            (404,),
        ),
        "/api/v1/txs": {"post": _submit_operation()},
        "/api/v1/txs/precheck": {"post": _precheck_operation()},
        "/api/v1/blocks": _get(
            "listBlocks",
            "Blocks, newest first",
            page_of("BlockSummary", HEIGHT_CURSOR),
            [LIMIT, HEIGHT_CURSOR_PARAM],
            (400, 404),
        ),
        "/api/v1/blocks/{height}": _get(
            "getBlock",
            "One block with its header, tx hashes and commit certificate",
            ref("Block"),
            [
                _path(
                    "height",
                    {"type": "string", "pattern": "^(latest|0*[1-9][0-9]{0,17})$"},
                    "a height or latest",
                )
            ],
            (400, 404),
        ),
        "/api/v1/validators": _get(
            "getValidators",
            "The validator set of a height (default: the latest)",
            ref("Validators"),
            [
                _query(
                    "height",
                    {"type": "integer", "minimum": 1, "maximum": HEIGHT_MAX},
                    "height (<= latest + 2)",
                )
            ],
            (400, 404),
        ),
        "/api/openapi.json": _get(
            "getOpenApi", "This document", {"type": "object"}, [], (), _ALWAYS
        ),
        "/api/docs": {"get": _docs_operation()},
    }


_SIGNED_TX_BODY = "JSON: one base64 tx. msgpack: the raw bytes of one signed tx."


def _tx_body(description: str, json_schema: Json) -> Json:
    return {
        "required": True,
        "description": description,
        "content": {
            "application/json": {"schema": json_schema},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
        },
    }


def _submit_operation() -> Json:
    responses = {
        "200": _ok({"oneOf": [ref("SubmitResult"), ref("BatchResult")]}, 200),
        "202": _ok(ref("SubmitResult"), 202),
        **_errors({**_ALWAYS, 422: ["rejected"]}, (400, 409, 413, 415, 429)),
    }
    responses["200"]["description"] = (
        "Already known (same signed tx: pending or committed), or a batch with one result each"
    )
    return {
        "operationId": "submitTxs",
        "summary": "Submit one signed transaction or a batch (idempotent)",
        "requestBody": _tx_body(
            "JSON: one base64 tx or a batch. msgpack: a canonical msgpack list of byte strings "
            "is a batch; any other body is the raw bytes of one signed tx.",
            ref("SubmitJson"),
        ),
        "responses": responses,
    }


def _precheck_operation() -> Json:
    return {
        "operationId": "precheckTx",
        "summary": "Would this signed tx pass as the next block's first tx? (nothing is "
        "submitted; bytes that are not a signed tx answer code MALFORMED)",
        "requestBody": _tx_body(_SIGNED_TX_BODY, ref("SubmitOneJson")),
        "responses": {
            "200": _ok(ref("PrecheckResult")),
            **_errors(_ALWAYS, (400, 413, 415)),
        },
    }


def _docs_operation() -> Json:
    return {
        "operationId": "getDocs",
        "summary": "A static page that renders this document",
        "parameters": [],
        "responses": {
            "200": {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}},
            **_errors(_ALWAYS, ()),
        },
    }


def build_openapi() -> Json:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DepoChain REST API",
            "version": API_VERSION,
            "description": "Domain API of a DepoChain node: deposit-token ledger queries, "
            "transaction submission and finality proofs. Errors: "
            '{"error": {"code", "message", "details"}} with a typed code per HTTP status.',
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

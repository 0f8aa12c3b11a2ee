"""The OpenAPI 3 document of the REST API (``GET /api/openapi.json``) and a static docs page
(``GET /api/docs``; no CDN, the page renders the document itself).

The document is data written next to the code it describes (``node.rpc.api``,
``node.rpc.api_submit``, ``node.rpc.api_json``); tests run schemathesis against a real cluster
to prove the two agree (``tests/integration/test_schemathesis_api.py``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from aiohttp import web

from consensus.ledger import Code
from node.rpc.api_submit import BATCH_TXS_MAX

Json = dict[str, Any]
API_VERSION = "1.0.0"
HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX_KEY = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
B64 = {"type": "string", "format": "byte"}
INT = {"type": "integer", "minimum": 0}
NULLABLE_INT = {"type": "integer", "minimum": 0, "nullable": True}
ERROR_CODES = [
    "malformed",
    "not_found",
    "method_not_allowed",
    "conflict",
    "too_large",
    "unsupported_media_type",
    "rejected",
    "mempool_full",
    "internal",
]
_ID_DOC = {
    "participant": "^[A-Z][A-Z0-9_]{0,31}$",
    "instrument": "^[A-Z][A-Z0-9_]{0,31}:[A-Z]{3}$",
    "local": "^[A-Za-z0-9_.\\-]{1,48}$",
}


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: Json, required: list[str] | None = None) -> Json:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def nullable(schema: Json) -> Json:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def page_of(name: str) -> Json:
    return obj(
        {
            "items": {"type": "array", "items": ref(name)},
            "next_cursor": nullable({"type": "string"}),
        }
    )


def _schemas() -> Json:
    receipt = obj(
        {
            "code": INT,
            "code_name": {"type": "string", "enum": [c.name for c in Code]},
            "log": {"type": "string"},
            "events": {"type": "array", "items": ref("Event")},
        }
    )
    rejection = obj({"code": INT, "code_name": {"type": "string"}, "log": {"type": "string"}})
    return {
        "ErrorBody": obj(
            {
                "code": {"type": "string", "enum": ERROR_CODES},
                "message": {"type": "string"},
                "details": {"nullable": True},
            },
            ["code", "message"],
        ),
        "Error": obj({"error": ref("ErrorBody")}),
        "Status": obj(
            {
                "chain_id": {"type": "string"},
                "moniker": {"type": "string"},
                "height": INT,
                "latest_block_hash": nullable(HEX32),
                "latest_block_time_ms": NULLABLE_INT,
                "app_hash": HEX32,
                "catching_up": {"type": "boolean"},
                "mempool_size": INT,
            }
        ),
        "Participant": obj(
            {
                "participant_id": {"type": "string"},
                "name": {"type": "string"},
                "roles": {"type": "array", "items": {"type": "string"}},
                "status": {"type": "string"},
                "keys": {"type": "array", "items": HEX_KEY},
                "threshold": INT,
                "validator_key": nullable(HEX_KEY),
                "validator_power": INT,
                "lei": {"type": "string"},
                "bic": {"type": "string"},
            }
        ),
        "Instrument": obj(
            {
                "instrument_id": {"type": "string"},
                "kind": {"type": "string", "enum": ["deposit_token", "settlement_asset"]},
                "issuer": {"type": "string"},
                "currency": {"type": "string"},
                "decimals": INT,
                "settlement_asset": nullable({"type": "string"}),
                "minted": INT,
                "redeemed": INT,
                "supply": INT,
            }
        ),
        "Balance": obj(
            {
                "instrument_id": {"type": "string"},
                "total": INT,
                "frozen": INT,
                "held": INT,
                "free": INT,
            }
        ),
        "Account": obj(
            {
                "account_id": {"type": "string"},
                "bank": {"type": "string"},
                "status": {"type": "string", "enum": ["active", "closed"]},
                "keys": {"type": "array", "items": HEX_KEY},
                "threshold": INT,
                "kyc_ref_hash": HEX32,
                "kyc_expiry_ms": INT,
                "frozen": {"type": "boolean"},
                "nonce": INT,
                "balances": {"type": "array", "items": ref("Balance")},
            }
        ),
        "Nonce": obj(
            {
                "submitter": {"type": "string"},
                "nonce": INT,
                "pending_nonce_max": NULLABLE_INT,
                "next_nonce": {"type": "integer", "minimum": 1},
            }
        ),
        "Event": {
            "type": "object",
            "properties": {"type": {"type": "string"}},
            "required": ["type"],
            "additionalProperties": True,
        },
        "Receipt": receipt,
        "Rejection": rejection,
        "DecodedTx": obj(
            {
                "chain_id": {"type": "string"},
                "type": {"type": "string"},
                "submitter": {"type": "string"},
                "nonce": {"type": "integer", "minimum": 1},
                "idempotency_key": {"type": "string"},
                "valid_until": obj(
                    {"kind": {"type": "string", "enum": ["height", "time_ms"]}, "value": INT}
                ),
                "memo": {"type": "string"},
                "body": {"type": "object", "additionalProperties": True},
                "signers": {"type": "array", "items": HEX_KEY},
            }
        ),
        "Header": obj(
            {
                "chain_id": {"type": "string"},
                "height": {"type": "integer", "minimum": 1},
                "time_ms": INT,
                "proposer": HEX_KEY,
                "parent_hash": HEX32,
                "txs_root": HEX32,
                "app_hash": HEX32,
                "validators_hash": HEX32,
                "evidence_hash": HEX32,
                "hash": HEX32,
                "encoded": B64,
            }
        ),
        "Certificate": obj(
            {
                "height": {"type": "integer", "minimum": 1},
                "round": INT,
                "block_hash": HEX32,
                "signatures": {
                    "type": "array",
                    "items": obj(
                        {
                            "validator_index": INT,
                            "signature": {"type": "string", "pattern": "^[0-9a-f]{128}$"},
                        }
                    ),
                },
                "encoded": B64,
            }
        ),
        "ValidatorSet": obj(
            {
                "validators": {
                    "type": "array",
                    "items": obj(
                        {
                            "public_key": HEX_KEY,
                            "power": {"type": "integer", "minimum": 1},
                            "participant_id": nullable({"type": "string"}),
                        }
                    ),
                },
                "total_power": {"type": "integer", "minimum": 1},
                "hash": HEX32,
            }
        ),
        "Validators": {
            "allOf": [
                ref("ValidatorSet"),
                obj({"height": {"type": "integer", "minimum": 1}}),
            ]
        },
        "MerkleProof": obj(
            {
                "index": INT,
                "total": {"type": "integer", "minimum": 1},
                "aunts": {"type": "array", "items": HEX32},
            }
        ),
        "FinalityProof": obj(
            {
                "hash": HEX32,
                "chain_id": {"type": "string"},
                "height": {"type": "integer", "minimum": 1},
                "index": INT,
                "tx": B64,
                "header": ref("Header"),
                "certificate": ref("Certificate"),
                "merkle_proof": ref("MerkleProof"),
                "validators": ref("ValidatorSet"),
            }
        ),
        "Tx": obj(
            {
                "hash": HEX32,
                "status": {"type": "string", "enum": ["pending", "committed", "rejected"]},
                "height": NULLABLE_INT,
                "index": NULLABLE_INT,
                "tx": nullable(B64),
                "decoded": nullable(ref("DecodedTx")),
                "receipt": nullable(ref("Receipt")),
                "rejection": nullable(ref("Rejection")),
                "proof": nullable(ref("FinalityProof")),
            },
            ["hash", "status", "height", "index", "tx", "decoded", "receipt", "rejection"],
        ),
        "BlockSummary": obj(
            {
                "height": {"type": "integer", "minimum": 1},
                "hash": HEX32,
                "time_ms": INT,
                "proposer": HEX_KEY,
                "num_txs": INT,
            }
        ),
        "Block": {
            "allOf": [
                ref("BlockSummary"),
                obj(
                    {
                        "header": ref("Header"),
                        "tx_hashes": {"type": "array", "items": HEX32},
                        "tx_codes": {"type": "array", "items": INT},
                        "certificate": nullable(ref("Certificate")),
                    }
                ),
            ]
        },
        "SubmitResult": obj(
            {
                "hash": HEX32,
                "status": {"type": "string", "enum": ["pending", "committed"]},
                "height": NULLABLE_INT,
            }
        ),
        "BatchResult": obj(
            {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "status_code": {"type": "integer"},
                            "hash": HEX32,
                            "status": {"type": "string", "enum": ["pending", "committed"]},
                            "height": NULLABLE_INT,
                            "error": ref("ErrorBody"),
                        },
                        "required": ["status_code"],
                    },
                }
            }
        ),
        "SubmitJson": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"tx": B64},
                    "required": ["tx"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "txs": {
                            "type": "array",
                            "items": B64,
                            "minItems": 1,
                            "maxItems": BATCH_TXS_MAX,
                        }
                    },
                    "required": ["txs"],
                    "additionalProperties": False,
                },
            ]
        },
    }


# ---------------------------------------------------------------------------------------------
# paths

_REASONS = {
    200: "OK",
    202: "Accepted: the tx is pending in this node's mempool",
    400: "Malformed request (bad parameter, body or transaction bytes)",
    404: "Not found",
    409: "Conflict: the (submitter, idempotency key) is used by another tx",
    413: "Too large (body, tx or batch)",
    415: "Unsupported media type",
    422: "Rejected by the ledger rules (details carry the receipt code)",
    429: "Mempool full: try again after Retry-After seconds",
}


def _error(status: int) -> Json:
    response: Json = {
        "description": _REASONS[status],
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status == 429:
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
CURSOR = _query("cursor", {"type": "string", "maxLength": 128}, "next_cursor of the previous page")
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
            [_path("participant_id", {"type": "string"}, "e.g. BANKA")],
            (400, 404),
        ),
        "/api/v1/instruments": _get(
            "listInstruments", "Instruments with their supply", page_of("Instrument"), paged, (400,)
        ),
        "/api/v1/instruments/{instrument_id}": _get(
            "getInstrument",
            "One instrument with its supply (minted - redeemed)",
            ref("Instrument"),
            [_path("instrument_id", {"type": "string"}, "<ISSUER>:<CCY>, e.g. BANKA:USD")],
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
                _path("bank", {"type": "string"}, "the bank, e.g. BANKA"),
                _path("name", {"type": "string"}, "the local name, e.g. alice"),
            ],
            (400, 404),
        ),
        "/api/v1/nonce": _get(
            "getNonce",
            "The submitter's last committed nonce and the next free one",
            ref("Nonce"),
            [_query("submitter", {"type": "string"}, "participant or account id", True)],
            (400,),
        ),
        "/api/v1/txs/by-key": _get(
            "getTxByKey",
            "A transaction by (submitter, idempotency key)",
            ref("Tx"),
            [
                _query("submitter", {"type": "string"}, "participant or account id", True),
                _query("key", {"type": "string"}, "the idempotency key", True),
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
            "listBlocks", "Blocks, newest first", page_of("BlockSummary"), paged, (400,)
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
        **{str(code): _error(code) for code in (400, 409, 413, 415, 422, 429)},
    }
    responses["200"]["description"] = (
        "Already known (same signed tx: pending or committed), or a batch with one result each"
    )
    return {
        "operationId": "submitTxs",
        "summary": "Submit one signed transaction or a batch (idempotent)",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ref("SubmitJson")},
                "application/msgpack": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "raw signed tx bytes, or a canonical msgpack list of them",
                },
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
        "components": {"schemas": _schemas()},
    }


def install_docs(app: web.Application) -> None:
    document = build_openapi()
    page = resources.files("node.rpc").joinpath("docs.html").read_text(encoding="utf-8")

    async def get_openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    async def get_docs(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app.router.add_get("/api/openapi.json", get_openapi)
    app.router.add_get("/api/docs", get_docs)

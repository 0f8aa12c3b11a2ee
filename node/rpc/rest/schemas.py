"""The component schemas of the OpenAPI document: the JSON shapes of ``node.rpc.rest.shapes``
and ``node.rpc.rest.submit`` (change both together)."""

from __future__ import annotations

from typing import Any

from consensus.ledger import Code
from consensus.ledger.codes import TX_BYTES_MAX
from node.mempool import AdmissionCode
from node.rpc.rest.submit import BATCH_TXS_MAX

Json = dict[str, Any]
HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX_KEY = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
B64 = {"type": "string", "format": "byte"}
INT = {"type": "integer", "minimum": 0}
NULLABLE_INT = {"type": "integer", "minimum": 0, "nullable": True}
STR = {"type": "string"}
ERROR_CODES_BY_STATUS = {
    400: ["malformed"],
    403: ["host_not_allowed"],
    404: ["not_found"],
    409: ["conflict"],
    413: ["too_large"],
    415: ["unsupported_media_type"],
    422: ["rejected", "limit_exceeded", "response_too_large"],
    429: ["mempool_full", "submitter_limit"],
    503: ["busy", "storage_unavailable", "syncing"],
}
"""The typed ``error.code`` each HTTP status of the REST API carries (``node.rpc.rest.submit``,
``node.rpc.guard``, ``node.rpc.rest.offload`` and ``node.rpc.server`` answer them)."""
ERROR_CODES = [code for codes in ERROR_CODES_BY_STATUS.values() for code in codes]
PARTICIPANT_ID = {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,31}$"}
INSTRUMENT_ID = {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,31}:[A-Z]{3}$"}
LOCAL_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.\\-]{1,48}$"}
SUBMITTER = {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,31}(/[A-Za-z0-9_.\\-]{1,48})?$"}
IDEMPOTENCY_KEY = {"type": "string", "pattern": "^[!-~]{1,64}$"}
LIST_CURSOR = {"type": "string", "pattern": "^[ -~]{0,128}$"}
"""A list's cursor: the id of the last record of the previous page (printable ASCII; ids are)."""
HEIGHT_CURSOR = {"type": "string", "pattern": "^[0-9]{0,18}$"}
"""The blocks list's cursor: the height to continue below."""
HEIGHT_MAX = 10**18 - 1
STATUS_REQUIRED = [
    "chain_id", "moniker", "height", "latest_block_hash", "latest_block_time_ms", "app_hash",
    "catching_up", "mempool_size",
]  # fmt: skip
"""Heights in a query are at most 18 digits."""
_B64_GROUPS_MAX = (TX_BYTES_MAX - 2) // 3
"""Whole 4-char groups such that a padded last group still decodes to <= TX_BYTES_MAX bytes."""
TX_B64 = {
    "type": "string",
    "format": "byte",
    "minLength": 4,
    "pattern": f"^(?:[A-Za-z0-9+/]{{4}}){{0,{_B64_GROUPS_MAX}}}"
    "(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
}
"""One signed tx as padded base64: 1 to TX_BYTES_MAX bytes, exactly what the server decodes
(a longer string is 413, a non-base64 one 400; bytes that are not a signed tx are a 422)."""


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: Json, required: list[str] | None = None) -> Json:
    """An object with exactly these properties (all required unless ``required`` says)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def error_of(status: int, codes: list[str] | None = None) -> Json:
    """The error body of ``status`` with ``codes`` (default: every code of that status)."""
    body = obj(
        {
            "code": {"type": "string", "enum": codes or ERROR_CODES_BY_STATUS[status]},
            "message": {"type": "string"},
            "details": {"nullable": True},
        },
        ["code", "message"],
    )
    return obj({"error": body})


def nullable(schema: Json) -> Json:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


STATE_SYNC_PROGRESS = obj(
    {
        "phase": {
            "type": "string",
            "enum": ["discovering", "proving", "fetching", "verifying", "installing", "starting"],
        },
        "target_height": INT,
        "chunks_fetched": INT,
        "chunks_total": INT,
        "accounts_restored": INT,
    }
)
"""A state-sync restore's progress (``node.statesync.status_server``)."""


def page_of(name: str, cursor: Json = LIST_CURSOR) -> Json:
    return obj(
        {
            "items": {"type": "array", "items": ref(name)},
            "next_cursor": nullable({**cursor, "minLength": 1}),
        }
    )


_VALIDATOR_SET_PROPERTIES: Json = {
    "validators": {
        "type": "array",
        "items": obj(
            {
                "public_key": HEX_KEY,
                "power": {"type": "integer", "minimum": 1},
                "participant_id": nullable(STR),
            }
        ),
    },
    "total_power": {"type": "integer", "minimum": 1},
    "hash": HEX32,
}
_BLOCK_SUMMARY_PROPERTIES: Json = {
    "height": {"type": "integer", "minimum": 1},
    "hash": HEX32,
    "time_ms": INT,
    "proposer": HEX_KEY,
    "num_txs": INT,
}
BATCH_ITEM_ERRORS = [409, 413, 422, 429, 503]
"""The statuses a batch item can fail with (``SubmitRoutes.submit_one``)."""


def proof_schemas() -> Json:
    """The proven reads of ``node.rpc.rest.proofs``: state values with their state tree proofs
    under an anchor (a certified header, its certificate and validator set)."""
    height = {"type": "integer", "minimum": 0}
    anchored = {"height": height, "anchor": ref("Anchor")}
    return {
        "TreeProof": obj({"key": B64, "proof": B64}),
        "RangeProof": obj({"lo": B64, "hi": B64, "proof": B64}),
        "Anchor": obj(
            {
                "height": height,
                "header": ref("Header"),
                "certificate": ref("Certificate"),
                "validators": ref("ValidatorSet"),
            }
        ),
        "AccountProof": obj(
            {
                "account_id": STR,
                **anchored,
                "account": ref("TreeProof"),
                "nonce": ref("TreeProof"),
                "instruments": ref("RangeProof"),
                "balances": {"type": "object", "additionalProperties": ref("TreeProof")},
            }
        ),
        "InstrumentProof": obj({"instrument_id": STR, **anchored, "instrument": ref("TreeProof")}),
        "BalancePage": obj(
            {
                "instrument_id": STR,
                **anchored,
                "instrument": ref("TreeProof"),
                "slice": ref("RangeProof"),
                "count": INT,
                "next_cursor": nullable({**LIST_CURSOR, "minLength": 1}),
            }
        ),
        "ReceiptProof": obj(
            {"receipt": B64, "merkle_proof": ref("MerkleProof"), "anchor": ref("Anchor")}
        ),
        "PrecheckResult": obj(
            {
                "would_pass": {"type": "boolean"},
                "code": INT,
                "code_name": {"type": "string", "enum": [c.name for c in Code]},
                "log": STR,
                "height": {"type": "integer", "minimum": 1},
                "time_ms": INT,
            }
        ),
    }


def schemas() -> Json:
    receipt = obj(
        {
            "code": INT,
            "code_name": {"type": "string", "enum": [c.name for c in Code]},
            "log": {"type": "string"},
            "events": {"type": "array", "items": ref("Event")},
        }
    )
    rejection_names = [c.name for c in Code] + [c.name for c in AdmissionCode] + ["UNKNOWN"]
    rejection = obj(
        {"code": INT, "code_name": {"type": "string", "enum": rejection_names}, "log": STR}
    )
    return {
        "ErrorBody": obj(
            {
                "code": {"type": "string", "enum": ERROR_CODES},
                "message": {"type": "string"},
                "details": {"nullable": True},
            },
            ["code", "message"],
        ),
        "Status": obj(
            {
                "chain_id": {"type": "string"},
                "moniker": {"type": "string"},
                "height": INT,
                "latest_block_hash": nullable(HEX32),
                "latest_block_time_ms": NULLABLE_INT,
                "app_hash": nullable(HEX32),  # null while the node joins by state sync
                "catching_up": {"type": "boolean"},
                "mempool_size": INT,
                "state_sync": STATE_SYNC_PROGRESS,  # only while the node joins by state sync
            },
            STATUS_REQUIRED,
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
                "last_results_hash": HEX32,
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
        "ValidatorSet": obj(_VALIDATOR_SET_PROPERTIES),
        "Validators": obj(
            {"height": {"type": "integer", "minimum": 1}, **_VALIDATOR_SET_PROPERTIES}
        ),
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
                "receipt_proof": nullable(ref("ReceiptProof")),
            }
        ),
        **proof_schemas(),
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
        "BlockSummary": obj(_BLOCK_SUMMARY_PROPERTIES),
        "Block": obj(
            {
                **_BLOCK_SUMMARY_PROPERTIES,
                "header": ref("Header"),
                "tx_hashes": {"type": "array", "items": HEX32},
                "tx_codes": {"type": "array", "items": INT},
                "certificate": nullable(ref("Certificate")),
            }
        ),
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
                        "oneOf": [
                            obj(
                                {
                                    "status_code": {"type": "integer", "enum": [200, 202]},
                                    "hash": HEX32,
                                    "status": {"type": "string", "enum": ["pending", "committed"]},
                                    "height": NULLABLE_INT,
                                }
                            ),
                            obj(
                                {
                                    "status_code": {"type": "integer", "enum": BATCH_ITEM_ERRORS},
                                    "error": ref("ErrorBody"),
                                }
                            ),
                        ]
                    },
                }
            }
        ),
        "SubmitOneJson": obj({"tx": TX_B64}),
        "SubmitJson": {
            "oneOf": [
                ref("SubmitOneJson"),
                {
                    "type": "object",
                    "properties": {
                        "txs": {
                            "type": "array",
                            "items": TX_B64,
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

"""What the sync and async clients share: paths, answer decoding, the finality result."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from consensus.ledger import SignedTx
from consensus.validators import ValidatorSet
from node.client.errors import ApiError, ProofError, TxRejected
from node.client.proof import VerifiedTx, validator_set_from_json, verify_finality_proof

Json = dict[str, Any]
API = "/api/v1"
SUBMIT_RETRIES_MAX = 5
"""Attempts on 429 (mempool full) before giving up; each waits the server's Retry-After."""
POLL_INTERVAL_S = 0.2


@dataclass(frozen=True, slots=True)
class FinalTx:
    """A committed transaction with its receipt and its verified finality proof."""

    tx_hash: str
    height: int
    receipt: Json
    proof: Json
    verified: VerifiedTx


def build_url(base_url: str, path: str, query: dict[str, Any] | None = None) -> str:
    url = base_url.rstrip("/") + path
    params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
    return url + ("?" + urlencode(params) if params else "")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def account_path(account_id: str) -> str:
    bank, _, name = account_id.partition("/")
    return f"{API}/accounts/{quote(bank, safe='')}/{quote(name, safe='')}"


def segment(value: str) -> str:
    return quote(value, safe="")


def encode_submission(tx: SignedTx | bytes) -> bytes:
    raw = tx.encode() if isinstance(tx, SignedTx) else tx
    return json.dumps({"tx": base64.b64encode(raw).decode()}).encode()


def encode_batch(txs: list[SignedTx | bytes]) -> bytes:
    raws = [tx.encode() if isinstance(tx, SignedTx) else tx for tx in txs]
    return json.dumps({"txs": [base64.b64encode(raw).decode() for raw in raws]}).encode()


def decode_answer(status: int, body: bytes, retry_after: str | None) -> Json:
    """The JSON of a 2xx answer; an :class:`ApiError` for anything else."""
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        document = None
    if 200 <= status < 300 and isinstance(document, dict):
        return document
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        raise ApiError(status, f"http_{status}", body[:200].decode(errors="replace"))
    details = error.get("details")
    if status == 429 and retry_after is not None and retry_after.isdigit():
        details = {
            **(details if isinstance(details, dict) else {}),
            "retry_after_s": int(retry_after),
        }
    return _raise(ApiError(status, str(error.get("code")), str(error.get("message")), details))


def _raise(error: ApiError) -> Json:
    raise error


def check_final_view(view: Json) -> bool:
    """True once ``view`` (a tx view) is final; raises :class:`TxRejected` if it failed."""
    status = view.get("status")
    if status == "rejected":
        rejection = view.get("rejection") or {}
        raise TxRejected(
            str(view.get("hash")),
            int(rejection.get("code", -1)),
            str(rejection.get("code_name", "UNKNOWN")),
            str(rejection.get("log", "")),
        )
    return status == "committed"


def finish(view: Json, proof: Json, trusted: ValidatorSet | None, chain_id: str | None) -> FinalTx:
    """Verify ``proof`` (against ``trusted``, else the set the proof carries) and package."""
    validators = (
        trusted if trusted is not None else validator_set_from_json(proof.get("validators"))
    )
    verified = verify_finality_proof(proof, validators, chain_id)
    if verified.tx_hash.hex() != view.get("hash"):
        raise ProofError("the proof is for another transaction")
    return FinalTx(str(view["hash"]), verified.height, view.get("receipt") or {}, proof, verified)

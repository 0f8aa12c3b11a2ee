"""``POST /api/v1/txs``: submit one signed transaction or a bounded batch, idempotently.

Bodies: JSON ``{"tx": base64}`` or ``{"txs": [base64, ...]}``, or ``application/msgpack`` (the
raw signed tx bytes, or a canonical msgpack list of them). Each tx gets its own answer; the
same signed tx submitted again gets the same answer (its hash and its current status), whether
it is pending or already committed. A different tx reusing a (submitter, idempotency key) that
is committed, or pending from a submission to this node, is a 409 conflict.

A single tx answers with the HTTP status of its outcome (202 accepted, 200 known, 4xx error);
a batch answers 200 with one result per tx, each carrying its own ``status_code``. A 429 for a
full mempool, or for a submitter whose share of it is full, carries ``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import msgpack
from aiohttp import web

from consensus.codec import CodecError
from consensus.ledger import Code, decode_tx
from consensus.ledger.codes import TX_BYTES_MAX
from consensus.ledger.queries import get_idempotency_key_height
from consensus.types import Hash32
from node.disk_space import StorageUnavailable
from node.errors import NodeError
from node.mempool import Accepted, AdmissionCode, AlreadyKnown, Mempool, MempoolFull, TxStatus
from node.rpc.json_input import ClientJsonError, parse_client_json
from node.services import NodeServices

BATCH_TXS_MAX = 100
TX_B64_CHARS_MAX = 4 * -(-TX_BYTES_MAX // 3)
"""Padded base64 of TX_BYTES_MAX bytes; a longer JSON tx string is refused before decoding."""
RETRY_AFTER_S = 1
RECENT_SUBMISSIONS_MAX = 50_000
MSGPACK = "application/msgpack"

Json = dict[str, Any]


class ApiProblem(NodeError):
    """A failure to answer as ``{"error": {...}}`` with an HTTP status (the SDK raises it as
    ``node.client.ApiError``)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def to_json(self) -> Json:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def error_response(exc: ApiProblem) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status in (429, 503) else None
    return web.json_response(exc.to_json(), status=exc.status, headers=headers)


class RecentSubmissions:
    """(submitter, idempotency key) -> tx hash of txs submitted to this node (bounded LRU), so
    a pending tx can be found by its key and a conflicting one refused before it is pending."""

    def __init__(self, size_max: int = RECENT_SUBMISSIONS_MAX) -> None:
        self._by_key: OrderedDict[tuple[str, str], Hash32] = OrderedDict()
        self._size_max = size_max

    def remember(self, submitter: str, key: str, tx_hash: Hash32) -> None:
        self._by_key[(submitter, key)] = tx_hash
        self._by_key.move_to_end((submitter, key))
        while len(self._by_key) > self._size_max:
            self._by_key.popitem(last=False)

    def get(self, submitter: str, key: str) -> Hash32 | None:
        return self._by_key.get((submitter, key))

    @staticmethod
    def get_pending_nonce_max(mempool: Mempool, submitter: str) -> int | None:
        """The highest nonce of ``submitter`` waiting in the mempool, if any."""
        nonces = mempool.get_pending_nonces(submitter)
        return nonces[-1] if nonces else None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    status_code: int
    body: Json


class SubmitRoutes:
    def __init__(self, services: NodeServices, submissions: RecentSubmissions) -> None:
        self.s = services
        self.submissions = submissions

    async def post_txs(self, request: web.Request) -> web.Response:
        body = await request.read()
        content_type = request.content_type
        if content_type == MSGPACK:
            raws, is_batch = _read_msgpack_body(body)
        elif content_type == "application/json":  # node.rpc.guard refused every other type
            raws, is_batch = _read_json_body(body)
        else:
            raise ApiProblem(
                415, "unsupported_media_type", "send application/json or application/msgpack"
            )
        async with self.s.verifier.prepared(raws):  # signatures on threads, then in order
            results = [self.submit_one(raw) for raw in raws]
        if not is_batch:
            result = results[0]
            retry = result.status_code in (429, 503)
            headers = {"Retry-After": str(RETRY_AFTER_S)} if retry else None
            return web.json_response(result.body, status=result.status_code, headers=headers)
        items = [{"status_code": r.status_code, **r.body} for r in results]
        return web.json_response({"results": items})

    def submit_one(self, raw: bytes) -> SubmitResult:
        try:
            return SubmitResult(*self._submit(raw))
        except ApiProblem as exc:
            return SubmitResult(exc.status, exc.to_json())

    def _submit(self, raw: bytes) -> tuple[int, Json]:
        if len(raw) > TX_BYTES_MAX:
            raise ApiProblem(413, "too_large", f"a tx is at most {TX_BYTES_MAX} bytes")
        tx_hash = self.s.compute_tx_hash(raw)
        try:
            unsigned = decode_tx(raw).unsigned
        except CodecError as exc:
            # Well-formed request, refused content: the 422 of the ledger's MALFORMED code (a
            # 400 means the request itself is outside the API document).
            log = f"not a signed transaction: {exc}"
            details = {"hash": tx_hash.hex(), "code": int(Code.MALFORMED), "log": log}
            raise ApiProblem(422, "rejected", log, details | {"code_name": "MALFORMED"}) from exc
        location = self.s.chain.store.get_tx_location(tx_hash)
        if location is not None:
            return 200, _answer(tx_hash, "committed", location[0])
        self._validate_no_conflict(unsigned.submitter, unsigned.idempotency_key, tx_hash)
        try:
            outcome = self.s.submit_tx(raw)
        except MempoolFull as exc:
            raise ApiProblem(429, "mempool_full", str(exc), {"hash": tx_hash.hex()}) from exc
        except StorageUnavailable as exc:
            hash_only = {"hash": tx_hash.hex()}
            raise ApiProblem(503, "storage_unavailable", str(exc), hash_only) from exc
        if isinstance(outcome, Accepted):
            self.submissions.remember(unsigned.submitter, unsigned.idempotency_key, tx_hash)
            return 202, _answer(tx_hash, "pending", None)
        if isinstance(outcome, AlreadyKnown):
            # Committed per the mempool but not yet in the index cannot happen (the index is
            # written before the mempool hears of the block); pending is the safe answer.
            return 200, _answer(tx_hash, "pending", None)
        details = {"hash": tx_hash.hex(), "code": outcome.code, "log": outcome.log}
        details["code_name"] = _code_name(outcome.code)
        if outcome.code == Code.DUPLICATE_IDEMPOTENCY_KEY:
            raise ApiProblem(409, "conflict", "idempotency key already used", details)
        if outcome.code == AdmissionCode.SUBMITTER_LIMIT:  # its own txs must commit first
            raise ApiProblem(429, "submitter_limit", outcome.log, details)
        raise ApiProblem(422, "rejected", outcome.log or "rejected by the ledger rules", details)

    def _validate_no_conflict(self, submitter: str, key: str, tx_hash: Hash32) -> None:
        height = get_idempotency_key_height(self.s.chain.state, submitter, key)
        if height is not None:
            raise ApiProblem(
                409,
                "conflict",
                f"idempotency key {key!r} of {submitter} was used by another tx",
                {"hash": tx_hash.hex(), "height": height},
            )
        other = self.submissions.get(submitter, key)
        pending = other is not None and self.s.mempool.get_status(other) is TxStatus.PENDING
        if other is not None and other != tx_hash and pending:
            raise ApiProblem(
                409,
                "conflict",
                f"idempotency key {key!r} of {submitter} is used by a pending tx",
                {"hash": tx_hash.hex(), "pending_hash": other.hex()},
            )


def _answer(tx_hash: Hash32, status: str, height: int | None) -> Json:
    return {"hash": tx_hash.hex(), "status": status, "height": height}


def _code_name(code: int) -> str:
    for codes in (Code, AdmissionCode):
        try:
            return codes(code).name
        except ValueError:
            continue
    return "UNKNOWN"


def _read_json_body(body: bytes) -> tuple[list[bytes], bool]:
    try:
        document = parse_client_json(body)
    except ClientJsonError as exc:
        raise ApiProblem(400, "malformed", f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict) or len(document) != 1 or not {"tx", "txs"} & set(document):
        raise ApiProblem(400, "malformed", 'expected {"tx": base64} or {"txs": [base64, ...]}')
    if "tx" in document:
        return [_read_b64(document["tx"])], False
    items = document["txs"]
    if not isinstance(items, list) or not items:
        raise ApiProblem(400, "malformed", '"txs" must be a non-empty list of base64 strings')
    _validate_batch_size(len(items))
    return [_read_b64(item) for item in items], True


def _read_b64(value: Any) -> bytes:
    """The bytes of one JSON tx; a request-level 400/413 for a string outside the document's
    ``TX_B64`` (non-base64, empty, or more than TX_BYTES_MAX bytes)."""
    if not isinstance(value, str):
        raise ApiProblem(400, "malformed", "a tx is a base64 string")
    if len(value) > TX_B64_CHARS_MAX:
        raise ApiProblem(413, "too_large", f"a tx is at most {TX_BYTES_MAX} bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiProblem(400, "malformed", "a tx is a base64 string") from exc
    if not raw:
        raise ApiProblem(400, "malformed", "empty tx")
    if len(raw) > TX_BYTES_MAX:
        raise ApiProblem(413, "too_large", f"a tx is at most {TX_BYTES_MAX} bytes")
    return raw


def _read_msgpack_body(body: bytes) -> tuple[list[bytes], bool]:
    if not body:
        return [body], False  # a body of zero bytes is a tx that does not decode: 422
    try:
        value = msgpack.unpackb(body, raw=False, max_bin_len=len(body), max_str_len=len(body))
    except Exception:  # garbage raises many msgpack types; a non-list body may be one raw tx
        return [body], False
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, bytes) for item in value)
        and msgpack.packb(value, use_bin_type=True) == body
    ):
        _validate_batch_size(len(value))
        return list(value), True
    return [body], False  # not a canonical batch: the body is one raw tx (422 if it is none)


def _validate_batch_size(count: int) -> None:
    if count > BATCH_TXS_MAX:
        raise ApiProblem(413, "too_large", f"a batch holds at most {BATCH_TXS_MAX} txs")

"""The domain REST API under ``/api/v1``: participants, instruments, accounts, transactions
with their finality proofs, blocks, validators; submission lives in ``node.rpc.rest.submit``.

One error model for every route: ``{"error": {"code", "message", "details"}}`` with a typed
``code`` and the matching HTTP status (400 malformed, 404 not_found, 409 conflict, 413
too_large, 415 unsupported_media_type, 422 rejected, 429 mempool_full with Retry-After). Every
list is paged (``limit`` <= 100, opaque ``cursor``) so no request makes the node walk or send
an unbounded amount. Handlers only read the chain and the mempool; they never block the loop
for long (each page touches at most ``limit`` records).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from consensus.blocks import Block
from consensus.codec import CodecError
from consensus.crypto import merkle_proof
from consensus.ledger import decode_tx
from consensus.ledger.queries import (
    get_account,
    get_balance,
    get_idempotency_key_height,
    get_instrument,
    get_nonce,
    get_participant,
    get_participant_ids,
)
from consensus.ledger.records import (
    Account,
    validate_account_id,
    validate_instrument_id,
    validate_participant_id,
)
from consensus.ledger.state import (
    ACCOUNT_PREFIX,
    INSTRUMENT_PREFIX,
    SEPARATOR,
    balance_prefix,
    decode_value,
    parse_balance_key,
)
from consensus.ledger.txs import validate_idempotency_key, validate_submitter
from consensus.types import Hash32
from node.mempool import TxStatus
from node.rpc.jsonrpc import Registry
from node.rpc.reads import get_budget
from node.rpc.rest import shapes as aj
from node.rpc.rest.offload import offloaded
from node.rpc.rest.params import (
    get_bool_param,
    get_cursor,
    get_height_param,
    get_limit,
    get_proof_height,
    is_digits,
    malformed,
    not_found,
    page,
    parse_hash_hex,
    parse_path_height,
)
from node.rpc.rest.proofs import ProofRoutes
from node.rpc.rest.submit import ApiProblem, RecentSubmissions, SubmitRoutes, error_response
from node.services import NodeServices

API_PREFIX = "/api/v1"
TX_HASH_PATTERN = "(?:0[xX])?[0-9a-fA-F]{64}"
"""A tx hash in a route: any other text matches no route (so ``GET /txs/precheck`` is a 405)."""
BALANCES_MAX = 1024
"""An account holds at most this many balance records (the ledger's balance_count bound)."""

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_ok(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status)


def api_handler(handler: Handler) -> Handler:
    """Answer an :class:`ApiProblem` raised by ``handler`` in the API's error model."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiProblem as exc:
            return error_response(exc)

    return wrapped


# ---------------------------------------------------------------------------------------------
# the routes


class ApiRoutes:
    """Read routes over one node's chain, ledger state and mempool."""

    def __init__(self, services: NodeServices, submissions: RecentSubmissions) -> None:
        self.s = services
        self.submissions = submissions
        self.proofs = ProofRoutes(services, self._validator_names)

    # -- state iteration -----------------------------------------------------------------------

    def _iter_prefix(self, prefix: bytes, after: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """State entries under ``prefix`` strictly after the key ``after``, in key order,
        streamed from the committed state (genesis in memory, then its snapshot on disk)."""
        start = None if after is None else after + SEPARATOR
        return self.s.chain.state.iter_prefix(prefix, start)

    def _list_prefix(self, request: web.Request, prefix: bytes) -> tuple[list[Any], str | None]:
        limit, cursor = get_limit(request), get_cursor(request)
        after = None if cursor is None else prefix + cursor.encode()
        records: list[Any] = []
        more = False
        for key, value in self._iter_prefix(prefix, after):
            if len(records) == limit:
                more = True
                break
            records.append(decode_value(key, value))
        return records, None if not more or not records else _last_id(records[-1])

    # -- status --------------------------------------------------------------------------------

    async def get_status(self, request: web.Request) -> web.Response:
        chain = self.s.chain
        height = chain.height
        block = chain.get_block(height) if height else None
        return json_ok(
            {
                "chain_id": self.s.genesis.chain_id,
                "moniker": self.s.config.node.moniker,
                "height": height,
                "latest_block_hash": None if block is None else block.hash.hex(),
                "latest_block_time_ms": None if block is None else block.header.time_ms,
                "app_hash": chain.state.app_hash.hex(),
                "catching_up": self.s.is_catching_up(),
                "mempool_size": len(self.s.mempool),
            }
        )

    # -- participants, instruments, accounts ---------------------------------------------------

    async def list_participants(self, request: web.Request) -> web.Response:
        limit, cursor = get_limit(request), get_cursor(request)
        state = self.s.chain.state
        ids = [pid for pid in get_participant_ids(state) if cursor is None or pid > cursor]
        chosen = ids[:limit]
        items = [aj.participant_json(p) for pid in chosen if (p := get_participant(state, pid))]
        next_cursor = chosen[-1] if len(ids) > limit else None
        return json_ok(page(items, next_cursor))

    async def get_participant(self, request: web.Request) -> web.Response:
        pid = request.match_info["participant_id"]
        try:
            validate_participant_id(pid)
        except CodecError as exc:
            raise malformed(f"participant id: {exc}") from exc
        participant = get_participant(self.s.chain.state, pid)
        if participant is None:
            raise not_found(f"no participant {pid!r}")
        return json_ok(aj.participant_json(participant))

    async def list_instruments(self, request: web.Request) -> web.Response:
        records, next_cursor = self._list_prefix(request, INSTRUMENT_PREFIX)
        return json_ok(page([aj.instrument_json(r) for r in records], next_cursor))

    async def get_instrument(self, request: web.Request) -> web.Response:
        iid = request.match_info["instrument_id"]
        return self._record_or_proof(
            request,
            ("instrument", iid),
            validate_instrument_id,
            self.proofs.instrument_proof,
            self._read_instrument,
        )

    def _read_instrument(self, iid: str) -> Json | None:
        instrument = get_instrument(self.s.chain.state, iid)
        return None if instrument is None else aj.instrument_json(instrument)

    async def list_accounts(self, request: web.Request) -> web.Response:
        records, next_cursor = self._list_prefix(request, ACCOUNT_PREFIX)
        items = [self._account_view(account) for account in records]
        return json_ok(page(items, next_cursor))

    async def get_account(self, request: web.Request) -> web.Response:
        aid = f"{request.match_info['bank']}/{request.match_info['name']}"
        return self._record_or_proof(
            request,
            ("account", aid),
            validate_account_id,
            self.proofs.account_proof,
            self._read_account,
        )

    def _read_account(self, aid: str) -> Json | None:
        account = get_account(self.s.chain.state, aid)
        return None if account is None else self._account_view(account)

    def _record_or_proof(
        self,
        request: web.Request,
        record: tuple[str, str],
        validate: Callable[[str], object],
        prove: Callable[[web.Request, str], Json],
        read: Callable[[str], Json | None],
    ) -> web.Response:
        """A record by id, or with ``?prove=true`` its state proof (``&height=H``, checked
        either way: the route documents it) — validate, prove, else read, else 404."""
        kind, record_id = record
        try:
            validate(record_id)
        except CodecError as exc:
            raise malformed(f"{kind} id: {exc}") from exc
        proving = get_bool_param(request, "prove")
        get_proof_height(request)
        if proving:
            return json_ok(prove(request, record_id))
        view = read(record_id)
        if view is None:
            raise not_found(f"no {kind} {record_id!r}")
        return json_ok(view)

    def _account_view(self, account: Account) -> Json:
        state = self.s.chain.state
        balances: list[Json] = []
        for key, _ in self._iter_prefix(balance_prefix(account.account_id), None):
            if len(balances) >= BALANCES_MAX:
                break
            iid = parse_balance_key(key)[1]
            balances.append(aj.balance_json(iid, get_balance(state, account.account_id, iid)))
        nonce = get_nonce(state, account.account_id)
        return aj.account_json(account, nonce, balances)

    async def get_nonce(self, request: web.Request) -> web.Response:
        submitter = request.query.get("submitter", "")
        try:
            validate_submitter(submitter)
        except CodecError as exc:
            raise malformed(f"submitter: {exc}") from exc
        committed = get_nonce(self.s.chain.state, submitter)
        pending = self.submissions.get_pending_nonce_max(self.s.mempool, submitter)
        return json_ok(
            {
                "submitter": submitter,
                "nonce": committed,
                "pending_nonce_max": pending,
                "next_nonce": self.s.mempool.get_next_nonce(submitter, committed),
            }
        )

    # -- transactions --------------------------------------------------------------------------

    async def get_tx(self, request: web.Request) -> web.Response:
        tx_hash = parse_hash_hex(request.match_info["tx_hash"])
        prove = get_bool_param(request, "prove")
        return json_ok(self.build_tx_view(tx_hash, prove))

    async def get_tx_proof(self, request: web.Request) -> web.Response:
        tx_hash = parse_hash_hex(request.match_info["tx_hash"])
        location = self.s.chain.store.get_tx_location(tx_hash)
        if location is None:
            raise not_found(f"tx {tx_hash.hex()} is not committed on this node")
        return json_ok(self.build_proof(tx_hash, *location))

    async def get_tx_by_key(self, request: web.Request) -> web.Response:
        submitter, key = request.query.get("submitter", ""), request.query.get("key", "")
        try:
            validate_submitter(submitter)
            validate_idempotency_key(key)
        except CodecError as exc:
            raise malformed(str(exc)) from exc
        prove = get_bool_param(request, "prove")
        tx_hash = self.find_tx_by_key(submitter, key)
        if tx_hash is None:
            raise not_found(f"no transaction of {submitter} with idempotency key {key!r}")
        return json_ok(self.build_tx_view(tx_hash, prove))

    def find_tx_by_key(self, submitter: str, key: str) -> Hash32 | None:
        """The committed tx of (submitter, key), else one submitted here and still known."""
        height = get_idempotency_key_height(self.s.chain.state, submitter, key)
        if height is not None:
            block = get_budget().get_block(self.s.chain.store, height)
            for raw in block.txs if block is not None else ():
                unsigned = decode_tx(raw).unsigned
                if unsigned.submitter == submitter and unsigned.idempotency_key == key:
                    return self.s.compute_tx_hash(raw)
        recent = self.submissions.get(submitter, key)
        if recent is not None and self.s.mempool.get_status(recent) is not TxStatus.UNKNOWN:
            return recent
        return None

    def build_tx_view(self, tx_hash: Hash32, prove: bool) -> Json:
        location = self.s.chain.store.get_tx_location(tx_hash)
        if location is not None:
            return self._committed_view(tx_hash, location[0], location[1], prove)
        mempool = self.s.mempool
        status = mempool.get_status(tx_hash)
        view: Json = {"hash": tx_hash.hex(), "status": status.value, "height": None}
        view |= {"index": None, "tx": None, "decoded": None, "receipt": None, "rejection": None}
        if status is TxStatus.PENDING:
            raw = mempool.get(tx_hash)
            if raw is not None:
                view["tx"], view["decoded"] = aj.b64(raw), aj.tx_body_json(decode_tx(raw))
        elif status is TxStatus.REJECTED and (rejection := mempool.get_rejection(tx_hash)):
            view["rejection"] = aj.rejection_json(rejection.code, rejection.log)
        else:
            raise not_found(f"tx {tx_hash.hex()} is unknown to this node")
        if prove:
            view["proof"] = None
        return view

    def _committed_view(self, tx_hash: Hash32, height: int, index: int, prove: bool) -> Json:
        block = self._load_block(height)
        receipts = get_budget().get_receipts(self.s.chain.store, height) or ()
        raw = block.txs[index]
        receipt = receipts[index]
        view: Json = {
            "hash": tx_hash.hex(),
            "status": "committed" if receipt.is_ok else "rejected",
            "height": height,
            "index": index,
            "tx": aj.b64(raw),
            "decoded": aj.tx_body_json(decode_tx(raw)),
            "receipt": aj.receipt_json(receipt),
            "rejection": None if receipt.is_ok else aj.rejection_json(receipt.code, receipt.log),
        }
        if prove:
            view["proof"] = self.build_proof(tx_hash, height, index)
        return view

    def build_proof(self, tx_hash: Hash32, height: int, index: int) -> Json:
        """Everything an offline verifier needs: header, certificate, inclusion, validators."""
        block = self._load_block(height)
        certificate = self.s.chain.get_certificate(height)
        if certificate is None:
            raise not_found(f"the certificate of block {height} is not stored on this node")
        try:
            validators = self.s.chain.get_validators(height)
        except LookupError as exc:
            raise not_found(f"the validator set of height {height} is no longer kept") from exc
        return {
            "hash": tx_hash.hex(),
            "chain_id": block.header.chain_id,
            "height": height,
            "index": index,
            "tx": aj.b64(block.txs[index]),
            "header": aj.header_json(block.header),
            "certificate": aj.certificate_json(certificate),
            "merkle_proof": aj.merkle_proof_json(merkle_proof(block.txs, index)),
            "validators": aj.validator_set_json(validators, self._validator_names()),
            "receipt_proof": self.proofs.receipt_proof(height, index),
        }

    def _validator_names(self) -> dict[bytes, str]:
        state = self.s.chain.state
        names: dict[bytes, str] = {}
        for pid in get_participant_ids(state):
            participant = get_participant(state, pid)
            if participant is not None and participant.validator_key is not None:
                names[participant.validator_key] = pid
        return names

    # -- blocks and validators -----------------------------------------------------------------

    def _load_block(self, height: int) -> Block:
        block = get_budget().get_block(self.s.chain.store, height)  # once per request
        if block is None:
            raise not_found(f"block {height} is not stored on this node")
        return block

    async def list_blocks(self, request: web.Request) -> web.Response:
        """Newest first; the cursor is the height to continue below."""
        limit = get_limit(request)
        cursor = get_cursor(request)
        top = self.s.chain.height
        if cursor is not None:
            if not is_digits(cursor) or len(cursor) > 18:
                raise malformed("cursor of /blocks is a height")
            top = min(top, int(cursor) - 1)
        heights = range(top, max(top - limit, 0), -1)
        items = [aj.block_summary_json(self._load_block(h)) for h in heights]
        last = heights[-1] if len(heights) else 1
        return json_ok(page(items, str(last) if last > 1 else None))

    async def get_block(self, request: web.Request) -> web.Response:
        raw = request.match_info["height"]
        height = self.s.chain.height if raw == "latest" else parse_path_height(raw)
        if height == 0:
            raise not_found("no block committed yet")
        block = self._load_block(height)
        certificate = self.s.chain.get_certificate(height)
        receipts = get_budget().get_receipts(self.s.chain.store, height) or ()
        return json_ok(
            {
                **aj.block_summary_json(block),
                "header": aj.header_json(block.header),
                "tx_hashes": [self.s.compute_tx_hash(tx).hex() for tx in block.txs],
                "tx_codes": [int(receipt.code) for receipt in receipts],
                "certificate": None if certificate is None else aj.certificate_json(certificate),
            }
        )

    async def get_validators(self, request: web.Request) -> web.Response:
        latest = self.s.chain.height
        height = get_height_param(request, "height") or max(latest, 1)
        if height > latest + 2:
            raise not_found(f"the validator set of height {height} is not decided yet")
        try:
            validators = self.s.chain.get_validators(height)
        except LookupError as exc:
            raise not_found(f"the validator set of height {height} is no longer kept") from exc
        return json_ok(
            {"height": height, **aj.validator_set_json(validators, self._validator_names())}
        )


def _last_id(record: Any) -> str:
    for name in ("account_id", "participant_id"):
        if hasattr(record, name):
            return str(getattr(record, name))
    return str(record.spec.instrument_id)


def install(app: web.Application, registry: Registry, services: NodeServices) -> None:
    """Register the REST routes, the OpenAPI document and the docs page (of ``registry`` only
    its cost limits: these are not JSON-RPC methods)."""
    from node.rpc.rest import openapi
    from node.rpc.rest.precheck import PrecheckRoutes

    submissions = RecentSubmissions()
    routes = ApiRoutes(services, submissions)
    submit = SubmitRoutes(services, submissions)
    p = API_PREFIX
    for path, handler in (
        ("/status", routes.get_status),
        ("/participants", routes.list_participants),
        ("/participants/{participant_id}", routes.get_participant),
        ("/instruments", routes.list_instruments),
        ("/instruments/{instrument_id}", routes.get_instrument),
        ("/instruments/{instrument_id}/balances", routes.proofs.list_balances),
        ("/accounts", routes.list_accounts),
        ("/accounts/{bank}/{name}", routes.get_account),
        ("/nonce", routes.get_nonce),
        ("/txs/by-key", routes.get_tx_by_key),
        (f"/txs/{{tx_hash:{TX_HASH_PATTERN}}}", routes.get_tx),
        (f"/txs/{{tx_hash:{TX_HASH_PATTERN}}}/proof", routes.get_tx_proof),
        ("/blocks", routes.list_blocks),
        ("/blocks/{height}", routes.get_block),
        ("/validators", routes.get_validators),
    ):  # reads run whole in the read pool, off the consensus loop (node.rpc.rest.offload),
        # but /nonce: it walks the mempool's live nonce sets, cheap and only safe on the loop
        run = handler if path == "/nonce" else offloaded(handler, registry.limits)
        app.router.add_get(p + path, api_handler(run))
    app.router.add_post(p + "/txs", api_handler(submit.post_txs))
    app.router.add_post(p + "/txs/precheck", api_handler(PrecheckRoutes(services).post_precheck))
    openapi.install_docs(app)

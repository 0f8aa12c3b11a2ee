"""CometBFT v0.38 transaction and ABCI routes: tx (with proof), tx_search, check_tx,
unconfirmed_txs, abci_info and abci_query over the ledger.

``abci_query`` paths name ledger records: ``/account/<id>``, ``/balance/<account>/<instrument>``,
``/instrument/<id>``, ``/participant/<id>``, ``/nonce/<submitter>``, ``/config``. The value is the
record as JSON (base64 of the UTF-8 text, as every ABCI value); a ``/store`` prefix
(``/store/account/<id>``) answers the canonical stored bytes instead. With ``prove`` the answer is
the stored bytes with a state tree proof of them (or of their absence) in ``proofOps``
(``node.state_proofs``). Like CometBFT, a query the app cannot answer is a response with a
non-zero ``code``, not an RPC error.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable
from typing import Any

from consensus.crypto import merkle_proof
from consensus.ledger import queries, state
from node.checktx import check_tx
from node.rpc.comet import shapes as cj
from node.rpc.comet.chain import ChainReader, validate_page
from node.rpc.comet.index import from_position
from node.rpc.comet.query import QueryError, parse_query
from node.rpc.jsonrpc import INTERNAL_ERROR, RPCError, invalid_params
from node.rpc.reads import get_budget
from node.state_proofs import compute_proof_ops

UNCONFIRMED_LIMIT_MAX = 100
QUERY_CODE_UNKNOWN_PATH = 1
QUERY_CODE_NOT_FOUND = 2
QUERY_CODE_BAD_HEIGHT = 3
QUERY_CODESPACE = "depochain.query"
APP_NAME = "depochain"


class TxRoutes(ChainReader):
    def _tx_json(self, height: int, index: int, prove: bool) -> dict[str, Any]:
        """One result row; its block and receipts are decoded once per request (the budget
        keeps them), not once per row."""
        budget = get_budget()
        budget.charge_rows()
        block = self.load_block(height)
        receipts = budget.get_receipts(self.s.chain.store, height) or ()
        if index >= len(block.txs) or index >= len(receipts):
            raise RPCError(INTERNAL_ERROR, f"tx {index} of block {height} is not stored")
        raw = block.txs[index]
        result: dict[str, Any] = {
            "hash": cj.hex_upper(self.s.compute_tx_hash(raw)),
            "height": str(height),
            "index": index,
            "tx_result": cj.tx_result_json(receipts[index]),
            "tx": cj.b64(raw),
        }
        if prove:
            proof = merkle_proof(block.txs, index)
            result["proof"] = cj.tx_proof_json(
                block.header.txs_root, raw, proof.index, proof.total, proof.aunts
            )
        return result

    async def tx(self, hash: bytes, prove: bool) -> dict[str, Any]:
        location = self.s.chain.store.get_tx_location(hash)
        if location is None:
            raise RPCError(INTERNAL_ERROR, f"tx ({hash.hex().upper()}) not found")
        return await self.reads.run(self._tx_json, location[0], location[1], prove)

    async def tx_search(
        self,
        query: str,
        prove: bool,
        page: int | None,
        per_page: int | None,
        order_by: str | None,
    ) -> dict[str, Any]:
        if order_by not in (None, "", "asc", "desc"):
            raise invalid_params("order_by must be 'asc' or 'desc'")
        try:
            positions = await self.index.search_latest(parse_query(query))
        except QueryError as exc:
            raise invalid_params(str(exc)) from exc
        if order_by == "desc":
            positions.reverse()
        start, size = validate_page(page, per_page, len(positions))
        chosen = positions[start : start + size]
        txs = await self.reads.run(self._tx_rows, chosen, prove)
        return {"txs": txs, "total_count": str(len(positions))}

    def _tx_rows(self, positions: list[int], prove: bool) -> list[dict[str, Any]]:
        return [self._tx_json(*from_position(p), prove) for p in positions]

    async def check_tx(self, tx: bytes) -> dict[str, Any]:
        chain = self.s.chain
        verdict = check_tx(tx, chain.state, chain.tip_time_ms)
        return {
            "code": verdict.code,
            "data": None,
            "log": verdict.log,
            "info": "",
            "gas_wanted": "0",
            "gas_used": "0",
            "events": [],
            "codespace": "" if verdict.code == 0 else "depochain",
        }

    async def unconfirmed_txs(self, limit: int | None) -> dict[str, Any]:
        mempool = self.s.mempool
        count = 30 if not limit or limit <= 0 else min(limit, UNCONFIRMED_LIMIT_MAX)
        txs = mempool.reap(count, 1 << 62)
        return {
            "n_txs": str(len(txs)),
            "total": str(len(mempool)),
            "total_bytes": str(mempool.size_bytes()),
            "txs": [cj.b64(raw) for raw in txs],
        }

    async def abci_info(self) -> dict[str, Any]:
        chain = self.s.chain
        return {
            "response": {
                "data": APP_NAME,
                "version": cj.COMET_VERSION,
                "app_version": "0",
                "last_block_height": str(chain.height),
                "last_block_app_hash": cj.b64(chain.state.app_hash) if chain.height else "",
            }
        }

    async def abci_query(
        self, path: str, data: bytes | None, height: int | None, prove: bool
    ) -> dict[str, Any]:
        chain_state = self.s.chain.state  # one state: the answer, its proof and its height
        latest = chain_state.height
        if height and height != latest:
            return _query_response(
                QUERY_CODE_BAD_HEIGHT, f"only the latest height ({latest}) can be queried", latest
            )
        raw_bytes = path.startswith("/store/")
        segments = [s for s in path.removeprefix("/store").split("/") if s]
        handler = _QUERIES.get((segments[0], len(segments) - 1)) if segments else None
        if handler is None:
            return _query_response(QUERY_CODE_UNKNOWN_PATH, f"unknown query path {path!r}", latest)
        key, value = handler(chain_state, segments[1:])
        proof_ops = compute_proof_ops(chain_state, key) if prove else None
        if value is None:
            return _query_response(QUERY_CODE_NOT_FOUND, "not found", latest, key, b"", proof_ops)
        stored = raw_bytes or prove  # a proof is of the stored bytes
        answer = chain_state.get(key) if stored else _to_json_bytes(value)
        return _query_response(0, "", latest, key, answer or b"", proof_ops)


def _query_response(
    code: int,
    log: str,
    height: int,
    key: bytes = b"",
    value: bytes = b"",
    proof_ops: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "response": {
            "code": code,
            "log": log,
            "info": "",
            "index": "0",
            "key": cj.b64(key) if key else None,
            "value": cj.b64(value) if value else None,
            "proofOps": proof_ops,
            "height": str(height),
            "codespace": QUERY_CODESPACE if code else "",
        }
    }


QueryHandler = Callable[[state.State, list[str]], tuple[bytes, object | None]]


def _account(st: state.State, args: list[str]) -> tuple[bytes, object | None]:
    account_id = "/".join(args)
    return state.account_key(account_id), queries.get_account(st, account_id)


def _balance(st: state.State, args: list[str]) -> tuple[bytes, object | None]:
    # Account ids hold one slash (BANKA/alice): the last segment is the instrument.
    account_id, instrument_id = "/".join(args[:-1]), args[-1]
    key = state.balance_key(account_id, instrument_id)
    if queries.get_account(st, account_id) is None:
        return key, None
    return key, queries.get_balance(st, account_id, instrument_id)


def _instrument(st: state.State, args: list[str]) -> tuple[bytes, object | None]:
    return state.instrument_key(args[0]), queries.get_instrument(st, args[0])


def _participant(st: state.State, args: list[str]) -> tuple[bytes, object | None]:
    return state.participant_key(args[0]), queries.get_participant(st, args[0])


def _nonce(st: state.State, args: list[str]) -> tuple[bytes, object | None]:
    submitter = "/".join(args)
    return state.nonce_key(submitter), {"nonce": queries.get_nonce(st, submitter)}


def _config(st: state.State, args: list[str]) -> tuple[bytes, object | None]:
    return state.CONFIG_KEY, queries.get_chain_config(st)


_QUERIES: dict[tuple[str, int], QueryHandler] = {
    ("account", 1): _account,
    ("account", 2): _account,
    ("balance", 2): _balance,
    ("balance", 3): _balance,
    ("instrument", 1): _instrument,
    ("participant", 1): _participant,
    ("nonce", 1): _nonce,
    ("nonce", 2): _nonce,
    ("config", 0): _config,
}


def _to_json_bytes(value: object) -> bytes:
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":")).encode()


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, frozenset | set) else items
    return value

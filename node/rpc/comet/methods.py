"""CometBFT v0.38-compatible JSON-RPC methods (chain level): status, blocks, transactions.

Each method is an async function of typed params returning JSON in CometBFT's shapes
(``node.rpc.comet.shapes``); it is registered once and served over POST ``/``, GET ``/<method>``
and the websocket alike.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from aiohttp import web

from consensus.ledger import Code
from node.disk_space import StorageUnavailable
from node.mempool import AlreadyKnown, MempoolFull, Rejected
from node.rpc.comet import shapes as cj
from node.rpc.comet.chain import ChainRoutes
from node.rpc.comet.index import EventIndex
from node.rpc.comet.query import QUERY_LEN_MAX
from node.rpc.comet.txs import TxRoutes
from node.rpc.jsonrpc import (
    INTERNAL_ERROR,
    Method,
    Param,
    Registry,
    RPCError,
    bind_params,
    parse_bool,
    parse_hash,
    parse_height,
    parse_str,
)
from node.rpc.reads import READS_KEY, ReadPool
from node.services import NodeServices

BROADCAST_COMMIT_TIMEOUT_S = 10.0
INDEX_KEY: web.AppKey[EventIndex] = web.AppKey("comet_event_index", EventIndex)


def parse_tx(value: Any) -> bytes:
    """A transaction as CometBFT clients send it: base64 (JSON-RPC) or 0x-hex (URI)."""
    if not isinstance(value, str) or len(value) > 2 * 1024 * 1024:
        raise ValueError("expected a base64 string")
    if value[:2] in ("0x", "0X"):
        return bytes.fromhex(value[2:])
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("tx must be base64 (or 0x-prefixed hex)") from exc


class CometRoutes:
    """Node info and submission; chain reads live in comet.chain, tx reads in comet.txs."""

    def __init__(self, services: NodeServices, reads: ReadPool) -> None:
        self.s = services
        self.reads = reads
        self._status_memo: tuple[tuple[int, int], dict[str, Any], str] | None = None
        """(base height, latest height), the block fields of ``sync_info`` and the voting
        power at them: status is polled many times a block, and decoding the first and latest
        blocks (every tx of them) and looking up the validator set once per height is enough."""

    # -- info ----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return {}

    async def status(self) -> dict[str, Any]:
        # A new height decodes the first and latest block: in the read pool, off the loop.
        return await self.reads.run(self._status)

    def _status(self) -> dict[str, Any]:
        chain = self.s.chain
        heights = (chain.base_height, chain.height)
        memo = self._status_memo
        if memo is None or memo[0] != heights:
            memo = self._status_memo = (
                heights,
                self._block_fields(*heights),
                self._power(heights[1]),
            )
        _, block_fields, power = memo
        public_key = self.s.validator_public_key or self.s.node_key.public_key
        config, chain_id = self.s.config, self.s.genesis.chain_id
        return {
            "node_info": cj.node_info_json(config, chain_id, self.s.node_key.public_key),
            "sync_info": {
                "latest_block_hash": block_fields["latest_block_hash"],
                "latest_app_hash": cj.hex_upper(chain.state.app_hash),
                **block_fields,  # the order CometBFT prints, the app hash second
                "catching_up": self.s.is_catching_up(),
            },
            "validator_info": {
                "address": cj.hex_upper(cj.address(public_key)),
                "pub_key": cj.pub_key_json(public_key),
                "voting_power": power,
            },
        }

    def _block_fields(self, base_height: int, height: int) -> dict[str, Any]:
        chain, genesis_time_ms = self.s.chain, self.s.genesis.ledger.genesis_time_ms
        latest = chain.get_block(height) if height else None
        first = chain.get_block(base_height) if height else None
        return {
            "latest_block_hash": cj.hex_upper(latest.hash if latest else None),
            "latest_block_height": str(height),
            "latest_block_time": cj.rfc3339(latest.header.time_ms if latest else genesis_time_ms),
            "earliest_block_hash": cj.hex_upper(first.hash if first else None),
            "earliest_app_hash": cj.hex_upper(first.header.app_hash if first else None),
            "earliest_block_height": str(base_height),
            "earliest_block_time": cj.rfc3339(first.header.time_ms if first else genesis_time_ms),
        }

    def _power(self, height: int) -> str:
        validator_key = self.s.validator_public_key
        if validator_key is None:
            return "0"
        current = self.s.chain.get_validators(height + 1)
        index = current.get_index(validator_key)
        return "0" if index is None else str(current.validators[index].power)

    async def num_unconfirmed_txs(self) -> dict[str, Any]:
        mempool = self.s.mempool
        return {
            "n_txs": str(len(mempool)),
            "total": str(len(mempool)),
            "total_bytes": str(mempool.size_bytes()),
            "txs": None,
        }

    # -- submission ----------------------------------------------------------------------------

    def _check_tx_json(self, raw: bytes) -> dict[str, Any]:
        try:
            outcome = self.s.submit_tx(raw)
        except MempoolFull as exc:
            raise RPCError(INTERNAL_ERROR, f"mempool is full: {exc.reason}; try later") from exc
        except StorageUnavailable as exc:
            raise RPCError(INTERNAL_ERROR, str(exc)) from exc
        code, log = 0, ""
        if isinstance(outcome, Rejected):
            code, log = outcome.code, outcome.log
        elif isinstance(outcome, AlreadyKnown):
            log = "tx already in the mempool" if not outcome.is_committed else "tx committed"
        return {
            "code": code,
            "data": "",
            "log": log,
            "codespace": "" if code == 0 else "depochain",
            "hash": cj.hex_upper(outcome.tx_hash),  # the mempool hashed it (once per tx)
        }

    async def broadcast_tx_async(self, tx: bytes) -> dict[str, Any]:
        return self._check_tx_json(tx)

    async def broadcast_tx_sync(self, tx: bytes) -> dict[str, Any]:
        return self._check_tx_json(tx)

    async def broadcast_tx_commit(self, tx: bytes) -> dict[str, Any]:
        tx_hash = self.s.compute_tx_hash(tx)
        check = self._check_tx_json(tx)
        check_tx = {**check, "info": "", "gas_wanted": "0", "gas_used": "0", "events": []}
        check_tx.pop("hash")
        if check["code"] != 0:
            return {
                "check_tx": check_tx,
                "tx_result": _empty_result(),
                "hash": check["hash"],
                "height": "0",
            }
        # No await since the submission: the commit cannot have happened in between.
        committed = await self.s.bus.wait_for_tx(tx_hash, BROADCAST_COMMIT_TIMEOUT_S)
        if committed is None:
            raise RPCError(
                INTERNAL_ERROR,
                f"timed out waiting for tx to be included in a block "
                f"({BROADCAST_COMMIT_TIMEOUT_S:.0f} s)",
            )
        index = committed.tx_hashes.index(tx_hash)
        return {
            "check_tx": check_tx,
            "tx_result": cj.tx_result_json(committed.receipts[index]),
            "hash": check["hash"],
            "height": str(committed.block.height),
        }


def _empty_result() -> dict[str, Any]:
    return {
        "code": int(Code.OK),
        "data": None,
        "log": "",
        "info": "",
        "gas_wanted": "0",
        "gas_used": "0",
        "events": [],
        "codespace": "",
    }


def install(app: web.Application, registry: Registry, services: NodeServices) -> None:
    """Register every CometBFT route; the event index is shared with the websocket."""
    reads = app[READS_KEY]
    index = EventIndex(services.chain, reads)
    app[INDEX_KEY] = index
    routes = CometRoutes(services, reads)
    chain = ChainRoutes(services, index, reads)
    txs = TxRoutes(services, index, reads)
    height = Param("height", parse_height)
    page = (Param("page", parse_height), Param("per_page", parse_height))
    tx = Param("tx", parse_tx, required=True)
    block_hash = Param("hash", parse_hash, required=True)
    prove = Param("prove", parse_bool, default=False)
    for method in (
        Method("health", routes.health),
        Method("status", routes.status),
        Method("num_unconfirmed_txs", routes.num_unconfirmed_txs),
        Method("net_info", chain.net_info),
        Method(
            "blockchain",
            chain.blockchain,
            (Param("minHeight", parse_height), Param("maxHeight", parse_height)),
        ),
        Method("block", chain.block, (height,)),
        Method("block_by_hash", chain.block_by_hash, (block_hash,)),
        Method("block_results", chain.block_results, (height,)),
        Method("commit", chain.commit, (height,)),
        Method("header", chain.header, (height,)),
        Method("header_by_hash", chain.header_by_hash, (block_hash,)),
        Method("validators", chain.validators, (height, *page)),
        Method("genesis", chain.genesis),
        Method("consensus_params", chain.consensus_params, (height,)),
        Method("broadcast_tx_async", routes.broadcast_tx_async, (tx,)),
        Method("broadcast_tx_sync", routes.broadcast_tx_sync, (tx,)),
        Method("broadcast_tx_commit", routes.broadcast_tx_commit, (tx,)),
        Method("check_tx", txs.check_tx, (tx,)),
        Method("tx", txs.tx, (Param("hash", parse_hash, required=True), prove)),
        Method(
            "tx_search",
            txs.tx_search,
            (
                Param("query", parse_query_text, required=True),
                prove,
                *page,
                Param("order_by", parse_str),
            ),
        ),
        Method("unconfirmed_txs", txs.unconfirmed_txs, (Param("limit", parse_height),)),
        Method("abci_info", txs.abci_info),
        Method(
            "abci_query",
            txs.abci_query,
            (
                Param("path", parse_str, required=True),
                Param("data", parse_hex_data),
                height,
                prove,
            ),
        ),
    ):
        registry.add(method)
    registry.prepare_batch = lambda requests: _admitting_batch(services, registry, requests)


@contextlib.asynccontextmanager
async def _admitting_batch(
    services: NodeServices, registry: Registry, requests: Sequence[Any]
) -> AsyncIterator[None]:
    """Around a batch array: its txs are gossiped together when it ends, and their signatures
    are checked on the verify threads first if there are any (inline, the txs need not be read
    twice)."""
    with services.gossip.held():
        if not services.verifier.is_threaded:
            yield
            return
        async with services.verifier.prepared(list(_iter_submitted_txs(registry, requests))):
            yield


SUBMIT_METHODS = frozenset(("broadcast_tx_async", "broadcast_tx_sync", "broadcast_tx_commit"))


def _iter_submitted_txs(registry: Registry, requests: Sequence[Any]) -> Iterator[bytes]:
    """The txs a batch array submits, read as their calls will read them (a call that does
    not parse yields nothing here and gets its error when it runs)."""
    for request in requests:
        if not isinstance(request, dict) or request.get("method") not in SUBMIT_METHODS:
            continue
        try:
            params = bind_params(registry.get(request["method"]), request.get("params"))
        except RPCError:
            continue
        yield params["tx"]


def parse_query_text(value: Any) -> str:
    return parse_str(value, QUERY_LEN_MAX)


def parse_hex_data(value: Any) -> bytes:
    """ABCI query data as CometBFT takes it: hex, optionally 0x-prefixed."""
    text = parse_str(value, 2048)
    return bytes.fromhex(text[2:] if text[:2] in ("0x", "0X") else text)

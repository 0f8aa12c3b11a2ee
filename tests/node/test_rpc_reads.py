"""The RPC's read pool and request budgets (node.rpc.reads), the batch loop (node.rpc.jsonrpc)
and the request guard (node.rpc.guard), over a real in-memory chain.

What they promise: a request decodes each block at most once; a request (a whole batch) over
its budget gets the typed JSON-RPC error; a batch stops running calls once its answer reached
the byte cap; a batch lets the loop run between its calls; a full read queue refuses new work;
only local names, IP addresses and configured names pass the Host check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from typing import Any, cast

import pytest

from consensus.crypto import sha256
from node.chain import Chain
from node.config import RpcSection
from node.loop_slices import SLICE_S
from node.rpc import jsonrpc
from node.rpc.comet.index import EventIndex
from node.rpc.comet.txs import TxRoutes
from node.rpc.guard import compute_allowed_hosts, get_host_name, is_host_allowed
from node.rpc.jsonrpc import Method, Param, Registry
from node.rpc.reads import CostLimits, ReadPool, ReadsBusy, RequestBudget, budget_scope
from node.services import NodeServices
from tests.node.loop_turns import count_loop_turns
from tests.node.test_comet_shapes_index import _chain, _commit, _transfer

ROWS = 40


@pytest.fixture
def chain() -> Chain:
    chain = _chain()
    _commit(chain, tuple(_transfer("BANKA/alice", "BANKA/bob", 1, n) for n in range(1, ROWS + 1)))
    return chain


def _count_block_reads(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    reads: Counter[str] = Counter()
    store_type = type(chain.store)
    get_block, get_results = store_type.get_block, store_type.get_results

    def counted_block(store: Any, height: int) -> bytes | None:
        reads["block"] += 1
        return get_block(store, height)

    def counted_results(store: Any, height: int) -> bytes | None:
        reads["results"] += 1
        return get_results(store, height)

    monkeypatch.setattr(store_type, "get_block", counted_block)
    monkeypatch.setattr(store_type, "get_results", counted_results)
    return reads


def _tx_routes(chain: Chain, pool: ReadPool) -> TxRoutes:
    services = cast(NodeServices, type("S", (), {"chain": chain, "compute_tx_hash": sha256}))
    return TxRoutes(services, EventIndex(chain, pool), pool)


def _run_with_pool(make: Any) -> Any:
    async def main() -> Any:
        pool = ReadPool(2, 8)
        try:
            return await make(pool)
        finally:
            pool.close()

    return asyncio.run(main())


def test_tx_search_decodes_each_block_once_per_request(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def search(pool: ReadPool) -> tuple[dict[str, Any], Counter[str]]:
        routes = _tx_routes(chain, pool)
        await routes.index.catch_up()
        reads = _count_block_reads(chain, monkeypatch)
        with budget_scope(RequestBudget()):
            found = await routes.tx_search("tx.height=1", True, None, 100, None)
        return found, reads

    found, reads = _run_with_pool(search)
    assert len(found["txs"]) == ROWS
    assert reads == Counter({"block": 1, "results": 1})


def test_a_search_over_budget_is_the_typed_limit_error(chain: Chain) -> None:
    async def search(pool: ReadPool) -> Any:
        routes = _tx_routes(chain, pool)
        registry = Registry(limits=CostLimits(rows_max=ROWS // 2))
        registry.add(Method("tx_search", routes.tx_search, _SEARCH_PARAMS))
        body = json.dumps(_call("tx_search", {"query": "tx.height=1", "per_page": "100"}))
        return json.loads(await jsonrpc.answer_body_bytes(registry, body.encode(), _fail))

    answer = _run_with_pool(search)
    assert answer["error"]["code"] == jsonrpc.LIMIT_EXCEEDED
    assert answer["error"]["message"] == "Limit exceeded"
    assert "transactions" in answer["error"]["data"]


_SEARCH_PARAMS = (
    Param("query", jsonrpc.parse_str, required=True),
    Param("prove", jsonrpc.parse_bool, default=False),
    Param("page", jsonrpc.parse_height),
    Param("per_page", jsonrpc.parse_height),
    Param("order_by", jsonrpc.parse_str),
)


def _call(method: str, params: dict[str, Any], request_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def _fail(exc: BaseException) -> None:
    raise AssertionError(f"internal error: {exc!r}")


def _counting_registry(limits: CostLimits, ran: list[int], busy_s: float = 0.0) -> Registry:
    async def big(n: int | None) -> str:
        ran.append(n or 0)
        deadline = time.monotonic() + busy_s
        while time.monotonic() < deadline:  # work that holds the loop, as a heavy call would
            pass
        return "x" * 1000

    registry = Registry(limits=limits)
    registry.add(Method("big", big, (Param("n", jsonrpc.parse_int64),)))
    return registry


def test_a_batch_stops_running_calls_at_the_response_cap() -> None:
    ran: list[int] = []
    registry = _counting_registry(CostLimits(response_bytes_max=5000), ran)
    batch = [_call("big", {"n": i}, i) for i in range(20)]

    body = asyncio.run(jsonrpc.answer_body_bytes(registry, json.dumps(batch).encode(), _fail))
    answers = json.loads(body)
    assert [a["id"] for a in answers] == list(range(20))
    served = [a["id"] for a in answers if "result" in a]
    assert served == list(range(len(served))) and 0 < len(served) < 6
    assert ran == [*served, len(served)]  # the call that did not fit ran; none after it
    refused = [a["error"]["code"] for a in answers if "error" in a]
    assert refused == [jsonrpc.RESPONSE_TOO_LARGE] * (20 - len(served))
    assert len(body) < 5000 + 200 * len(refused)


def test_a_batch_lets_the_loop_run_between_its_calls() -> None:
    """Calls that each take longer than a slice (``node.loop_slices``) are each followed by a
    turn of the loop; cheap calls share a slice (a yield would cost more than they do)."""
    ran: list[int] = []
    registry = _counting_registry(CostLimits(), ran, busy_s=2 * SLICE_S)
    batch = json.dumps([_call("big", {"n": i}, i) for i in range(10)]).encode()
    turns = asyncio.run(count_loop_turns(lambda: jsonrpc.answer_body_bytes(registry, batch, _fail)))
    assert ran == list(range(10))
    assert turns >= 9


def test_a_full_read_queue_refuses_new_reads() -> None:
    release = threading.Event()

    async def main() -> None:
        pool = ReadPool(1, 1)
        try:
            first = asyncio.ensure_future(pool.run(release.wait, 60.0))
            await asyncio.sleep(0)
            with pytest.raises(ReadsBusy):
                await pool.run(lambda: None)
            upkeep = asyncio.ensure_future(pool.run(lambda: "ran", admit=False))
            release.set()
            assert await first is True and await upkeep == "ran"
        finally:
            release.set()
            pool.close()

    asyncio.run(main())


def test_a_read_whose_caller_hung_up_keeps_its_slot_until_done() -> None:
    started, release = threading.Event(), threading.Event()

    def job() -> None:
        started.set()
        release.wait(60.0)

    async def main() -> None:
        pool = ReadPool(1, 1)
        try:
            caller = asyncio.ensure_future(pool.run(job))
            while not started.is_set():
                await asyncio.sleep(0.001)
            caller.cancel()  # the client went away; its read still runs in the thread
            with contextlib.suppress(asyncio.CancelledError):
                await caller
            with pytest.raises(ReadsBusy):
                await pool.run(lambda: None)
            release.set()
            while pool.pending:
                await asyncio.sleep(0.001)
            assert await pool.run(lambda: "ran") == "ran"
        finally:
            release.set()
            pool.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, True),
        ("localhost", True),
        ("LocalHost:26657", True),
        ("127.0.0.1:26657", True),
        ("[::1]:26657", True),
        ("192.0.2.7", True),
        ("node.bank.example:443", True),
        ("evil.example", False),
        ("evil.example:26657", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_host_check(header: str | None, allowed: bool) -> None:
    rpc = RpcSection(hosts_allowed=("node.bank.example",))
    assert is_host_allowed(header, compute_allowed_hosts(rpc)) is allowed


def test_host_check_star_and_names() -> None:
    assert is_host_allowed(
        "anything.example", compute_allowed_hosts(RpcSection(hosts_allowed=("*",)))
    )
    assert get_host_name("[::1]:80") == "::1" and get_host_name("A.example:1") == "a.example"

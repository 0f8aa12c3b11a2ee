"""Signature checks on worker threads (node.verify_pool) change nothing about what is admitted.

Two real assembled nodes (LevelDB store, mempool, journal, RPC server on a real socket), one
checking signatures inline and one on two worker threads, get the same submissions: a JSON-RPC
batch array, a REST batch and a gossip batch, each with submitters interleaved, nonce gaps, a
repeated nonce, a nonce past the window, a bad signature, a stranger's signature, a duplicate
and a malformed tx. Both must answer each tx alike and end with the same pool, and the threaded
one must have taken its verdicts from the threads. The pool of threads is bounded too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from consensus.crypto import sha256
from consensus.ledger import Code, SignedTx, decode_tx
from consensus.ledger.txs import Transfer
from consensus.types import Hash32
from node import checktx as checktx_module
from node import verify_pool
from node.app import Node, NodeHome
from node.config import load_config, write_config
from node.gossip import TxBatch, encode_gossip
from node.home import CONFIG_FILE
from node.rpc.comet import methods as comet
from node.rpc.rest import routes as rest
from node.rpc.server import build_app, start_server
from node.verify_pool import SignatureVerifier
from tests.consensus.ledger.world import TxFactory
from tests.node.node_world import ME, write_home

SUBMITTERS = ("BANKA/alice", "BANKA/bob", "BANKB/carol")
PAYEE = {"BANKA/alice": "BANKA/bob", "BANKA/bob": "BANKA/alice", "BANKB/carol": "CB/BANKB"}


def build_mixed_batch(first_nonce: int, factory: TxFactory) -> list[bytes]:
    """Txs of three submitters interleaved; gaps, a repeat, a far nonce, bad and foreign
    signatures, a duplicate and garbage, in an order where each matters."""
    out: list[bytes] = []

    def pay(submitter: str, nonce: int, signer: str | None = None) -> bytes:
        instrument = submitter.split("/")[0] + ":USD"
        body = Transfer(PAYEE[submitter], instrument, 1)
        raw = factory.raw(submitter, body, [signer or submitter], nonce=nonce)
        out.append(raw)
        return raw

    n = first_nonce
    for step in range(6):
        for submitter in SUBMITTERS:
            if (step, submitter) == (2, "BANKA/bob"):
                continue  # a gap: bob's n+2 never comes
            pay(submitter, n + step)
    pay("BANKA/alice", n + 2)  # the same nonce again (another tx): already pending
    pay("BANKB/carol", n + 500)  # past the nonce window
    pay("BANKA/bob", n + 7, signer="BANKA/alice")  # a key that is not bob's
    forged = bytearray(pay("BANKA/alice", n + 6))
    forged[-1] ^= 1  # the signature no longer verifies...
    out[-1] = bytes(forged)
    out.append(out[0])  # a duplicate of the first tx
    out.append(b"\x92\x01\x02")  # not a tx
    pay("BANKA/alice", n + 6)  # ...and the honest one of that nonce, after the forged one
    return out


def _with_threads(home: Path, threads: int) -> Path:
    config = load_config(home / CONFIG_FILE)
    mempool = dataclasses.replace(config.mempool, verify_threads=threads)
    write_config(dataclasses.replace(config, mempool=mempool), home / CONFIG_FILE)
    return home


@contextlib.asynccontextmanager
async def serving_nodes(tmp_path: Path) -> AsyncIterator[list[tuple[Node, str]]]:
    started: list[tuple[Node, str]] = []
    runners = []
    try:
        for threads in (1, 2):
            home = _with_threads(write_home(tmp_path / f"home-{threads}", ME), threads)
            node = Node(NodeHome.load(home))
            runner = await start_server(
                build_app(node.services, [comet.install, rest.install]), "127.0.0.1", 0
            )
            runners.append(runner)
            port = runner.addresses[0][1]
            started.append((node, f"http://127.0.0.1:{port}"))
        yield started
    finally:
        for runner in runners:
            await runner.cleanup()
        for node, _ in started:
            node.close()


def pool_of(node: Node) -> dict[str, list[int]]:
    return {s: node.mempool.get_pending_nonces(s) for s in SUBMITTERS}


async def post_jsonrpc_batch(
    session: aiohttp.ClientSession, url: str, raws: Sequence[bytes]
) -> Any:
    body = [
        {"jsonrpc": "2.0", "id": i, "method": "broadcast_tx_sync",
         "params": {"tx": base64.b64encode(raw).decode()}}
        for i, raw in enumerate(raws)
    ]  # fmt: skip
    async with session.post(url + "/", json=body) as response:
        answers = await response.json()
    return [(a.get("result") or {}).get("code", a.get("error", {}).get("code")) for a in answers]


async def post_rest_batch(session: aiohttp.ClientSession, url: str, raws: Sequence[bytes]) -> Any:
    body = {"txs": [base64.b64encode(raw).decode() for raw in raws]}
    async with session.post(url + "/api/v1/txs", json=body) as response:
        answer = await response.json()
    return [
        (r["status_code"], r.get("status"), r.get("error", {}).get("details"))
        for r in answer["results"]
    ]


def test_threaded_admission_admits_exactly_what_inline_admits(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving_nodes(tmp_path) as nodes:
            await submit_to_both(nodes)

    asyncio.run(scenario())


async def submit_to_both(nodes: list[tuple[Node, str]]) -> None:
    (inline, inline_url), (threaded, threaded_url) = nodes
    assert not inline.verifier.is_threaded and threaded.verifier.threads == 2
    factory = TxFactory()
    jsonrpc_batch = build_mixed_batch(1, factory)
    rest_batch = build_mixed_batch(8, factory)[:100]
    gossip_batch = build_mixed_batch(15, factory)
    answers: list[list[Any]] = []
    async with aiohttp.ClientSession() as session:
        for url in (inline_url, threaded_url):
            answers.append(
                [
                    await post_jsonrpc_batch(session, url, jsonrpc_batch),
                    await post_rest_batch(session, url, rest_batch),
                ]
            )
    for node in (inline, threaded):
        await node.router.on_message(b"peer", encode_gossip(TxBatch(tuple(gossip_batch))))
    assert answers[0] == answers[1]
    assert pool_of(inline) == pool_of(threaded)
    assert pool_of(inline)["BANKA/bob"] == [1, 2, 4, 5, 6, 8, 9, 11, 12, 13, 15, 16, 18, 19, 20]
    assert len(inline.mempool) == len(threaded.mempool) > 0
    assert inline.mempool.stats() == threaded.mempool.stats()
    for raw in (*jsonrpc_batch, *rest_batch, *gossip_batch):
        assert inline.mempool.get_status(_hash(raw)) == threaded.mempool.get_status(_hash(raw))
    # the threaded node used the threads' verdicts, and kept none of them afterwards
    assert threaded.verifier.taken_total > 0 and inline.verifier.taken_total == 0
    assert threaded.verifier.verified_total >= threaded.verifier.taken_total
    assert not threaded.verifier._verdicts


def _hash(raw: bytes) -> Hash32:
    return sha256(raw)


def test_the_threads_and_the_batches_waiting_for_them_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asyncio.run(_bounded_scenario(monkeypatch))


async def _bounded_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    release = threading.Event()
    real = verify_pool._verify_chunk

    def counted(txs: Sequence[SignedTx]) -> list[bool]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(30)
        try:
            return real(txs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(verify_pool, "_verify_chunk", counted)
    verifier = SignatureVerifier(2)
    factory = TxFactory()
    batches = [
        [factory.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1)) for _ in range(40)]
        for _ in range(12)
    ]
    admitted: list[int] = []

    async def admit(raws: list[bytes]) -> None:
        async with verifier.prepared(raws):
            admitted.append(sum(verifier.take(raw) is True for raw in raws))

    tasks = [asyncio.create_task(admit(raws)) for raws in batches]
    for _ in range(50):
        await asyncio.sleep(0.01)
    # 12 batches of 2 chunks wait, but only 2 chunks run and 4 batches are past the gate
    assert most <= 2
    executor = verifier._executor
    assert executor is not None and len(executor._threads) == 2
    assert executor._work_queue.qsize() <= 4 * 2 - 2
    release.set()
    await asyncio.gather(*tasks)
    verifier.close()
    assert admitted == [40] * 12
    assert most == 2
    assert not verifier._verdicts


def test_a_prepared_verdict_is_forgotten_when_its_batch_is_done() -> None:
    asyncio.run(_forgotten_scenario())


async def _forgotten_scenario() -> None:
    verifier = SignatureVerifier(2)
    factory = TxFactory()
    raws = [factory.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1)) for _ in range(40)]
    async with verifier.prepared(raws):
        assert verifier.take(raws[0]) is True
        assert verifier.take(raws[0]) is None  # taken once
    assert verifier.take(raws[1]) is None
    assert not verifier._verdicts
    assert decode_tx(raws[1]).unsigned.nonce == 2
    verifier.close()


def test_the_automatic_thread_count_follows_the_host() -> None:
    assert verify_pool.resolve_threads(-1, cpu_count=1) == 1
    assert verify_pool.resolve_threads(-1, cpu_count=2) == 1  # the event loop keeps its core
    assert verify_pool.resolve_threads(-1, cpu_count=3) == 2
    assert verify_pool.resolve_threads(-1, cpu_count=64) == verify_pool.THREADS_MAX_AUTO
    assert verify_pool.resolve_threads(0) == verify_pool.resolve_threads(1) == 1
    assert verify_pool.resolve_threads(3) == 3


def test_a_strangers_junk_buys_no_signature_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack of ``bench --attack``: batches of txs from invented submitters, each signed by
    a key of its own. Both nodes refuse them as unknown submitters without verifying one
    signature, inline or on the threads (a verification is most of what admission costs)."""
    inline_checks = count_calls(monkeypatch, checktx_module, "verify_tx_signatures")
    threaded_checks = count_calls(monkeypatch, verify_pool, "_verify_chunk")
    factory = TxFactory()
    junk = [
        factory.raw(f"EVIL{i}/x", Transfer("BANKA/bob", "BANKA:USD", 1), [f"evil-{i}"], nonce=1)
        for i in range(64)
    ]

    async def scenario() -> None:
        async with serving_nodes(tmp_path) as nodes:
            async with aiohttp.ClientSession() as session:
                for node, url in nodes:
                    codes = await post_jsonrpc_batch(session, url, junk)
                    assert codes == [int(Code.UNKNOWN_SUBMITTER)] * len(junk)
                    await node.router.on_message(b"peer", encode_gossip(TxBatch(tuple(junk))))
                    assert len(node.mempool) == 0
            threaded = nodes[1][0]
            assert threaded.verifier.verified_total == 0

    asyncio.run(scenario())
    assert inline_checks == [] and threaded_checks == []


def count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[object]:
    """A list that grows by one per call of ``module.name`` (which still runs)."""
    calls: list[object] = []
    real = getattr(module, name)

    def counted(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(module, name, counted)
    return calls

"""Tx gossip frames: a client's JSON-RPC batch goes to the peers as one frame, not as one frame
per timer tick (its calls yield to the loop between them, and every frame costs each peer a
read, a decryption and a decode); a batch held too long, and txs outside any batch, still go
out on the timer, which is armed only while transactions wait (an idle node's loop does not
wake to poll an empty queue)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from consensus.ledger.txs import Transfer
from node import services as services_module
from node.app import Node, NodeHome
from node.gossip import TxBatch, decode_gossip
from node.rpc.comet import methods as comet
from node.rpc.server import build_app, start_server
from node.services import TxGossip
from tests.consensus.ledger.world import TxFactory
from tests.node.node_world import ME, write_home

BATCH_TXS = 30


def _transfers(count: int) -> list[bytes]:
    factory = TxFactory()
    body = Transfer("BANKA/bob", "BANKA:USD", 1)
    return [factory.raw("BANKA/alice", body, nonce=n) for n in range(1, count + 1)]


def _txs_of(frames: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for frame in frames:
        payload = decode_gossip(frame)
        assert isinstance(payload, TxBatch)
        out.extend(payload.txs)
    return out


def test_a_jsonrpc_batch_is_gossiped_in_one_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services_module, "TX_GOSSIP_FLUSH_S", 0.0)  # due at the next yield
    raws = _transfers(BATCH_TXS)
    frames: list[bytes] = []

    async def scenario() -> list[int]:
        node = Node(NodeHome.load(write_home(tmp_path / "home", ME)))
        node.services.gossip = gossip = TxGossip(frames.append)
        runner = await start_server(build_app(node.services, [comet.install]), "127.0.0.1", 0)
        try:
            body = [
                {"jsonrpc": "2.0", "id": i, "method": "broadcast_tx_async",
                 "params": {"tx": base64.b64encode(raw).decode()}}
                for i, raw in enumerate(raws)
            ]  # fmt: skip
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            async with aiohttp.ClientSession() as session, session.post(url, json=body) as reply:
                answers = await reply.json()
            return [a["result"]["code"] for a in answers]
        finally:
            gossip.close()
            await runner.cleanup()
            node.close()

    codes = asyncio.run(scenario())
    assert codes == [0] * BATCH_TXS
    assert len(frames) == 1
    assert _txs_of(frames) == raws


def test_a_batch_held_too_long_and_txs_outside_a_batch_go_out_on_the_timer() -> None:
    raws = _transfers(3)
    frames: list[bytes] = []

    async def scenario() -> None:
        gossip = TxGossip(frames.append, hold_max_s=0.0)
        with gossip.held():
            gossip.queue(raws[0])
            await _until(lambda: len(frames) == 1)  # held, but for longer than allowed
        gossip.queue(raws[1])
        gossip.queue(raws[2])
        await _until(lambda: len(frames) == 2)

    asyncio.run(scenario())
    assert _txs_of(frames) == raws


def test_leaving_a_hold_sends_what_it_held() -> None:
    raws = _transfers(2)
    frames: list[bytes] = []
    gossip = TxGossip(frames.append)
    with gossip.held():
        with gossip.held():  # nested: only the outer one sends
            gossip.queue(raws[0])
        assert frames == []
        gossip.queue(raws[1])
    assert len(frames) == 1 and _txs_of(frames) == raws
    gossip.flush()
    assert len(frames) == 1  # nothing pending: no empty frame


def test_the_timer_is_armed_only_while_txs_wait_and_sends_them_in_one_frame() -> None:
    raws = _transfers(3)
    frames: list[bytes] = []

    async def scenario() -> None:
        gossip = TxGossip(frames.append)
        await _yield_to_loop()
        assert not gossip.is_armed  # nothing queued: no wake-up scheduled
        for raw in raws:
            gossip.queue(raw)
        assert gossip.is_armed
        await _until(lambda: len(frames) == 1)
        assert not gossip.is_armed  # fired once, not re-armed over an empty queue
        await _yield_to_loop()
        assert not gossip.is_armed and len(frames) == 1
        with gossip.held():  # a hold's end sends and leaves no timer behind
            gossip.queue(raws[0])
        assert len(frames) == 2 and not gossip.is_armed

    asyncio.run(scenario())
    assert _txs_of(frames) == [*raws, raws[0]]


async def _yield_to_loop() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _until(condition: Callable[[], bool], deadline_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.001)

"""The ``hash`` of a broadcast_tx_async/sync answer is the SHA-256 of the tx's bytes, whatever
the mempool made of it (accepted, already known, refused): the RPC takes it from the mempool's
outcome instead of hashing every submitted tx a second time."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import aiohttp

from consensus.crypto import sha256
from consensus.ledger.txs import Transfer
from node.app import Node, NodeHome
from node.rpc.comet import methods as comet
from node.rpc.server import build_app, start_server
from tests.consensus.ledger.world import TxFactory
from tests.node.node_world import ME, write_home


def _call(method: str, raw: bytes, index: int) -> dict[str, Any]:
    params = {"tx": base64.b64encode(raw).decode()}
    return {"jsonrpc": "2.0", "id": index, "method": method, "params": params}


def test_every_answer_carries_the_hash_of_its_tx(tmp_path: Path) -> None:
    factory = TxFactory()
    first = factory.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1), nonce=1)
    same_nonce = factory.raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 2), nonce=1)
    stranger = factory.raw("BANKA/nobody", Transfer("BANKA/bob", "BANKA:USD", 1), nonce=1)
    sent = [
        ("broadcast_tx_async", first),  # accepted
        ("broadcast_tx_sync", first),  # already in the mempool
        ("broadcast_tx_async", same_nonce),  # refused: that nonce is pending
        ("broadcast_tx_sync", stranger),  # refused: no such account
    ]

    async def scenario() -> list[dict[str, Any]]:
        node = Node(NodeHome.load(write_home(tmp_path / "home", ME)))
        runner = await start_server(build_app(node.services, [comet.install]), "127.0.0.1", 0)
        try:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            body = [_call(method, raw, i) for i, (method, raw) in enumerate(sent)]
            async with aiohttp.ClientSession() as session, session.post(url, json=body) as reply:
                answers: list[dict[str, Any]] = await reply.json()
                return answers
        finally:
            await runner.cleanup()
            node.close()

    answers = sorted(asyncio.run(scenario()), key=lambda answer: int(answer["id"]))
    codes = [answer["result"]["code"] for answer in answers]
    assert codes[0] == 0 and codes[1] == 0 and codes[2] != 0 and codes[3] != 0, answers
    assert "already" in answers[1]["result"]["log"]
    for answer, (_, raw) in zip(answers, sent, strict=True):
        assert answer["result"]["hash"] == sha256(raw).hex().upper()

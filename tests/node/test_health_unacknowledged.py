"""``GET /health`` is answered while the mempool journal's fdatasync is in flight; an
acknowledgement of a transaction still waits for it.

A real assembled node (LevelDB store, mempool, journal, RPC server on a real socket). The
journal's fdatasync (``node.durable.sync_file_data``) is held at its start until the test lets it
go: a transaction is submitted, its answer must wait for the held sync, and a ``/health`` probe
sent meanwhile must be answered. Were ``/health`` made to wait for the sync like every other
answer, the probe would get no answer until the hold gives up (the test fails). No wall-clock
figure is asserted; the deadlines are generous for a shared machine.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node import durable
from node.app import Node, NodeHome
from node.rpc.comet import methods as comet
from node.rpc.rest import routes as rest
from node.rpc.server import build_app, start_server
from tests.node.node_world import ME, transfer, write_home

HOLD_S = 60.0
"""How long the held fdatasync waits for the test (the failure path)."""
PROBE_TIMEOUT_S = 30.0
"""A /health that waits for the held sync gets no answer within this; one that does not wait
answers in far less, even on a loaded machine."""


def test_health_answers_while_the_journal_syncs_and_the_ack_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_sync = durable.sync_file_data

    def held_sync(fd: int) -> None:
        entered.set()
        release.wait(HOLD_S)
        real_sync(fd)

    monkeypatch.setattr(durable, "sync_file_data", held_sync)
    home = write_home(tmp_path / "bank-a", ME)

    async def scenario() -> tuple[int, bool, Any]:
        node = Node(NodeHome.load(home))
        assert node.services.journal is not None
        app = build_app(node.services, [comet.install, rest.install])
        runner = await start_server(app, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as session:
                tx = base64.b64encode(transfer(10, nonce=1)).decode()
                submit = asyncio.create_task(_get_json(session, f"{url}/broadcast_tx_sync", tx))
                while not entered.is_set():  # the journal's sync has begun, and is held
                    assert not submit.done(), await submit
                    await asyncio.sleep(0.01)
                timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
                async with session.get(f"{url}/health", timeout=timeout) as answer:
                    status = answer.status
                ack_waited = not submit.done()
                release.set()
                return status, ack_waited, await submit
        finally:
            release.set()
            await runner.cleanup()
            node.close()

    status, ack_waited, submitted = asyncio.run(scenario())
    assert status == 200
    assert ack_waited, "the tx was acknowledged before the journal's fdatasync returned"
    assert submitted["result"]["code"] == 0, submitted


async def _get_json(session: aiohttp.ClientSession, url: str, tx: str) -> Any:
    async with session.get(url, params={"tx": f'"{tx}"'}) as answer:
        return await answer.json()

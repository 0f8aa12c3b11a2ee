"""``/websocket`` against a real cluster: subscriptions see NewBlock, NewBlockHeader and the Tx
events of a committed transfer in CometBFT's shape; ordinary methods work over the socket;
subscription limits and bad queries are answered as JSON-RPC errors."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import pytest

from consensus.crypto import sha256
from node.rpc.websocket import SUBSCRIPTIONS_PER_CONNECTION_MAX
from tests.integration.harness import Cluster
from tests.integration.test_rpc_comet_support import (
    b64,
    make_transfer,
    result,
)

pytestmark = pytest.mark.integration

EVENT_TIMEOUT_S = 30.0


def _ws_url(cluster: Cluster) -> str:
    return cluster.url(0).replace("http://", "ws://") + "/websocket"


async def _call(
    ws: aiohttp.ClientWebSocketResponse, request_id: Any, method: str, **params: Any
) -> Any:
    await ws.send_json({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
    return await _next_with_id(ws, request_id, want_event=False)


async def _next_with_id(
    ws: aiohttp.ClientWebSocketResponse, request_id: Any, *, want_event: bool
) -> dict[str, Any]:
    """The next message for ``request_id``: an answer, or (want_event) an event."""
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while True:
            message = await ws.receive_json()
            if message.get("id") != request_id:
                continue
            is_event = "query" in (message.get("result") or {})
            if is_event == want_event:
                return message  # type: ignore[no-any-return]


def test_subscribers_see_new_blocks_and_the_tx_events_of_a_transfer(comet_cluster: Cluster) -> None:
    raw = make_transfer(
        comet_cluster, payer="BANKC/carol", payee="BANKC/dave", instrument="BANKC:HKD"
    )
    tx_hash = sha256(raw).hex().upper()
    asyncio.run(_subscribe_and_transfer(comet_cluster, raw, tx_hash))


async def _subscribe_and_transfer(cluster: Cluster, raw: bytes, tx_hash: str) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(_ws_url(cluster)) as ws:
        assert (await _call(ws, "b", "subscribe", query="tm.event='NewBlock'"))["result"] == {}
        header_query = "tm.event='NewBlockHeader'"
        assert (await _call(ws, "h", "subscribe", query=header_query))["result"] == {}
        tx_query = f"tm.event='Tx' AND tx.hash='{tx_hash}'"
        assert (await _call(ws, "t", "subscribe", query=tx_query))["result"] == {}
        status = await _call(ws, 9, "status")
        assert status["result"]["node_info"]["version"].startswith("0.38.")

        block_event = (await _next_with_id(ws, "b", want_event=True))["result"]
        assert block_event["query"] == "tm.event='NewBlock'"
        assert block_event["data"]["type"] == "tendermint/event/NewBlock"
        assert block_event["events"]["tm.event"] == ["NewBlock"]
        value = block_event["data"]["value"]
        assert set(value) >= {"block", "block_id", "result_finalize_block"}
        assert value["block_id"]["hash"] and value["block"]["header"]["height"].isdigit()
        header_event = (await _next_with_id(ws, "h", want_event=True))["result"]
        assert header_event["data"]["type"] == "tendermint/event/NewBlockHeader"
        assert header_event["data"]["value"]["header"]["chain_id"] == "depochain-localnet"

        sync = result(cluster, "broadcast_tx_sync", tx=b64(raw))
        assert sync["code"] == 0, sync
        tx_event = (await _next_with_id(ws, "t", want_event=True))["result"]
        assert tx_event["query"] == tx_query
        assert tx_event["data"]["type"] == "tendermint/event/Tx"
        tx_result = tx_event["data"]["value"]["TxResult"]
        assert base64.b64decode(tx_result["tx"]) == raw
        assert tx_result["result"]["code"] == 0 and tx_result["height"].isdigit()
        events = tx_event["events"]
        assert events["tx.hash"] == [tx_hash] and events["tm.event"] == ["Tx"]
        assert events["Transferred.from_account"] == ["BANKC/carol"]

        assert (await _call(ws, "u", "unsubscribe", query=tx_query))["result"] == {}
        assert (await _call(ws, "u2", "unsubscribe", query=tx_query))["error"]["code"] == -32603
        assert (await _call(ws, "all", "unsubscribe_all"))["result"] == {}


def test_subscription_limits_and_bad_queries(comet_cluster: Cluster) -> None:
    asyncio.run(_limits(comet_cluster))


async def _limits(cluster: Cluster) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(_ws_url(cluster)) as ws:
        for index in range(SUBSCRIPTIONS_PER_CONNECTION_MAX):
            query = f"tm.event='Tx' AND tx.height>{index}"
            assert (await _call(ws, index, "subscribe", query=query))["result"] == {}
        over = await _call(ws, "over", "subscribe", query="tm.event='NewBlock'")
        assert (
            over["error"]["code"] == -32603
            and "max_subscriptions_per_client" in over["error"]["data"]
        )
        again = await _call(ws, "dup", "subscribe", query="tm.event='Tx' AND tx.height>0")
        assert again["error"]["code"] == -32603
        bad = await _call(ws, "bad", "subscribe", query="tm.event=NewBlock")
        assert bad["error"]["code"] == -32602
        missing = await _call(ws, "none", "subscribe")
        assert missing["error"]["code"] == -32602
        unknown = await _call(ws, "x", "no_such_method")
        assert unknown["error"]["code"] == -32601
        await ws.send_str("{not json")
        parse_error = await ws.receive_json(timeout=EVENT_TIMEOUT_S)
        assert parse_error["error"]["code"] == -32700
        assert (await _call(ws, "all", "unsubscribe_all"))["result"] == {}
        assert (await _call(ws, "all2", "unsubscribe_all"))["error"]["code"] == -32603

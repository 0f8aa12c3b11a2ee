"""Hostile JSON against a real node: a body nested far deeper than any request needs.

Python's JSON decoder recurses per level and raises ``RecursionError`` past about a thousand;
uncaught, that was an HTTP 500 with a logged traceback. Every JSON entry point (JSON-RPC POST,
the REST submission route, the websocket) must answer it as a parse error and keep serving.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from tests.integration.harness import Cluster
from tests.integration.test_rpc_api_cluster import get_api_cluster

pytestmark = pytest.mark.integration

DEEP = b"[" * 100_000 + b"]" * 100_000
"""200 KB: well under the body limit, far over the decoder's recursion limit."""


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    return get_api_cluster(request)


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_deep_json_rpc_body_is_a_parse_error(cluster: Cluster) -> None:
    status, answer = post(cluster.url(0) + "/", DEEP)
    assert status == 200, answer  # JSON-RPC answers errors in the body, as CometBFT does
    assert answer["error"]["code"] == -32700 and "nested too deeply" in answer["error"]["data"]
    assert post(cluster.url(0) + "/", b'{"jsonrpc":"2.0","id":1,"method":"health"}')[0] == 200


def test_deep_rest_submission_is_a_400(cluster: Cluster) -> None:
    status, answer = post(cluster.url(0) + "/api/v1/txs", b'{"txs": ' + DEEP + b"}")
    assert status == 400, answer
    assert (
        answer["error"]["code"] == "malformed" and "nested too deeply" in answer["error"]["message"]
    )


async def _websocket_exchange(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(DEEP.decode())
        answer: dict[str, Any] = json.loads((await ws.receive(timeout=20)).data)
        await ws.send_str('{"jsonrpc":"2.0","id":2,"method":"health"}')
        after: dict[str, Any] = json.loads((await ws.receive(timeout=20)).data)
        assert after.get("id") == 2 and "result" in after, after
        return answer


def test_deep_websocket_message_is_a_parse_error_and_the_socket_stays_open(
    cluster: Cluster,
) -> None:
    answer = asyncio.run(_websocket_exchange(cluster.url(0).replace("http", "ws") + "/websocket"))
    assert answer["error"]["code"] == -32700 and "nested too deeply" in answer["error"]["data"]

"""JSON-RPC 2.0 plumbing: single calls, batches, notifications, errors and param parsing."""

import asyncio
import json
from typing import Any

import pytest

from node.rpc import jsonrpc
from node.rpc.jsonrpc import Method, Param, Registry

internal: list[BaseException] = []


async def echo(height: int | None, name: str | None) -> dict[str, Any]:
    return {"height": height, "name": name}


async def boom() -> None:
    raise RuntimeError("our bug")


def make_registry() -> Registry:
    registry = Registry()
    registry.add(
        Method(
            "echo",
            echo,
            (Param("height", jsonrpc.parse_height), Param("name", jsonrpc.parse_str)),
        )
    )
    registry.add(Method("boom", boom))
    return registry


def answer(body: object) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return asyncio.run(jsonrpc.answer_body(make_registry(), raw, internal.append))


def test_single_call_with_named_and_positional_params() -> None:
    named = answer({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"height": "5"}})
    assert named == {"jsonrpc": "2.0", "id": 1, "result": {"height": 5, "name": None}}
    positional = answer({"jsonrpc": "2.0", "id": "a", "method": "echo", "params": [7, "x"]})
    assert positional["result"] == {"height": 7, "name": "x"}


def test_batch_keeps_order_and_skips_notifications() -> None:
    replies = answer(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"height": 1}},
            {"jsonrpc": "2.0", "method": "echo"},
            {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        ]
    )
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[1]["error"]["code"] == jsonrpc.METHOD_NOT_FOUND


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", jsonrpc.PARSE_ERROR),
        ([], jsonrpc.INVALID_REQUEST),
        ([{"id": 1}] * (jsonrpc.BATCH_REQUESTS_MAX + 1), jsonrpc.INVALID_REQUEST),
        ({"jsonrpc": "1.0", "id": 1, "method": "echo"}, jsonrpc.INVALID_REQUEST),
        ({"jsonrpc": "2.0", "id": [1], "method": "echo"}, jsonrpc.INVALID_REQUEST),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"height": -1}},
            jsonrpc.INVALID_PARAMS,
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"height": "1e3"}},
            jsonrpc.INVALID_PARAMS,
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"bogus": 1}},
            jsonrpc.INVALID_PARAMS,
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": [1, "a", 3]},
            jsonrpc.INVALID_PARAMS,
        ),
        ({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": "str"}, jsonrpc.INVALID_PARAMS),
    ],
)
def test_bad_requests_get_typed_errors(body: object, code: int) -> None:
    reply = answer(body)
    error = reply["error"] if isinstance(reply, dict) else reply[0]["error"]
    assert error["code"] == code


def test_handler_bug_is_an_internal_error_not_a_crash() -> None:
    internal.clear()
    reply = answer({"jsonrpc": "2.0", "id": 9, "method": "boom"})
    assert reply["error"]["code"] == jsonrpc.INTERNAL_ERROR
    assert "our bug" not in json.dumps(reply)
    assert len(internal) == 1


def test_uri_params_strip_quotes() -> None:
    assert jsonrpc.uri_params({"hash": '"0xAB"', "height": "5"}) == {"hash": "0xAB", "height": "5"}


@pytest.mark.parametrize("value", ["0x" + "ab" * 32, "ab" * 32, "q" * 43 + "="])
def test_parse_hash_accepts_hex_and_base64(value: str) -> None:
    assert len(jsonrpc.parse_hash(value)) == 32


@pytest.mark.parametrize("value", ["0x12", "zz" * 32, 5, "a" * 200])
def test_parse_hash_rejects_garbage(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        jsonrpc.parse_hash(value)

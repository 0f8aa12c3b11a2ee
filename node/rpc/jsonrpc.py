"""JSON-RPC 2.0 plumbing shared by the POST `/` endpoint, URI GET routes and the websocket.

CometBFT's RPC exposes every method three ways (POST JSON-RPC, GET with query parameters, and
JSON-RPC over a websocket); clients such as cosmjs rely on its exact envelope. This module turns
raw requests into calls of registered async handlers and every failure into a JSON-RPC error
object, so a handler never has to think about transport, and a bad request can never surface as
an HTTP 500.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from node.errors import NodeError
from node.loop_slices import LoopSlice
from node.rpc.json_input import ClientJsonError, parse_client_json
from node.rpc.reads import (
    CostLimits,
    LimitExceeded,
    ReadsBusy,
    RequestBudget,
    ResponseTooLarge,
    budget_scope,
    get_budget,
    has_budget,
)

# JSON-RPC 2.0 error codes (the spec's reserved range; CometBFT uses the same).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Server errors (the spec leaves -32000..-32099 to implementations; the codes are the ones
# Ethereum clients use for the same conditions, so tools already know them).
RESPONSE_TOO_LARGE = -32003
LIMIT_EXCEEDED = -32005
SYNCING = -32006  # the node is joining by state sync: nothing to read yet (HTTP 503)

_MESSAGES = {
    PARSE_ERROR: "Parse error. Invalid JSON",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
    RESPONSE_TOO_LARGE: "Response too large",
    LIMIT_EXCEEDED: "Limit exceeded",
    SYNCING: "Node is syncing",
}

BATCH_REQUESTS_MAX = 1000
"""Most calls in one batch array; bounded like every other count a client controls."""

JsonValue = Any
RequestId = str | int | None


class RPCError(NodeError):
    """An error to answer as a JSON-RPC error object (the caller's fault unless INTERNAL)."""

    def __init__(self, code: int, data: str) -> None:
        super().__init__(data)
        self.code = code
        self.data = data

    def to_json(self) -> dict[str, JsonValue]:
        return {"code": self.code, "message": _MESSAGES.get(self.code, "Error"), "data": self.data}


def invalid_params(data: str) -> RPCError:
    return RPCError(INVALID_PARAMS, data)


Handler = Callable[..., Awaitable[JsonValue]]


@dataclass(frozen=True, slots=True)
class Param:
    """One named parameter: how to read it from JSON and from a URI query string."""

    name: str
    parse: Callable[[JsonValue], Any]
    required: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    handler: Handler
    params: tuple[Param, ...] = ()
    websocket_only: bool = False
    names: frozenset[str] = field(init=False, repr=False, compare=False)
    """The params' names (the set every call's params are checked against, built once)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(param.name for param in self.params))


BatchPreparer = Callable[[Sequence[JsonValue]], AbstractAsyncContextManager[None]]


@dataclass
class Registry:
    """The methods a node serves, looked up by name for every transport."""

    methods: dict[str, Method] = field(default_factory=dict)
    limits: CostLimits = field(default_factory=CostLimits)
    """The cost budget of a request that did not bring one (a URI GET, a websocket call)."""
    prepare_batch: BatchPreparer | None = None
    """Work done for a whole batch array before its calls run one by one (the node checks
    the signatures of a batch of submitted txs on worker threads: ``node.verify_pool``)."""

    def add(self, method: Method) -> None:
        if method.name in self.methods:
            raise ValueError(f"duplicate RPC method {method.name}")
        self.methods[method.name] = method

    def get(self, name: str) -> Method:
        method = self.methods.get(name)
        if method is None:
            raise RPCError(METHOD_NOT_FOUND, f"method {name!r} not found")
        return method


def bind_params(method: Method, raw: JsonValue) -> dict[str, Any]:
    """Map JSON-RPC params (named object or positional array) onto the method's parameters."""
    if raw is None:
        raw = {}
    if isinstance(raw, list):
        if len(raw) > len(method.params):
            raise invalid_params(f"{method.name} takes at most {len(method.params)} params")
        raw = {param.name: value for param, value in zip(method.params, raw, strict=False)}
    if not isinstance(raw, dict):
        raise invalid_params("params must be an object or an array")
    if not method.names.issuperset(raw):
        unknown = sorted(set(raw) - method.names)
        raise invalid_params(f"unknown params: {', '.join(map(str, unknown))}")
    return {param.name: _read_param(param, raw.get(param.name)) for param in method.params}


def _read_param(param: Param, value: JsonValue) -> Any:
    if value is None or value == "":
        if param.required:
            raise invalid_params(f"missing required param {param.name!r}")
        return param.default
    try:
        return param.parse(value)
    except RPCError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise invalid_params(f"{param.name}: {exc}") from exc


def uri_params(query: Mapping[str, str]) -> dict[str, JsonValue]:
    """CometBFT URI style: strings may be quoted (`?hash="0xAB"`), numbers plain (`?height=5`)."""
    out: dict[str, JsonValue] = {}
    for key, value in query.items():
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out[key] = value
    return out


def success(request_id: RequestId, result: JsonValue) -> dict[str, JsonValue]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def failure(request_id: RequestId, error: RPCError) -> dict[str, JsonValue]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


async def call(
    registry: Registry, name: str, params: JsonValue, *, websocket: bool = False
) -> JsonValue:
    method = registry.get(name)
    if method.websocket_only and not websocket:
        raise RPCError(METHOD_NOT_FOUND, f"method {name!r} is only available over /websocket")
    bound = bind_params(method, params)
    try:
        if has_budget():
            return await method.handler(**bound)
        with budget_scope(RequestBudget(registry.limits)):
            return await method.handler(**bound)
    except (LimitExceeded, ReadsBusy) as exc:
        raise RPCError(LIMIT_EXCEEDED, str(exc)) from exc
    except ResponseTooLarge as exc:
        raise RPCError(RESPONSE_TOO_LARGE, str(exc)) from exc


async def answer_one(
    registry: Registry,
    request: JsonValue,
    on_internal_error: Callable[[BaseException], None],
    *,
    websocket: bool = False,
) -> dict[str, JsonValue] | None:
    """Answer one request object; None for a notification (no `id`), as CometBFT does."""
    if not isinstance(request, dict):
        return failure(None, RPCError(INVALID_REQUEST, "request must be an object"))
    request_id = request.get("id")
    if "id" not in request:
        return None
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        return failure(None, RPCError(INVALID_REQUEST, "id must be a string or a number"))
    if request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
        return failure(request_id, RPCError(INVALID_REQUEST, "expected jsonrpc 2.0 and a method"))
    try:
        result = await call(registry, request["method"], request.get("params"), websocket=websocket)
    except RPCError as exc:
        return failure(request_id, exc)
    except Exception as exc:  # our bug, not the client's: log it, answer, never a 500
        on_internal_error(exc)
        return failure(request_id, RPCError(INTERNAL_ERROR, "internal error; see node logs"))
    return success(request_id, result)


Encoder = Callable[[JsonValue, bool], Awaitable[bytes]]
"""Encodes one answer to JSON bytes; the flag says the call was heavy (encode it off the loop)."""


_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(value, separators=(",", ":"))`` without building an encoder per answer (dumps
does, for any non-default argument). Holds only settings: safe to share across threads."""


def dumps(value: JsonValue) -> bytes:
    return _COMPACT.encode(value).encode()


async def _encode_inline(value: JsonValue, heavy: bool) -> bytes:
    return dumps(value)


async def answer_body(
    registry: Registry, body: bytes, on_internal_error: Callable[[BaseException], None]
) -> JsonValue:
    """Answer a POST body: one request object or a batch array. Returns the JSON to send."""
    return json.loads(await answer_body_bytes(registry, body, on_internal_error))


async def answer_body_bytes(
    registry: Registry,
    body: bytes,
    on_internal_error: Callable[[BaseException], None],
    encode: Encoder = _encode_inline,
) -> bytes:
    """Answer a POST body within the running request's budget; returns the encoded answer.

    Every answer counts against the response byte cap: one that does not fit is replaced by a
    ``RESPONSE_TOO_LARGE`` error, and once the cap is reached a batch's later calls are not run.
    Without a running budget, the request gets one of ``registry.limits``.
    """
    if not has_budget():
        with budget_scope(RequestBudget(registry.limits)):
            return await answer_body_bytes(registry, body, on_internal_error, encode)
    try:
        parsed = parse_client_json(body)
    except ClientJsonError as exc:
        return dumps(failure(None, RPCError(PARSE_ERROR, f"invalid JSON: {exc}")))
    if isinstance(parsed, list):
        return await _answer_batch(registry, parsed, on_internal_error, encode)
    answer = await _answer_counted(registry, parsed, on_internal_error, encode)
    return answer if answer is not None else dumps(success(None, None))


async def _answer_counted(
    registry: Registry,
    request: JsonValue,
    on_internal_error: Callable[[BaseException], None],
    encode: Encoder,
) -> bytes | None:
    budget = get_budget()
    if budget.is_response_full() and isinstance(request, dict) and "id" in request:
        error = RPCError(RESPONSE_TOO_LARGE, "response byte cap reached; call not run")
        return _charge_error(budget, failure(_id_of(request), error))
    spent = budget.blocks + budget.rows
    answer = await answer_one(registry, request, on_internal_error)
    if answer is None:
        return None
    data = await encode(answer, budget.blocks + budget.rows > spent)
    try:
        budget.charge_response(len(data))
    except ResponseTooLarge as exc:
        return _charge_error(budget, failure(answer["id"], RPCError(RESPONSE_TOO_LARGE, str(exc))))
    return data


def _charge_error(budget: RequestBudget, answer: JsonValue) -> bytes:
    """An error answer always goes out (it is small); it still counts toward the cap."""
    data = dumps(answer)
    budget.response_bytes += len(data)
    return data


def _id_of(request: dict[str, JsonValue]) -> RequestId:
    request_id = request.get("id")
    is_id = isinstance(request_id, str | int) and not isinstance(request_id, bool)
    return request_id if is_id else None


async def _answer_batch(
    registry: Registry,
    requests: Sequence[JsonValue],
    on_internal_error: Callable[[BaseException], None],
    encode: Encoder,
) -> bytes:
    if not requests:
        return dumps(failure(None, RPCError(INVALID_REQUEST, "empty batch")))
    if len(requests) > BATCH_REQUESTS_MAX:
        too_many = f"batch of {len(requests)} exceeds {BATCH_REQUESTS_MAX}"
        return dumps(failure(None, RPCError(INVALID_REQUEST, too_many)))
    answers = []
    prepare = registry.prepare_batch
    pacer = LoopSlice()  # a batch holds the loop for one slice at most (node.loop_slices)
    async with contextlib.nullcontext() if prepare is None else prepare(requests):
        for request in requests:
            answer = await _answer_counted(registry, request, on_internal_error, encode)
            if answer is not None:
                answers.append(answer)
            await pacer.pause_if_due()
    return b"[" + b",".join(answers) + b"]"


# ---------------------------------------------------------------------------------------------
# parameter parsers in CometBFT's conventions


def parse_int64(value: JsonValue) -> int:
    """CometBFT sends and accepts 64-bit integers as decimal strings; plain numbers work too."""
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 20:
        number = int(value)
    else:
        raise ValueError(f"expected an integer, got {value!r}")
    if not -(2**63) <= number < 2**63:
        raise ValueError("integer out of int64 range")
    return number


def parse_height(value: JsonValue) -> int:
    height = parse_int64(value)
    if height < 0:
        raise ValueError("height must not be negative")
    return height


def parse_bool(value: JsonValue) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"expected true or false, got {value!r}")


def parse_str(value: JsonValue, max_len: int = 512) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if len(value) > max_len:
        raise ValueError(f"longer than {max_len} characters")
    return value


def parse_hash(value: JsonValue) -> bytes:
    """A 32-byte hash as hex (optionally 0x-prefixed) or base64, as CometBFT clients send it."""
    text = parse_str(value, 100)
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("expected a 32-byte hash in hex or base64") from exc
    if len(decoded) != 32:
        raise ValueError("expected a 32-byte hash")
    return decoded

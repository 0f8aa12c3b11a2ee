"""REST read routes run whole in the read pool (``node.rpc.reads``), within a cost budget.

A REST read handler is an ``async def`` that never awaits: it reads the chain, decodes what it
needs and builds its JSON response. Run on the event loop, a page of 100 blocks would hold
consensus for as long as it decodes; so :func:`offloaded` runs the handler's coroutine to
completion in a pool thread instead (a handler that does await is a bug, and says so), inside
a fresh request budget. A budget or the response byte cap exceeded, or a full pool, is a typed
API error: 422 ``limit_exceeded`` / ``response_too_large``, 503 ``busy`` with Retry-After.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

from node.rpc.reads import (
    READS_KEY,
    CostLimits,
    LimitExceeded,
    ReadsBusy,
    RequestBudget,
    ResponseTooLarge,
    budget_scope,
    get_budget,
)
from node.rpc.rest.submit import ApiProblem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CoroutineHandler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def run_to_completion(coroutine: Coroutine[Any, Any, web.StreamResponse]) -> web.StreamResponse:
    """The coroutine's result, for one that finishes without suspending."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        response: web.StreamResponse = done.value
        return response
    coroutine.close()
    raise RuntimeError("a REST read handler awaited: it cannot run in the read pool")


def offloaded(handler: CoroutineHandler, limits: CostLimits) -> Handler:
    """``handler`` run in the read pool, each request within a budget of ``limits``."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        with budget_scope(RequestBudget(limits)):
            try:
                response = await request.app[READS_KEY].run(_call, handler, request)
            except (LimitExceeded, ResponseTooLarge) as exc:
                code = "response_too_large" if isinstance(exc, ResponseTooLarge) else ""
                raise ApiProblem(422, code or "limit_exceeded", str(exc)) from exc
            except ReadsBusy as exc:
                raise ApiProblem(503, "busy", str(exc)) from exc
        return response

    return wrapped


def _call(handler: CoroutineHandler, request: web.Request) -> web.StreamResponse:
    response = run_to_completion(handler(request))
    if isinstance(response, web.Response) and response.body is not None:
        body = response.body
        get_budget().charge_response(len(body) if isinstance(body, bytes) else 0)
    return response

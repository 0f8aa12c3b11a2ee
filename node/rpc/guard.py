"""What a request must look like before any handler sees it: an allowed Host, a JSON body type.

A web page the operator opens can make the browser send requests to the node's RPC on
127.0.0.1. Two doors make that harmless, both checked before anything runs:

- **Content type.** A page may POST only "simple" bodies (``text/plain``, forms, or no type)
  without asking the server first (a CORS preflight, which we never grant unless
  ``[rpc].cors_origins`` says so). A POST must say ``application/json`` (REST submission also
  takes ``application/msgpack``); anything else is 415 and changes nothing.
- **Host.** With DNS rebinding a page's own host name comes to point at 127.0.0.1, so its
  requests are same-origin to the browser; only their ``Host`` header still names the
  attacker's domain. We serve a name only if it is ``localhost``, the configured listen host or
  listed in ``[rpc].hosts_allowed`` (``*`` = any); an IP address is always fine (a page served
  from a bare IP is a different origin, which the browser already keeps apart). Anything else
  is 403.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from node.config import RpcSection

JSON = "application/json"
MSGPACK = "application/msgpack"
_REST_PREFIX = "/api/"
_LOCAL_NAMES = frozenset({"localhost"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refuse(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type=JSON,
    )


def get_host_name(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def compute_allowed_hosts(rpc: RpcSection) -> frozenset[str]:
    """Names served: localhost, the listen host (if a name) and ``hosts_allowed``."""
    names = {name.lower() for name in rpc.hosts_allowed} | _LOCAL_NAMES
    names.add(rpc.listen_host.lower())
    return frozenset(names)


def is_host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    if header is None or "*" in allowed:
        return True  # HTTP/1.0 clients may omit Host; browsers always send it
    name = get_host_name(header)
    return _is_ip(name) or name in allowed


def is_content_type_allowed(path: str, content_type: str) -> bool:
    if content_type == JSON:
        return True
    return content_type == MSGPACK and path.startswith(_REST_PREFIX)


def make_guard_middleware(rpc: RpcSection) -> Any:
    """The middleware that refuses a foreign Host (403) and a non-JSON POST (415)."""
    allowed = compute_allowed_hosts(rpc)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_host_allowed(request.headers.get("Host"), allowed):
            return _refuse(
                403,
                "host_not_allowed",
                "this Host is not served; add it to [rpc].hosts_allowed to serve it",
            )
        # A route that takes no POST answers 404/405 as routing decides (RFC 9110 wants 405 and
        # its Allow header for a method the route does not serve, whatever the body's type).
        routed = request.match_info.http_exception is None
        if (
            routed
            and request.method == "POST"
            and not is_content_type_allowed(request.path, request.content_type)
        ):
            wanted = JSON if not request.path.startswith(_REST_PREFIX) else f"{JSON} or {MSGPACK}"
            return _refuse(415, "unsupported_media_type", f"send Content-Type: {wanted}")
        return await handler(request)

    return guard

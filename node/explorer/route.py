"""Serves the explorer's static files at ``/explorer/`` with strict browser security headers.

The files are read once, when the route is installed, into a table keyed by file name: a
request can only name an entry of that table, so no path (``..``, ``%2e%2e``, absolute, a
symlink) ever reaches the file system. Every answer carries a Content-Security-Policy that
allows only this origin's own scripts, styles and connections (no inline script, no framing),
``nosniff``, and an ETag so browsers revalidate cheaply (``no-cache``: after an upgrade of the
node the new files are picked up at once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

from node.rpc.jsonrpc import Registry
from node.services import NodeServices

EXPLORER_PATH = "/explorer"
INDEX_FILE = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
"""The only file kinds served; a file of another kind in ``static/`` is never published."""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # the REST API and /websocket (CSP3: 'self' covers ws: too)
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file as served: its bytes, content type and strong ETag."""

    body: bytes
    content_type: str
    etag: str


def load_static_files(folder: Traversable) -> dict[str, StaticFile]:
    """Every servable file directly in ``folder``, by name (no subfolders, no dotfiles)."""
    files: dict[str, StaticFile] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.name.startswith(".") or not entry.is_file() or suffix not in CONTENT_TYPES:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        files[entry.name] = StaticFile(body, CONTENT_TYPES[suffix], etag)
    return files


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_handler(files: dict[str, StaticFile]) -> Handler:
    async def get_static(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or INDEX_FILE
        served = files.get(name)
        if served is None:
            raise web.HTTPNotFound(reason=f"no explorer file {name!r}")
        headers = {**SECURITY_HEADERS, "ETag": served.etag}
        if served.etag in _if_none_match(request):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = served.content_type
        return web.Response(body=served.body, headers=headers)

    return get_static


def _if_none_match(request: web.Request) -> set[str]:
    raw = request.headers.get("If-None-Match", "")
    return {tag.strip() for tag in raw.split(",") if tag.strip()}


async def _redirect_to_folder(request: web.Request) -> web.StreamResponse:
    """``/explorer`` -> ``/explorer/``, so the page's relative links resolve under it."""
    raise web.HTTPPermanentRedirect(EXPLORER_PATH + "/")


def install(app: web.Application, registry: Registry, services: NodeServices) -> None:
    """Register the explorer's routes (``registry`` and ``services`` unused: static files)."""
    files = load_static_files(resources.files("node.explorer").joinpath("static"))
    if INDEX_FILE not in files:
        raise RuntimeError("the explorer's static files are missing from the package")
    handler = make_handler(files)
    app.router.add_get(EXPLORER_PATH, _redirect_to_folder)
    app.router.add_get(EXPLORER_PATH + "/", handler)
    app.router.add_get(EXPLORER_PATH + "/{name:[A-Za-z0-9_-]+\\.[a-z]+}", handler)

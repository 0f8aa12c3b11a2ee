"""The REST API's request parameters, parsed strictly and bounded: what the OpenAPI document
(``node.rpc.rest.openapi``) declares for a parameter is exactly what parses here, and anything
else is a 400 ``malformed`` (ASCII digits only, heights of at most 18 digits, printable ASCII
cursors), so no request makes a handler parse or walk an unbounded amount."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from consensus.types import Hash32
from node.rpc.rest.submit import ApiProblem

PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 100
CURSOR_LEN_MAX = 128
HEIGHT_DIGITS_MAX = 18

Json = dict[str, Any]


def malformed(message: str) -> ApiProblem:
    return ApiProblem(400, "malformed", message)


def not_found(message: str) -> ApiProblem:
    return ApiProblem(404, "not_found", message)


def is_digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes other scripts' digits, and superscripts)."""
    return text.isascii() and text.isdigit()


def get_limit(
    request: web.Request, default: int = PAGE_LIMIT_DEFAULT, maximum: int = PAGE_LIMIT_MAX
) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    if not is_digits(raw) or len(raw) > 6 or not 1 <= int(raw) <= maximum:
        raise malformed(f"limit must be an integer in 1..{maximum}")
    return int(raw)


def get_cursor(request: web.Request) -> str | None:
    raw = request.query.get("cursor")
    if raw is None or raw == "":
        return None
    if len(raw) > CURSOR_LEN_MAX or not raw.isascii() or not raw.isprintable():
        raise malformed(f"cursor must be printable ASCII of <= {CURSOR_LEN_MAX} chars")
    return raw


def get_height_param(request: web.Request, name: str, minimum: int = 1) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not is_digits(raw) or len(raw) > HEIGHT_DIGITS_MAX or int(raw) < minimum:
        raise malformed(f"{name} must be an integer >= {minimum} of at most 18 digits")
    return int(raw)


def get_proof_height(request: web.Request) -> int | None:
    """The ``height`` whose state a proof is of, if given (0: genesis' state)."""
    return get_height_param(request, "height", minimum=0)


def parse_path_height(raw: str) -> int:
    digits = raw.lstrip("0")  # leading zeros are fine (the document's pattern allows them)
    if not is_digits(raw) or not 1 <= len(digits) <= HEIGHT_DIGITS_MAX:
        raise malformed("height must be a positive integer or 'latest'")
    return int(digits)


def parse_hash_hex(text: str) -> Hash32:
    candidate = text[2:] if text[:2] in ("0x", "0X") else text
    if len(candidate) != 64 or not candidate.isascii():
        raise malformed("a tx hash is 64 hex digits")
    try:
        return Hash32(bytes.fromhex(candidate))
    except ValueError as exc:
        raise malformed("a tx hash is 64 hex digits") from exc


def get_bool_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false")
    if raw not in ("true", "false"):
        raise malformed(f"{name} must be true or false")
    return raw == "true"


def page(items: list[Json], next_cursor: str | None) -> Json:
    return {"items": items, "next_cursor": next_cursor}

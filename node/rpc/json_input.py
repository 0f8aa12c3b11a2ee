"""JSON from a client, parsed or refused with one error type.

The standard decoder recurses once per nesting level and raises ``RecursionError`` (not a
``ValueError``) somewhere past a thousand levels; ``[[[[…`` is all it takes. Every entry point
that reads client JSON goes through :func:`parse_client_json`, so such a body is a parse error
like any other malformed JSON, never an internal error.
"""

from __future__ import annotations

import json
from typing import Any

from node.errors import NodeError


class ClientJsonError(NodeError, ValueError):
    """The client's bytes are not JSON we accept (malformed, not UTF-8, or nested too deeply)."""


def parse_client_json(data: bytes | str) -> Any:
    """The decoded document, or :class:`ClientJsonError` saying what is wrong with it."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ClientJsonError("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClientJsonError(str(exc)) from exc

"""Node configuration, part 1: the error type, how keys are declared, and value checks.

See ``node.config`` for the whole picture; this module has no knowledge of sections.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consensus.types import CHAIN_ID_MAX_LEN, PUBLIC_KEY_LEN
from node.errors import NodeError

SIGN_STATE_FILE = "sign_state.json"
"""The sign state's file name in the data folder."""


class ConfigError(NodeError, ValueError):
    """The configuration is unusable; the message names the key (``[section].key``)."""


PORT_MAX = 65535
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
FRAME_OVERHEAD_BYTES = 64 * 1024
"""Room a P2P frame needs beyond a full block (header, commit certificate, message envelope)."""

_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_CHAIN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

Check = Callable[[Any], str | None]
"""A field check: returns a complaint (\"must be ...\") or None when the value is fine."""


def doc(text: str, check: Check | None = None) -> dict[str, Any]:
    return {"doc": text, "check": check}


def key(default: Any, text: str, check: Check | None = None) -> Any:
    """A config key with a default, a doc line and an optional extra check."""
    return field(default=default, metadata=doc(text, check))


def required(text: str, check: Check | None = None) -> Any:
    return field(metadata=doc(text, check))


# ---------------------------------------------------------------------------------------------
# value checks (each returns a complaint or None)


def in_range(lo: int, hi: int) -> Check:
    def check(value: int) -> str | None:
        return None if lo <= value <= hi else f"must be in {lo}..{hi}, got {value}"

    return check


def check_host(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if _HOSTNAME_RE.match(value):
        return None
    return f"must be an IP address or a host name, got {value!r}"


def check_chain_id(value: str) -> str | None:
    if not 0 < len(value) <= CHAIN_ID_MAX_LEN or not _CHAIN_ID_RE.match(value):
        return f"must be 1..{CHAIN_ID_MAX_LEN} characters of [A-Za-z0-9._-], got {value!r}"
    return None


def check_moniker(value: str) -> str | None:
    if not 0 < len(value) <= 64 or not value.isprintable():
        return f"must be 1..64 printable characters, got {value!r}"
    return None


def check_log_level(value: str) -> str | None:
    return None if value in LOG_LEVELS else f"must be one of {', '.join(LOG_LEVELS)}"


def check_log_format(value: str) -> str | None:
    return None if value in LOG_FORMATS else f"must be one of {', '.join(LOG_FORMATS)}"


def check_non_empty(value: str) -> str | None:
    return None if value else "must not be empty"


def check_cors_origins(values: tuple[str, ...]) -> str | None:
    for origin in values:
        if origin != "*" and not re.match(r"^https?://[^\s/]+$", origin):
            return f"each origin must be '*' or scheme://host[:port], got {origin!r}"
    return None


def check_hosts_allowed(values: tuple[str, ...]) -> str | None:
    for host in values:
        if host != "*" and not _HOSTNAME_RE.match(host):
            return f"each entry must be '*' or a host name (no port), got {host!r}"
    return None


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """A persistent peer: its Ed25519 node key and where to dial it."""

    public_key: bytes
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.public_key.hex()}@{self.host}:{self.port}"


def parse_peer_address(text: str) -> PeerAddress:
    """Parse ``pubkeyhex@host:port``; raise ValueError with a plain reason."""
    key_hex, at, address = text.partition("@")
    host, colon, port_text = address.rpartition(":")
    if not at or not colon:
        raise ValueError(f"must look like pubkeyhex@host:port, got {text!r}")
    if not re.fullmatch(f"[0-9a-f]{{{2 * PUBLIC_KEY_LEN}}}", key_hex):
        raise ValueError(f"public key must be {2 * PUBLIC_KEY_LEN} lowercase hex digits: {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # [::1]:26656
    complaint = check_host(host)
    if complaint is not None:
        raise ValueError(f"host {complaint}")
    if not port_text.isdigit() or not 0 < int(port_text) <= PORT_MAX:
        raise ValueError(f"port must be in 1..{PORT_MAX}: {text!r}")
    return PeerAddress(bytes.fromhex(key_hex), host, int(port_text))


def check_peers(values: tuple[str, ...]) -> str | None:
    keys: set[bytes] = set()
    for text in values:
        try:
            peer = parse_peer_address(text)
        except ValueError as exc:
            return str(exc)
        if peer.public_key in keys:
            return f"peer key listed twice: {peer.public_key.hex()}"
        keys.add(peer.public_key)
    return None

"""Node configuration: a TOML file turned into frozen, validated dataclasses.

The config is read once at start-up and passed down to whoever needs a piece of it; nothing reads
it from a global. Every key is declared once below, with its type, default and a one-line doc
(the doc also becomes the comment in a written file). Validation is complete before anything
starts and every error names the offending key as ``[section].key``. Unknown sections and keys are
errors: a typo such as ``admin_enable = true`` must not pass silently. Defaults are the safe
choice: the RPC listens on 127.0.0.1 only and its admin routes are off.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.params import BLOCK_BYTES_HARD_MAX, BLOCK_TXS_HARD_MAX, ConsensusParams
from consensus.types import CHAIN_ID_MAX_LEN, PUBLIC_KEY_LEN
from node import durable
from node.errors import NodeError

SIGN_STATE_FILE = "sign_state.json"
"""The sign state's file name in the data folder."""


class ConfigError(NodeError, ValueError):
    """The configuration is unusable; the message names the key (``[section].key``)."""


PORT_MAX = 65535
LOG_LEVELS = ("debug", "info", "warning", "error")
FRAME_OVERHEAD_BYTES = 64 * 1024
"""Room a P2P frame needs beyond a full block (header, commit certificate, message envelope)."""

_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_CHAIN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

Check = Callable[[Any], str | None]
"""A field check: returns a complaint (\"must be ...\") or None when the value is fine."""


def _doc(text: str, check: Check | None = None) -> dict[str, Any]:
    return {"doc": text, "check": check}


def _key(default: Any, text: str, check: Check | None = None) -> Any:
    """A config key with a default, a doc line and an optional extra check."""
    return field(default=default, metadata=_doc(text, check))


def _required(text: str, check: Check | None = None) -> Any:
    return field(metadata=_doc(text, check))


# ---------------------------------------------------------------------------------------------
# value checks (each returns a complaint or None)


def _in_range(lo: int, hi: int) -> Check:
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


def check_non_empty(value: str) -> str | None:
    return None if value else "must not be empty"


def check_cors_origins(values: tuple[str, ...]) -> str | None:
    for origin in values:
        if origin != "*" and not re.match(r"^https?://[^\s/]+$", origin):
            return f"each origin must be '*' or scheme://host[:port], got {origin!r}"
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


# ---------------------------------------------------------------------------------------------
# sections

_MIB = 1024 * 1024
_BYTES = _in_range(1, 1 << 40)
_COUNT = _in_range(1, 10_000_000)
_TIMEOUT = _in_range(1, 3_600_000)


@dataclass(frozen=True, slots=True)
class NodeSection:
    chain_id: str = _required("network identifier, the same on every node", check_chain_id)
    moniker: str = _key("node", "human-readable name of this node (logs, status)", check_moniker)
    home: str = _key(
        ".", "home folder for keys and data; relative paths resolve against it", check_non_empty
    )
    log_level: str = _key("info", "one of debug, info, warning, error", check_log_level)


@dataclass(frozen=True, slots=True)
class P2PSection:
    listen_host: str = _key("0.0.0.0", "address the peer listener binds", check_host)
    listen_port: int = _key(26656, "TCP port of the peer listener", _in_range(0, PORT_MAX))
    persistent_peers: tuple[str, ...] = _key(
        (), "peers to dial and keep connected, each pubkeyhex@host:port", check_peers
    )
    frame_bytes_max: int = _key(
        8 * _MIB, "largest P2P frame accepted; must fit a full block", _BYTES
    )
    send_queue_size: int = _key(1024, "messages queued per peer before it counts as slow", _COUNT)

    def get_peers(self) -> tuple[PeerAddress, ...]:
        return tuple(parse_peer_address(text) for text in self.persistent_peers)


@dataclass(frozen=True, slots=True)
class RpcSection:
    listen_host: str = _key(
        "127.0.0.1", "address the RPC binds; keep 127.0.0.1 unless a proxy guards it", check_host
    )
    listen_port: int = _key(26657, "TCP port of the HTTP/JSON-RPC server", _in_range(0, PORT_MAX))
    body_bytes_max: int = _key(2 * _MIB, "largest request body accepted", _BYTES)
    cors_origins: tuple[str, ...] = _key(
        (), "browser origins allowed by CORS ('*' = any); empty = none", check_cors_origins
    )
    admin_enabled: bool = _key(False, "serve admin routes (unsafe on a shared network)")


@dataclass(frozen=True, slots=True)
class MempoolSection:
    txs_max: int = _key(5000, "most transactions held at once", _COUNT)
    bytes_max: int = _key(64 * _MIB, "most bytes of transactions held at once", _BYTES)
    tx_bytes_max: int = _key(
        8 * 1024, "largest single transaction accepted (the ledger caps it at 8 KiB)", _BYTES
    )


@dataclass(frozen=True, slots=True)
class ConsensusSection:
    timeout_propose_ms: int = _key(3000, "wait for a proposal in round 0", _TIMEOUT)
    timeout_prevote_ms: int = _key(1000, "wait for more prevotes after +2/3 any", _TIMEOUT)
    timeout_precommit_ms: int = _key(1000, "wait for more precommits after +2/3 any", _TIMEOUT)
    timeout_delta_ms: int = _key(500, "added to each timeout per round", _in_range(0, 3_600_000))
    timeout_max_ms: int = _key(60_000, "cap on any round timeout", _TIMEOUT)
    timeout_commit_ms: int = _key(
        1000, "pause after a commit before the next height", _in_range(0, 3_600_000)
    )
    create_empty_blocks: bool = _key(True, "make blocks without transactions")
    empty_block_interval_ms: int = _key(
        0,
        "with create_empty_blocks, least gap between empty blocks (0 = none)",
        _in_range(0, 86_400_000),
    )
    block_txs_max: int = _key(
        2000, "most transactions in one block", _in_range(1, BLOCK_TXS_HARD_MAX)
    )
    block_bytes_max: int = _key(
        4 * _MIB, "largest encoded block", _in_range(1024, BLOCK_BYTES_HARD_MAX)
    )

    def to_params(self) -> ConsensusParams:
        """The replica's parameters (evidence bounds keep their defaults)."""
        return ConsensusParams(
            timeout_propose_ms=self.timeout_propose_ms,
            timeout_prevote_ms=self.timeout_prevote_ms,
            timeout_precommit_ms=self.timeout_precommit_ms,
            timeout_delta_ms=self.timeout_delta_ms,
            timeout_max_ms=self.timeout_max_ms,
            timeout_commit_ms=self.timeout_commit_ms,
            block_txs_max=self.block_txs_max,
            block_bytes_max=self.block_bytes_max,
            create_empty_blocks=self.create_empty_blocks,
            empty_block_interval_ms=self.empty_block_interval_ms,
        )


@dataclass(frozen=True, slots=True)
class StorageSection:
    data_dir: str = _key(
        "data", "LevelDB, WAL and signer state; relative to [node].home", check_non_empty
    )


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The whole node configuration, one field per TOML section."""

    node: NodeSection
    p2p: P2PSection = field(default_factory=P2PSection)
    rpc: RpcSection = field(default_factory=RpcSection)
    mempool: MempoolSection = field(default_factory=MempoolSection)
    consensus: ConsensusSection = field(default_factory=ConsensusSection)
    storage: StorageSection = field(default_factory=StorageSection)

    def get_home_path(self, base: Path | None = None) -> Path:
        """``[node].home``; a relative one is taken from ``base`` (default: the working dir)."""
        home = Path(os.path.expanduser(self.node.home))
        return home if home.is_absolute() or base is None else base / home

    def get_data_path(self, base: Path | None = None) -> Path:
        """``[storage].data_dir``; a relative one lives under the home folder."""
        data = Path(os.path.expanduser(self.storage.data_dir))
        return data if data.is_absolute() else self.get_home_path(base) / data

    def get_wal_path(self, base: Path | None = None) -> Path:
        """Folder of the consensus WAL (``node.wal.WriteAheadLog``)."""
        return self.get_data_path(base) / "wal"

    def get_sign_state_path(self, base: Path | None = None) -> Path:
        """File of the last-signed state (``node.signer.SignStateFile``)."""
        return self.get_data_path(base) / SIGN_STATE_FILE


SECTIONS: dict[str, type[Any]] = {
    "node": NodeSection,
    "p2p": P2PSection,
    "rpc": RpcSection,
    "mempool": MempoolSection,
    "consensus": ConsensusSection,
    "storage": StorageSection,
}


# ---------------------------------------------------------------------------------------------
# reading


def load_config(path: str | os.PathLike[str]) -> NodeConfig:
    """Read and validate a TOML config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {os.fspath(path)!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {os.fspath(path)!r} is not UTF-8") from exc
    return parse_config(text)


def parse_config(text: str) -> NodeConfig:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from exc
    return config_from_dict(document)


def config_from_dict(document: Mapping[str, Any]) -> NodeConfig:
    """Build a validated NodeConfig from plain data (as tomllib returns it)."""
    _reject_unknown(document.keys(), SECTIONS.keys(), "")
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        raw = document.get(name, {})
        if not isinstance(raw, Mapping):
            raise ConfigError(f"[{name}]: must be a table")
        sections[name] = _read_section(name, cls, raw)
    config = NodeConfig(**sections)
    validate_config(config)
    return config


def _reject_unknown(keys: Any, known: Any, section: str) -> None:
    known_list = list(known)
    for key in keys:
        if key not in known_list:
            where = f"[{section}].{key}" if section else f"[{key}]"
            close = difflib.get_close_matches(str(key), known_list, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown {'key' if section else 'section'}{hint}")


def _read_section(name: str, cls: type[Any], raw: Mapping[str, Any]) -> Any:
    fields = dataclasses.fields(cls)
    _reject_unknown(raw.keys(), [f.name for f in fields], name)
    values: dict[str, Any] = {}
    for spec in fields:
        where = f"[{name}].{spec.name}"
        if spec.name not in raw:
            if _is_required(spec):
                raise ConfigError(f"{where}: missing (required)")
            continue
        value = _coerce(where, spec.type, raw[spec.name])
        check: Check | None = spec.metadata.get("check")
        complaint = check(value) if check is not None else None
        if complaint is not None:
            raise ConfigError(f"{where}: {complaint}")
        values[spec.name] = value
    return cls(**values)


def _is_required(spec: dataclasses.Field[Any]) -> bool:
    return spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING


def _coerce(where: str, type_name: Any, value: Any) -> Any:
    # Annotations are strings here (``from __future__ import annotations``).
    expected = str(type_name)
    if expected == "bool":
        if type(value) is not bool:
            raise ConfigError(f"{where}: must be true or false, got {_describe(value)}")
        return value
    if expected == "int":
        if type(value) is not int:
            raise ConfigError(f"{where}: must be an integer, got {_describe(value)}")
        return value
    if expected == "str":
        if type(value) is not str:
            raise ConfigError(f"{where}: must be a string, got {_describe(value)}")
        return value
    if expected == "tuple[str, ...]":
        if type(value) is not list or any(type(item) is not str for item in value):
            raise ConfigError(f"{where}: must be a list of strings, got {_describe(value)}")
        return tuple(value)
    raise AssertionError(f"{where}: no reader for type {expected}")  # our own bug


def _describe(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "a non-finite float"
    return f"{type(value).__name__} {value!r}"


def validate_config(config: NodeConfig) -> None:
    """Checks that relate keys of different sections; raise ConfigError naming them."""
    c, m, p = config.consensus, config.mempool, config.p2p
    rules: list[tuple[bool, str]] = [
        (m.tx_bytes_max <= m.bytes_max, "[mempool].tx_bytes_max: must be <= [mempool].bytes_max"),
        (
            m.tx_bytes_max <= c.block_bytes_max,
            "[mempool].tx_bytes_max: must be <= [consensus].block_bytes_max "
            "(a larger transaction could never be included)",
        ),
        (
            p.frame_bytes_max >= c.block_bytes_max + FRAME_OVERHEAD_BYTES,
            f"[p2p].frame_bytes_max: must be >= [consensus].block_bytes_max + "
            f"{FRAME_OVERHEAD_BYTES} so a full block fits in a frame",
        ),
        (
            c.timeout_max_ms
            >= max(c.timeout_propose_ms, c.timeout_prevote_ms, c.timeout_precommit_ms),
            "[consensus].timeout_max_ms: must be >= each of timeout_propose_ms, "
            "timeout_prevote_ms, timeout_precommit_ms",
        ),
        (
            # Hosts may differ and still clash (0.0.0.0 covers 127.0.0.1): compare ports only.
            config.rpc.listen_port == 0 or config.rpc.listen_port != p.listen_port,
            "[rpc].listen_port: must differ from [p2p].listen_port",
        ),
    ]
    for ok, message in rules:
        if not ok:
            raise ConfigError(message)


# ---------------------------------------------------------------------------------------------
# writing: a small TOML writer for the types above (str, int, bool, list of str)


def dump_config(config: NodeConfig, *, with_docs: bool = True, header: str = "") -> str:
    """Render ``config`` as TOML that :func:`parse_config` reads back to an equal config."""
    lines: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]
    for name in SECTIONS:
        section = getattr(config, name)
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        for spec in dataclasses.fields(section):
            if with_docs:
                lines.append(f"# {spec.metadata['doc']}")
            lines.append(_format_assignment(spec.name, getattr(section, spec.name)))
    return "\n".join(lines) + "\n"


CONFIG_FILE_MODE = 0o666
"""A new config file is readable as any file the operator creates (less the umask): it holds no
secrets (the keys are in their own 0600 files)."""


def write_config(config: NodeConfig, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write ``config`` to ``path`` atomically (temp file, fsync, rename, fsync the folder)."""
    text = dump_config(config, **kwargs)
    durable.write_atomically(path, text.encode("utf-8"), mode=CONFIG_FILE_MODE)


def _format_assignment(key: str, value: Any) -> str:
    line = f"{key} = {format_toml_value(value)}"
    if len(line) <= 100 or not isinstance(value, tuple) or not value:
        return line
    items = "".join(f"    {format_toml_value(item)},\n" for item in value)
    return f"{key} = [\n{items}]"


def format_toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(format_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'

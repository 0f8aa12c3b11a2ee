"""Node configuration, part 3: reading TOML into validated sections, and writing it back."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consensus.params import ConsensusParams
from node import durable
from node.config.checks import FRAME_OVERHEAD_BYTES, Check, ConfigError
from node.config.sections import SECTIONS, NodeConfig


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
            not (config.statesync.enable or config.statesync.snapshot_interval > 0)
            or config.statesync.chunk_bytes <= p.frame_bytes_max // 2,
            "[statesync].chunk_bytes: must be <= half of [p2p].frame_bytes_max "
            "(a chunk travels in one frame)",
        ),
        (
            (config.statesync.trust_height == 0) == (config.statesync.trust_hash == ""),
            "[statesync].trust_height and trust_hash: set both or neither",
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


def validate_frame_fits_block(config: NodeConfig, params: ConsensusParams) -> None:
    """The genesis block bound (the one blocks are built and checked against) must fit a P2P
    frame with room to spare, or a full block could be proposed that no peer can receive or
    sync; checked at start, since the genesis overrides ``[consensus].block_bytes_max``."""
    needed = params.block_bytes_max + FRAME_OVERHEAD_BYTES
    if config.p2p.frame_bytes_max < needed:
        raise ConfigError(
            f"[p2p].frame_bytes_max: must be >= the genesis block_bytes_max "
            f"({params.block_bytes_max}) + {FRAME_OVERHEAD_BYTES} = {needed} so a full block "
            f"fits in a frame, got {config.p2p.frame_bytes_max}"
        )


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

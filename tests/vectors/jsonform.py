"""Plain JSON for the vectors' inputs and outputs, readable by any language.

Bytes are lowercase hex (no ``0x``); enums are their integer wire value; sets are sorted lists;
a frozen dataclass is an object of its constructor fields (derived fields such as a header's
cached ``hash`` are left out and appear under ``expected`` instead). A body or event, whose wire
form starts with a type tag, also names the tag: ``{"type": 7, "type_name": "TRANSFER", ...}``.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

Json = Any
"""A JSON value: dict, list, str, int, bool or None."""


def to_json(value: Any) -> Json:
    """The JSON form of a value from the consensus core (see the module docstring)."""
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, enum.IntEnum):
        return int(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, frozenset | set):
        return [to_json(item) for item in sorted(value)]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_to_json(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _dataclass_to_json(value: Any) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for tag_name in ("TYPE", "TAG"):
        tag = getattr(type(value), tag_name, None)
        if isinstance(tag, enum.IntEnum):
            out["type"] = int(tag)
            out["type_name"] = tag.name
    for field in dataclasses.fields(value):
        if field.init:
            out[field.name] = to_json(getattr(value, field.name))
    return out


def enum_table(*enums: type[enum.IntEnum]) -> dict[str, dict[str, int]]:
    """``{"VoteType": {"PREVOTE": 1, ...}}``: what the integers in a file mean."""
    return {e.__name__: {member.name: int(member) for member in e} for e in enums}


def unhex(text: str) -> bytes:
    return bytes.fromhex(text)

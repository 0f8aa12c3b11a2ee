"""Where the vectors live, their file shape, and the protocol-version rule.

``tests/vectors/v<N>/<name>.json`` holds the vectors of protocol version N (``PROTOCOL_VERSION``
in ``consensus/version.py``). Every file records that version. Within one version the stored
vectors are immutable: a vector may be added, never changed or removed. Different bytes mean a
protocol change, which must bump the version; the new version gets a new directory and the old
one stays as the record of what that version produced.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field
from typing import Any

from consensus.version import PROTOCOL_VERSION

from .jsonform import Json

VECTORS_DIR = pathlib.Path(__file__).resolve().parent
REGENERATE_COMMAND = "python -m tests.vectors.generate --write"
PROTOCOL_CHANGE = (
    "consensus encoding changed: this is a protocol change — bump PROTOCOL_VERSION "
    f"(consensus/version.py) and regenerate with `{REGENERATE_COMMAND}`"
)
COMPARED_PARTS = ("inputs", "expected")
"""What must stay byte-for-byte equal; descriptions may be reworded freely."""


def version_dir(version: int = PROTOCOL_VERSION) -> pathlib.Path:
    return VECTORS_DIR / f"v{version}"


def make_document(
    description: str,
    vectors: list[Json],
    enums: dict[str, Any] | None = None,
    layouts: dict[str, list[str]] | None = None,
) -> Json:
    """One vectors file: what it is, what its integers and positional lists mean, the vectors."""
    return {
        "protocol_version": PROTOCOL_VERSION,
        "description": description,
        "conventions": "bytes are lowercase hex; integers and enums are exact integers; "
        "'*_encoding', '*_bytes' and 'message' values are canonical msgpack (see layouts)",
        "enums": enums or {},
        "layouts": layouts or {},
        "vectors": vectors,
    }


def make_vector(name: str, description: str, inputs: Json, expected: Json) -> Json:
    return {"name": name, "description": description, "inputs": inputs, "expected": expected}


def render(document: Json) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def load_all(version: int = PROTOCOL_VERSION) -> dict[str, Json]:
    """file name -> document of the stored vectors of ``version`` (empty if none)."""
    directory = version_dir(version)
    if not directory.is_dir():
        return {}
    return {path.name: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def write_all(documents: dict[str, Json], version: int = PROTOCOL_VERSION) -> list[pathlib.Path]:
    directory = version_dir(version)
    directory.mkdir(exist_ok=True)
    written = []
    for name, document in sorted(documents.items()):
        path = directory / name
        path.write_text(render(document))
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# comparing stored and freshly computed vectors


@dataclass
class Comparison:
    changed: list[str] = field(default_factory=list)
    """``file: vector: path`` of every stored value the current code computes differently."""
    removed: list[str] = field(default_factory=list)
    """Stored vectors (or files) the current code no longer produces."""
    added: list[str] = field(default_factory=list)
    """Vectors the current code produces that are not stored yet (allowed to be written)."""
    wrong_version: list[str] = field(default_factory=list)

    @property
    def is_protocol_change(self) -> bool:
        return bool(self.changed or self.removed or self.wrong_version)

    @property
    def is_identical(self) -> bool:
        return not (self.is_protocol_change or self.added)

    def report(self, limit: int = 40) -> str:
        lines = [f"changed: {item}" for item in self.changed]
        lines += [f"removed: {item}" for item in self.removed]
        lines += [f"wrong protocol_version: {item}" for item in self.wrong_version]
        lines += [f"new (not stored yet): {item}" for item in self.added]
        more = len(lines) - limit
        return "\n".join(lines[:limit] + ([f"... and {more} more"] if more > 0 else []))


def vectors_by_name(document: Json) -> dict[str, Json]:
    return {vector["name"]: vector for vector in document["vectors"]}


def compare(stored: dict[str, Json], fresh: dict[str, Json]) -> Comparison:
    result = Comparison()
    for file_name in sorted(set(stored) | set(fresh)):
        if file_name not in fresh:
            result.removed.append(file_name)
            continue
        if file_name not in stored:
            result.added.append(file_name)
            continue
        if stored[file_name].get("protocol_version") != PROTOCOL_VERSION:
            result.wrong_version.append(file_name)
        _compare_file(file_name, stored[file_name], fresh[file_name], result)
    return result


def _compare_file(file_name: str, stored: Json, fresh: Json, result: Comparison) -> None:
    old, new = vectors_by_name(stored), vectors_by_name(fresh)
    for name in sorted(set(old) | set(new)):
        where = f"{file_name}: {name}"
        if name not in new:
            result.removed.append(where)
        elif name not in old:
            result.added.append(where)
        else:
            for part in COMPARED_PARTS:
                result.changed += [
                    f"{where}: {path}"
                    for path in diff_paths(old[name][part], new[name][part], part)
                ]


def diff_paths(old: Json, new: Json, path: str) -> list[str]:
    """Paths at which two JSON values differ (down to the first differing leaf)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                out.append(f"{path}.{key} (only in {'stored' if key in old else 'computed'})")
            else:
                out += diff_paths(old[key], new[key], f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += diff_paths(a, b, f"{path}[{i}]")
        return out
    if old == new and type(old) is type(new):
        return []
    if isinstance(old, str) and isinstance(new, str):
        at = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), None)
        at = min(len(old), len(new)) if at is None else at
        start = max(0, at - 8)
        return [
            f"{path}: from char {at}: stored ...{old[start : at + 16]}... "
            f"!= computed ...{new[start : at + 16]}... (lengths {len(old)}, {len(new)})"
        ]
    return [f"{path}: stored {_short(old)} != computed {_short(new)}"]


def _short(value: Json) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."

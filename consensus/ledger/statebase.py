"""Where a ledger ``State`` reads what its layers do not hold: a *state base*.

A node keeps the committed state on disk: its base is a LevelDB snapshot of the committed
height (``node.state_store``), and a block's uncommitted writes stay as in-memory layers over it.
Tests and the simulator use :class:`MemoryStateBase`. Pure: this module only defines the reader
protocol, a dict implementation, and the ordered merge of layers over a base that every
whole-state walk uses (so walks stream and never copy the state).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol


class StateBase(Protocol):
    """Read access to one fixed version of the state: it never changes under its reader."""

    def get(self, key: bytes) -> bytes | None: ...

    def iter_range(self, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for ``start <= key < stop`` (no upper bound if None), in key order."""
        ...


class MemoryStateBase:
    """A state base in a dict (tests, the simulator): sorted once, read-only afterwards."""

    __slots__ = ("_data", "_keys")

    def __init__(self, items: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._data: dict[bytes, bytes] = dict(items)
        self._keys = sorted(self._data)

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def iter_range(self, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        keys, data = self._keys, self._data
        for i in range(bisect.bisect_left(keys, start), len(keys)):
            key = keys[i]
            if stop is not None and key >= stop:
                return
            yield key, data[key]


def prefix_stop(prefix: bytes) -> bytes | None:
    """The least key above every key starting with ``prefix`` (None: no such key)."""
    head = prefix.rstrip(b"\xff")
    return None if not head else head[:-1] + bytes([head[-1] + 1])


def overlay_range(
    layers: tuple[Mapping[bytes, bytes | None], ...], start: bytes, stop: bytes | None
) -> list[tuple[bytes, bytes | None]]:
    """The layers' entries in ``[start, stop)``, newest layer winning, in key order (None:
    deleted). Costs a pass over the layers, which hold only uncommitted blocks on a node."""
    merged: dict[bytes, bytes | None] = {}
    for layer in reversed(layers):
        for key, value in layer.items():
            if key >= start and (stop is None or key < stop):
                merged[key] = value
    return sorted(merged.items())


def merge_over(
    overlay: list[tuple[bytes, bytes | None]], base: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes]]:
    """``base``'s entries with ``overlay`` (sorted; None deletes) applied, in key order."""
    i, count = 0, len(overlay)
    for key, value in base:
        while i < count and overlay[i][0] < key:
            over_key, over_value = overlay[i]
            i += 1
            if over_value is not None:
                yield over_key, over_value
        if i < count and overlay[i][0] == key:
            over_value = overlay[i][1]
            i += 1
            if over_value is not None:
                yield key, over_value
            continue
        yield key, value
    for over_key, over_value in overlay[i:]:
        if over_value is not None:
            yield over_key, over_value

"""Offline consistency check of a block store: every height up to the latest complete, none above.

A crash cannot break this (one atomic batch per block); bit rot in the middle of LevelDB's log
or tables can, and LevelDB would silently drop the damaged records on recovery. The open-time
check in ``LevelDBStore`` looks only at the latest height; this walks every height (O(latest)
point reads) for operators and tests.
"""

from __future__ import annotations

from node.storage.base import Store

PROBLEMS_MAX = 100
"""Stop collecting after this many problems: one is enough to refuse the store."""


def find_inconsistencies(store: Store, first_height: int = 1) -> list[str]:
    """Describe every missing part of heights ``first_height..latest`` and anything above."""
    latest = store.latest_height()
    problems: list[str] = []
    for height in range(max(1, first_height), latest + 2):
        parts = {
            "block": store.get_block(height),
            "certificate": store.get_certificate(height),
            "results": store.get_results(height),
            "app hash": store.get_app_hash(height),
        }
        for name, value in parts.items():
            if height <= latest and value is None:
                problems.append(f"height {height}: {name} missing")
            elif height > latest and value is not None:
                problems.append(f"height {height} above latest {latest}: {name} present")
        if len(problems) >= PROBLEMS_MAX:
            break
    return problems[:PROBLEMS_MAX]

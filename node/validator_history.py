"""Validator sets of recent heights, kept by the node beyond what the ledger retains.

The ledger keeps the sets of its tip height and the two after it. A replica restarted at height H
also needs the sets of the heights evidence may come from (``evidence_age_max_heights`` back):
without them it would refuse, as unverifiable, a block carrying valid evidence from those
heights. The history is one small metadata record of change points — (first height, set) — so it
grows only when the set changes and is pruned to the evidence window. It is written after each
block's batch; a crash in between loses nothing that the ledger state cannot give back at start.
"""

from __future__ import annotations

from consensus import codec
from consensus.validators import ValidatorSet
from node.storage import Store

HISTORY_META = "validator_history"
ENTRIES_MAX = 1_000


class ValidatorHistory:
    def __init__(self, store: Store, window_heights: int) -> None:
        self._store = store
        self._window = window_heights
        self._entries: list[tuple[int, ValidatorSet]] = self._load()

    def _load(self) -> list[tuple[int, ValidatorSet]]:
        raw = self._store.get_meta(HISTORY_META)
        if raw is None:
            return []
        items = codec.expect_list(codec.decode(raw), "validator history", ENTRIES_MAX)
        return [
            (codec.expect_uint(height, "from_height"), ValidatorSet.from_wire(vset))
            for height, vset in (codec.expect_fields(item, "entry", 2) for item in items)
        ]

    def get(self, height: int) -> ValidatorSet | None:
        """The set that signs ``height``, if the history still reaches back that far."""
        chosen = None
        for from_height, vset in self._entries:
            if from_height <= height:
                chosen = vset
        return chosen

    def record(self, sets: dict[int, ValidatorSet], tip: int) -> None:
        """Add the sets of the given heights (in height order) and prune below the window."""
        changed = False
        for height in sorted(sets):
            if self.get(height) != sets[height] or not self._entries:
                self._entries = [(h, v) for h, v in self._entries if h < height]
                self._entries.append((height, sets[height]))
                changed = True
        changed |= self._prune(tip - self._window)
        if changed:
            value = [[h, v.to_wire()] for h, v in self._entries]
            self._store.put_meta(HISTORY_META, codec.encode(value))

    def _prune(self, oldest_needed: int) -> bool:
        in_force = [i for i, (h, _) in enumerate(self._entries) if h <= oldest_needed]
        if not in_force or in_force[-1] == 0:
            return False
        self._entries = self._entries[in_force[-1] :]
        return True

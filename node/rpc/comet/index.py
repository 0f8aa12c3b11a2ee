"""A bounded in-memory event index for ``tx_search`` and ``block_by_hash``.

The store indexes tx hash -> (height, index) and nothing else; CometBFT clients also search by
``tx.height`` and by event attributes (``Transferred.from_account='BANKA/alice'``). This index is
rebuilt from the store lazily (the first search catches up, a few hundred blocks per step so the
event loop keeps serving) and follows the chain the same way afterwards. It holds only the most
recent ``TXS_MAX`` transactions and ``BLOCKS_MAX`` block hashes: older ones are evicted and
searches say how far back they reach (``first_height``).

A position is ``height << 20 | index``: one int per posting, in ``array('q')`` lists.

With a read pool, indexing and searching run in its threads (they decode blocks), one at a time
under the index's lock; a search's block loads and candidate checks count against the running
request's budget (``node.rpc.reads``).
"""

from __future__ import annotations

import asyncio
import bisect
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar

from consensus.crypto import sha256
from consensus.ledger import Receipt
from node.chain import Chain
from node.rpc.comet import shapes as cj
from node.rpc.comet.query import Condition, Op, Query, QueryError
from node.rpc.reads import ReadPool, RequestBudget, get_budget

T = TypeVar("T")

TXS_MAX = 200_000
BLOCKS_MAX = 100_000
CATCH_UP_BLOCKS_PER_STEP = 256
SCAN_MAX = 10_000
"""Most candidates a search loads from the store to check conditions the index cannot answer."""

INDEX_BITS = 20
_INDEX_MASK = (1 << INDEX_BITS) - 1
_SPECIAL_KEYS = frozenset({"tm.event", "tx.hash", "tx.height"})


def to_position(height: int, index: int) -> int:
    return (height << INDEX_BITS) | index


def from_position(position: int) -> tuple[int, int]:
    return position >> INDEX_BITS, position & _INDEX_MASK


def compute_tx_events(height: int, tx_hash: bytes, receipt: Receipt) -> dict[str, list[str]]:
    """The composite keys and values a Tx event carries (CometBFT's ``events`` map)."""
    events: dict[str, list[str]] = {
        "tm.event": ["Tx"],
        "tx.hash": [tx_hash.hex().upper()],
        "tx.height": [str(height)],
    }
    for event in receipt.events:
        shaped = cj.event_json(event)
        for attribute in shaped["attributes"]:
            events.setdefault(f"{shaped['type']}.{attribute['key']}", []).append(attribute["value"])
    return events


class EventIndex:
    def __init__(self, chain: Chain, reads: ReadPool | None = None) -> None:
        self.chain = chain
        self.reads = reads
        self.indexed_height = 0
        self.first_height = 1
        self._positions: array[int] = array("q")
        self._postings: dict[tuple[str, str], array[int]] = {}
        self._block_heights: dict[bytes, int] = {}
        self._lock = asyncio.Lock()
        self._started = False

    # -- following the chain ---------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self.reads is None:
            return fn(*args)
        # Index upkeep is the node's work, not the request's: never refused as busy.
        return await self.reads.run(fn, *args, admit=False)

    async def catch_up(self) -> None:
        async with self._lock:
            await self._catch_up_locked()

    async def _catch_up_locked(self) -> None:
        if not self._started:
            self._started = True
            self.first_height = max(1, self.chain.height - BLOCKS_MAX + 1)
            self.indexed_height = self.first_height - 1
        while self.indexed_height < self.chain.height:
            stop = min(self.chain.height, self.indexed_height + CATCH_UP_BLOCKS_PER_STEP)
            await self._run(self._add_blocks, self.indexed_height + 1, stop)
            await asyncio.sleep(0)

    async def search_latest(self, query: Query) -> list[int]:
        """Catch up with the chain, then :meth:`search` (in the read pool, if there is one)."""
        async with self._lock:
            await self._catch_up_locked()
            return await self._run(self.search, query)

    def _add_blocks(self, first: int, last: int) -> None:
        for height in range(first, last + 1):
            self._add_block(height)

    def _add_block(self, height: int) -> None:
        block = self.chain.get_block(height)
        receipts = self.chain.get_receipts(height)
        if block is None or receipts is None:
            raise LookupError(f"block {height} missing from the store while indexing")
        self._block_heights[block.hash] = height
        for index, (raw, receipt) in enumerate(zip(block.txs, receipts, strict=True)):
            position = to_position(height, index)
            self._positions.append(position)
            for key, values in compute_tx_events(height, sha256(raw), receipt).items():
                if key in _SPECIAL_KEYS:
                    continue
                for value in set(values):
                    self._postings.setdefault((key, value), array("q")).append(position)
        self.indexed_height = height
        self._evict()

    def _evict(self) -> None:
        while len(self._block_heights) > BLOCKS_MAX:
            del self._block_heights[next(iter(self._block_heights))]
        if len(self._positions) <= TXS_MAX:
            return
        cutoff = self._positions[len(self._positions) - TXS_MAX * 3 // 4]
        self.first_height = max(self.first_height, from_position(cutoff)[0])
        cutoff = to_position(self.first_height, 0)
        self._positions = array("q", (p for p in self._positions if p >= cutoff))
        postings = {k: array("q", (p for p in v if p >= cutoff)) for k, v in self._postings.items()}
        self._postings = {k: v for k, v in postings.items() if v}

    # -- reads -----------------------------------------------------------------------------

    def get_block_height(self, block_hash: bytes) -> int | None:
        return self._block_heights.get(block_hash)

    def search(self, query: Query) -> list[int]:
        """Positions of matching txs, ascending. Raises QueryError when too broad."""
        event_type = query.event_type
        if event_type is not None and event_type != "Tx":
            return []
        by_hash = [c for c in query.get("tx.hash") if isinstance(c.operand, str)]
        if by_hash:
            return self._filter(self._lookup_hash(by_hash[0].operand), query, _residual(query, ()))
        low, high = _height_bounds(query.conditions)
        attr_eq = [c for c in query.get_eq_strings() if c.key not in _SPECIAL_KEYS]
        if attr_eq:
            candidates = self._intersect(attr_eq, low, high)
        else:
            start = bisect.bisect_left(self._positions, to_position(low, 0))
            end = bisect.bisect_left(self._positions, to_position(high + 1, 0))
            candidates = list(self._positions[start:end])
        return self._filter(candidates, query, _residual(query, attr_eq))

    def _lookup_hash(self, hex_hash: str | Decimal | None) -> list[int]:
        try:
            tx_hash = bytes.fromhex(str(hex_hash))
        except ValueError:
            return []
        location = self.chain.store.get_tx_location(tx_hash)
        return [] if location is None else [to_position(*location)]

    def _intersect(self, conditions: Sequence[Condition], low: int, high: int) -> list[int]:
        lists = sorted(
            (self._postings.get((c.key, str(c.operand)), array("q")) for c in conditions), key=len
        )
        chosen = set(lists[0])
        for other in lists[1:]:
            chosen.intersection_update(other)
        low_pos, high_pos = to_position(low, 0), to_position(high + 1, 0)
        return sorted(p for p in chosen if low_pos <= p < high_pos)

    def _filter(
        self, candidates: list[int], query: Query, residual: Sequence[Condition]
    ) -> list[int]:
        if not residual:
            return candidates
        if len(candidates) > SCAN_MAX:
            raise QueryError(
                f"query matches more than {SCAN_MAX} candidates before its non-indexed "
                "conditions; add an = condition on an event attribute or narrow tx.height"
            )
        loaded = _EventsLoader(self.chain, get_budget())
        return [p for p in candidates if query.is_match(loaded.get(p))]


def _residual(query: Query, answered: Iterable[Condition]) -> list[Condition]:
    """Conditions the index did not answer by itself (checked against loaded events)."""
    done = set(answered)
    return [
        c
        for c in query.conditions
        if c not in done
        and not (c.key == "tm.event" and c.op is Op.EQ)
        and not (c.key == "tx.height" and isinstance(c.operand, Decimal) and c.op is not Op.EXISTS)
    ]


def _height_bounds(conditions: Iterable[Condition]) -> tuple[int, int]:
    low, high = 1, (1 << 62)
    for c in conditions:
        if c.key != "tx.height" or not isinstance(c.operand, Decimal):
            continue
        value = c.operand
        floor, ceil = (
            int(value.to_integral_value("ROUND_FLOOR")),
            int(value.to_integral_value("ROUND_CEILING")),
        )
        if c.op is Op.EQ:
            if floor != ceil:
                return 1, 0
            low, high = max(low, floor), min(high, floor)
        elif c.op is Op.GT:
            low = max(low, floor + 1)
        elif c.op is Op.GE:
            low = max(low, ceil)
        elif c.op is Op.LT:
            high = min(high, ceil - 1)
        elif c.op is Op.LE:
            high = min(high, floor)
    return max(low, 1), min(high, 1 << 62)


class _EventsLoader:
    """Loads a candidate's events from the store; each block is decoded once per request (the
    budget keeps it) and every candidate checked counts as a row."""

    def __init__(self, chain: Chain, budget: RequestBudget) -> None:
        self.chain = chain
        self.budget = budget

    def get(self, position: int) -> Mapping[str, Sequence[str]]:
        height, index = from_position(position)
        self.budget.charge_rows()
        block = self.budget.get_block(self.chain.store, height)
        receipts = self.budget.get_receipts(self.chain.store, height)
        txs = block.txs if block else ()
        receipts = receipts or ()
        if index >= len(txs) or index >= len(receipts):
            return {}
        return compute_tx_events(height, sha256(txs[index]), receipts[index])

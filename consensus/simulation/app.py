"""A trivial deterministic application standing in for the ledger in simulations.

Its state is a hash chain: ``app_hash' = sha256(app_hash || encode(txs))``. Each node has its own
mempool of synthetic transactions (drawn by the simulator, gossiped with delays, so proposers'
candidate lists differ), removes committed ones, and never re-admits a committed transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus import codec
from consensus.crypto import sha256
from consensus.types import Hash32

GENESIS_APP_HASH = sha256(b"depochain/simulation/genesis-app")
TX_PREFIX = b"simtx/"
POOL_MAX = 10_000
"""A bounded mempool: beyond this, new arrivals are refused (as a node would answer 429)."""


def compute_app_hash(previous: Hash32, txs: Sequence[bytes]) -> Hash32:
    return sha256(previous + codec.encode(list(txs)))


def make_tx(seed: int, number: int, padding: bytes) -> bytes:
    """A synthetic transaction: unique per (seed, number), opaque to consensus."""
    return TX_PREFIX + seed.to_bytes(8, "big") + number.to_bytes(4, "big") + padding


class SimApp:
    """One node's application: its mempool and the app hash after its last executed block."""

    __slots__ = ("_committed", "_pool", "app_hash", "executed_height")

    def __init__(self, app_hash: Hash32 = GENESIS_APP_HASH, executed_height: int = 0):
        self.app_hash = app_hash
        self.executed_height = executed_height
        self._pool: dict[bytes, None] = {}
        self._committed: set[bytes] = set()

    def add_tx(self, tx: bytes) -> bool:
        """Admit a tx to the mempool; False if known, already committed or the pool is full."""
        if tx in self._pool or tx in self._committed or len(self._pool) >= POOL_MAX:
            return False
        self._pool[tx] = None
        return True

    def clear_mempool(self) -> None:
        """A crash loses the mempool; committed txs are in the (persisted) ledger and stay."""
        self._pool.clear()

    def get_candidate_txs(self, txs_max: int) -> tuple[bytes, ...]:
        return tuple(list(self._pool)[:txs_max])

    def execute(self, height: int, txs: Sequence[bytes]) -> Hash32:
        """Apply the block at ``height`` (the next one) and return the new app hash."""
        if height != self.executed_height + 1:
            raise RuntimeError(f"executing height {height} after {self.executed_height}")
        self.app_hash = compute_app_hash(self.app_hash, txs)
        self.executed_height = height
        for tx in txs:
            self._pool.pop(tx, None)
            self._committed.add(tx)
        return self.app_hash

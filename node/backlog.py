"""Backpressure at the client's door: "try later" once the mempool holds a few blocks' worth.

A transaction admitted when the mempool already holds many blocks' worth waits for all of them:
at saturation that queue, not consensus, is what a client's latency is made of (seconds, not a
block time). So a client submission is refused with :class:`~node.mempool.MempoolFull` (the
RPC's 429 "try later", with Retry-After on the REST API) once the pool holds
``BACKLOG_BLOCKS`` times the recent block size, or ``BACKLOG_TXS_MIN`` if that is more (a quiet
chain still takes a burst). What is accepted then commits within a few blocks, and a client
that honours the answer comes back when there is room.

Only client submissions pass here: transactions gossiped by peers were accepted by another
node already and still enter up to the mempool's own bounds, so every node can check and
propose them; and keeping that room is what lets a node reuse its own signature verdict when
the block arrives, instead of verifying again.
"""

from __future__ import annotations

from consensus.crypto import sha256
from node.chain import CommittedBlock
from node.mempool import MempoolFull

BACKLOG_BLOCKS = 2.0
BACKLOG_TXS_MIN = 1_000
BLOCK_SIZE_WEIGHT = 0.3
"""Weight of the newest non-empty block in the running block size (the rest: the history)."""


class BacklogGate:
    """Knows the recent block size (from commits) and refuses client txs beyond the backlog."""

    def __init__(self, blocks: float = BACKLOG_BLOCKS, txs_min: int = BACKLOG_TXS_MIN) -> None:
        self.blocks = blocks
        self.txs_min = txs_min
        self.block_txs = 0.0
        """Running (exponentially weighted) size of the recent non-empty blocks."""
        self.refused_total = 0

    @property
    def limit(self) -> int:
        return max(self.txs_min, int(self.blocks * self.block_txs))

    def on_commit(self, committed: CommittedBlock) -> None:
        self.record_block(len(committed.tx_hashes))

    def record_block(self, count: int) -> None:
        """A block of ``count`` txs was committed."""
        if count == 0:
            return  # an empty block says nothing about how much a block takes
        if self.block_txs == 0.0:
            self.block_txs = float(count)
        else:
            self.block_txs += BLOCK_SIZE_WEIGHT * (count - self.block_txs)

    def check(self, raw: bytes, pending: int) -> None:
        """Raise MempoolFull when ``pending`` txs are already a full backlog."""
        if pending < self.limit:
            return
        self.refused_total += 1
        reason = f"{pending} txs pending, a backlog of about {self.blocks:g} blocks"
        raise MempoolFull(sha256(raw), reason)

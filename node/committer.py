"""Executing and storing a decided block without holding the event loop.

A 1,000-transaction block takes tens to hundreds of milliseconds to execute, write (one synced
LevelDB batch) and prune; on the event loop, that is as long as ``/health``, the RPC and P2P
cannot answer. :class:`BlockCommitter` runs that middle step (``Chain.execute_and_store``) in
ONE worker thread, so blocks are written one at a time and in order, while the loop serves the
rest. LevelDB's write and fsync and PyNaCl release the GIL; the ledger's Python work does not,
but the interpreter hands the GIL back to the loop every few milliseconds.

What keeps this as safe as writing on the loop (the driver relies on it):

- the driver awaits the block before it handles any other consensus input, so the replica
  sees nothing of the next height before the block is durable, and signs nothing for it;
- the chain's state moves (``Chain.publish_stored``) on the loop, after the write: readers on
  the loop see the previous tip until then (the store's height moves first; a reader that
  compares the two may see the block stored before its state is published);
- a crash while the worker writes is a crash during a synced batch: the block is all there or
  not at all, and the WAL, marked only after the write, replays the decision.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from consensus.blocks import Block
from consensus.messages import CommitCertificate
from consensus.types import Hash32
from node.chain import Chain, CommittedBlock
from node.loop_watch import LoopWatch
from node.mempool import Mempool


class BlockCommitter:
    """Commits decided blocks for the driver: in the worker thread or, for tools and WAL
    replay, on the caller's thread."""

    def __init__(self, chain: Chain, mempool: Mempool, watch: LoopWatch) -> None:
        self.chain = chain
        self.mempool = mempool
        self.watch = watch
        self._worker: ThreadPoolExecutor | None = None

    def _verdict(self, tx_hash: Hash32) -> bool | None:
        return self.mempool.verdict(tx_hash)

    def commit_here(self, block: Block, certificate: CommitCertificate) -> CommittedBlock:
        """Execute and store ``block`` on this thread."""
        with self.watch.stretch("commit on the loop"):
            return self.chain.commit(block, certificate, self._verdict)

    async def commit_in_worker(
        self, block: Block, certificate: CommitCertificate
    ) -> CommittedBlock:
        """Execute and store ``block`` in the worker thread; the caller's loop stays free."""
        chain = self.chain
        with self.watch.stretch("commit: collect verdicts"):
            known = chain.collect_verdicts(block, self._verdict)
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="commit")
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        stored = await loop.run_in_executor(
            self._worker, chain.execute_and_store, block, certificate, known
        )
        self.watch.record("commit: execute + store (worker)", time.perf_counter() - started)
        with self.watch.stretch("commit: publish"):
            return chain.publish_stored(stored)

    def close(self) -> None:
        """Wait for a block being written (it is finished, never torn), then stop the worker."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

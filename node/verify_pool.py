"""Signature checks at admission on worker threads, a batch at a time.

Ed25519 verification is most of what admitting a transaction costs, and PyNaCl releases the GIL
while it verifies, so a node on a many-core host checks a submitted batch (or a gossip batch) on
``[mempool].verify_threads`` threads while its event loop keeps serving. Only the signature
verdict moves off the loop: it is a pure function of the transaction's bytes, so computing it
earlier, elsewhere, cannot change what is admitted. Everything that depends on order (nonces,
the pool's bounds, dedup) still runs on the event loop, one transaction after another, in the
order they came, exactly as without threads.

Use: ``async with verifier.prepared(raws): <admit each raw in order>``. Inside the block the
mempool's checker takes each prepared verdict (:meth:`SignatureVerifier.take`); a tx without one
(a second copy, or one the block did not prepare) is verified inline as before. Leaving the
block forgets what was not taken, so nothing accumulates. The executor runs at most ``threads``
chunks at once and a semaphore admits at most ``BATCHES_IN_FLIGHT_PER_THREAD * threads`` batches
into it, so neither its queue nor the verdicts held grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from consensus.codec import CodecError
from consensus.ledger import SignedTx, decode_tx, verify_tx_signatures

THREADS_MAX_AUTO = 4
"""Most threads the automatic setting picks (``verify_threads = -1``: cores - 1, at most 4)."""
BATCHES_IN_FLIGHT_PER_THREAD = 2
"""Batches that may wait for the threads at once, per thread (later ones wait their turn)."""
CHUNK_TXS_MIN = 16
"""Fewest txs worth handing to a thread of their own (the hand-off costs tens of µs)."""


def resolve_threads(configured: int, cpu_count: int | None = None) -> int:
    """Worker threads for ``[mempool].verify_threads``: -1 picks one per core but the event
    loop's, at most ``THREADS_MAX_AUTO``; 0 and 1 both mean inline, on the event loop. (A thread
    without a core of its own can only take turns with the event loop, for the CPU and for the
    GIL, so a 2-core host gets none; set the count to use threads there anyway.)"""
    if configured < 0:
        cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
        return max(1, min(THREADS_MAX_AUTO, cores - 1))
    return max(1, configured)


def _verify_chunk(txs: Sequence[SignedTx]) -> list[bool]:
    return [verify_tx_signatures(tx) for tx in txs]


class SignatureVerifier:
    """Verifies the signatures of a batch of txs on worker threads, ahead of admission."""

    def __init__(
        self,
        threads: int,
        is_known: Callable[[bytes], bool] = lambda _raw: False,
        is_worth_verifying: Callable[[SignedTx], bool] = lambda _tx: True,
    ):
        self.threads = max(1, threads)
        """Worker threads (1: none, every verdict is computed inline by the checker)."""
        self._is_known = is_known
        """True for a tx the pool already holds (its verdict would never be asked for)."""
        self._is_worth_verifying = is_worth_verifying
        """False for a tx the checker refuses without its verdict (an unknown submitter, keys
        that are not the submitter's): junk must not buy a verification on the threads either."""
        self._executor: ThreadPoolExecutor | None = None
        if self.threads > 1:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="verify")
        self._slots = asyncio.Semaphore(BATCHES_IN_FLIGHT_PER_THREAD * self.threads)
        self._verdicts: dict[bytes, bool] = {}
        self.verified_total = 0
        """Transactions verified on the worker threads."""
        self.taken_total = 0
        """Prepared verdicts the checker used."""

    @property
    def is_threaded(self) -> bool:
        return self._executor is not None

    @contextlib.asynccontextmanager
    async def prepared(self, raws: Sequence[bytes]) -> AsyncIterator[None]:
        """Verify ``raws``' signatures on the threads, then let the block admit them."""
        prepared = await self._prepare(raws) if self._executor is not None else []
        try:
            yield
        finally:
            for raw in prepared:
                self._verdicts.pop(raw, None)

    def take(self, raw: bytes) -> bool | None:
        """The prepared verdict of ``raw`` (then forgotten), or None if none was prepared."""
        verdict = self._verdicts.pop(raw, None)
        if verdict is not None:
            self.taken_total += 1
        return verdict

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    async def _prepare(self, raws: Sequence[bytes]) -> list[bytes]:
        chosen, txs = self._decode_new(raws)
        if not txs:
            return []
        chunks = _split(txs, self.threads)
        loop = asyncio.get_running_loop()
        async with self._slots:
            results = await asyncio.gather(
                *(loop.run_in_executor(self._executor, _verify_chunk, chunk) for chunk in chunks)
            )
        verdicts = [verdict for chunk_verdicts in results for verdict in chunk_verdicts]
        self._verdicts.update(zip(chosen, verdicts, strict=True))
        self.verified_total += len(verdicts)
        return chosen

    def _decode_new(self, raws: Sequence[bytes]) -> tuple[list[bytes], list[SignedTx]]:
        # Decoding stays on the loop (it fills the decode memo the checker reads next); a tx that
        # does not decode is refused by the checker without any signature to check.
        chosen: list[bytes] = []
        txs: list[SignedTx] = []
        seen: set[bytes] = set()
        for raw in raws:
            if raw in seen or raw in self._verdicts or self._is_known(raw):
                continue
            seen.add(raw)
            try:
                tx = decode_tx(raw)
            except CodecError:
                continue
            if not self._is_worth_verifying(tx):
                continue
            chosen.append(raw)
            txs.append(tx)
        return chosen, txs


def _split(txs: list[SignedTx], threads: int) -> list[list[SignedTx]]:
    """``txs`` in at most ``threads`` contiguous chunks of at least ``CHUNK_TXS_MIN`` (but one)."""
    count = max(1, min(threads, len(txs) // CHUNK_TXS_MIN))
    size = -(-len(txs) // count)
    return [txs[start : start + size] for start in range(0, len(txs), size)]

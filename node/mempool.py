"""The mempool: transactions checked against the latest state, waiting for a block.

Bounded by count and bytes, in all and per submitter. When full, :meth:`Mempool.add` raises
:class:`MempoolFull` (the RPC answers HTTP 429 "try later"); a submitter over its own share gets
a typed rejection (``AdmissionCode.SUBMITTER_LIMIT``), so one submitter cannot crowd out the
others. A transaction once accepted leaves only by being committed, by failing the recheck after
a block (its nonce consumed, its submitter gone or its keys changed, expired), or by waiting
longer than the time-to-live, or to let in the nonce that fills its submitter's gap
(``node.mempool_gaps``); the reason is kept so a client asking about the transaction learns
it was dropped and why. Dedup is by tx hash, against the pool and recently committed hashes.

The check's signature verdict is cached per hash so the block path verifies no signature twice
(it must still check that the key is the submitter's current one). Single-threaded: the node
calls it from its event loop; it never does I/O.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from consensus.crypto import sha256
from consensus.ledger.txs import ValidUntil
from consensus.types import Hash32
from node.mempool_expiry import ExpiryIndex
from node.mempool_gaps import choose_gap_room, claims_a_gap
from node.mempool_types import CODE_BAD_NONCE as CODE_BAD_NONCE
from node.mempool_types import CODE_EXPIRED as CODE_EXPIRED
from node.mempool_types import CODE_MALFORMED as CODE_MALFORMED
from node.mempool_types import CODE_OK as CODE_OK
from node.mempool_types import Accepted as Accepted
from node.mempool_types import AddOutcome as AddOutcome
from node.mempool_types import AdmissionCode as AdmissionCode
from node.mempool_types import AlreadyKnown as AlreadyKnown
from node.mempool_types import Check as Check
from node.mempool_types import CheckResult as CheckResult
from node.mempool_types import MempoolFull as MempoolFull
from node.mempool_types import MempoolStats as MempoolStats
from node.mempool_types import Rejected as Rejected
from node.mempool_types import TxStatus as TxStatus
from node.mempool_types import UpdateReport as UpdateReport

COMMITTED_CACHE_SIZE = 100_000
REJECTION_CACHE_SIZE = 10_000


@dataclass(slots=True)  # not frozen (never changed): one per admitted tx, frozen costs ~3x
class _Entry:
    raw: bytes
    sender: str
    nonce: int
    signature_ok: bool | None
    added_s: float
    """Monotonic time of admission (for the time-to-live)."""
    valid_until: ValidUntil | None = None
    """The tx's own expiry, as the checker read it (None: the checker did not say)."""


class Mempool:
    """Bounded pool of checked transactions, in arrival order."""

    def __init__(
        self,
        max_txs: int,
        max_bytes: int,
        max_tx_bytes: int,
        check: Check,
        *,
        committed_cache_size: int = COMMITTED_CACHE_SIZE,
        rejection_cache_size: int = REJECTION_CACHE_SIZE,
        submitter_txs_max: int | None = None,
        submitter_bytes_max: int | None = None,
        ttl_s: float | None = None,
        now_s: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(max_txs, max_bytes, max_tx_bytes, committed_cache_size, rejection_cache_size) < 1:
            raise ValueError("mempool bounds must be positive")
        self.max_txs, self.max_bytes, self.max_tx_bytes = max_txs, max_bytes, max_tx_bytes
        self.submitter_txs_max = max_txs if submitter_txs_max is None else submitter_txs_max
        self.submitter_bytes_max = max_bytes if submitter_bytes_max is None else submitter_bytes_max
        if min(self.submitter_txs_max, self.submitter_bytes_max, ttl_s or 1) <= 0:
            raise ValueError("per-submitter bounds and the time-to-live must be positive")
        self.ttl_s, self._now_s = ttl_s, now_s
        self._check = check
        self._pool: dict[Hash32, _Entry] = {}  # insertion order = arrival order
        self._nonces: dict[str, dict[int, Hash32]] = {}
        self._sender_bytes: dict[str, int] = {}
        self._bytes = 0
        self._expiry = ExpiryIndex()
        self._committed: OrderedDict[Hash32, None] = OrderedDict()
        self._committed_max = committed_cache_size
        self._rejections: OrderedDict[Hash32, tuple[Rejected, bool | None]] = OrderedDict()
        self._rejections_max = rejection_cache_size
        self._counts = dict.fromkeys(
            (
                "accepted",
                "already_known",
                "rejected",
                "full",
                "committed",
                "recheck_rejected",
                "submitter_limited",
                "expired",
            ),
            0,
        )

    # -- adding ---------------------------------------------------------------------------

    def add(self, raw: bytes) -> AddOutcome:
        """Check and keep ``raw``. Raises MempoolFull when it does not fit right now."""
        tx_hash = sha256(raw)
        size = len(raw)
        if size > self.max_tx_bytes:
            reason = f"transaction of {size} bytes exceeds {self.max_tx_bytes}"
            return self._reject(Rejected(tx_hash, CODE_MALFORMED, reason), None)
        if tx_hash in self._pool or tx_hash in self._committed:
            self._counts["already_known"] += 1
            return AlreadyKnown(tx_hash, is_committed=tx_hash in self._committed)
        try:
            if not self._has_room(size):  # else _validate_room would find room: skip its call
                self._validate_room(tx_hash, size)
            result = self._check(raw)
        except MempoolFull:
            if not claims_a_gap(raw, lambda sender: self._nonces.get(sender, {})):
                raise
            result = self._check(raw)  # full: only a tx that fills its own nonce gap gets in
            fits = result.is_accepted and self._make_room_below(result.sender, result.nonce, size)
            if not fits:
                raise
        if result.code != CODE_OK:
            return self._reject(Rejected(tx_hash, result.code, result.log), result.signature_ok)
        sender, nonce = result.sender, result.nonce
        pending = self._nonces.get(sender)
        if pending is not None and nonce in pending:
            reason = f"nonce {nonce} of {sender} is already pending"
            return self._reject(Rejected(tx_hash, CODE_BAD_NONCE, reason), result.signature_ok)
        if not self._is_within_share(pending, sender, size):
            limit = self._make_submitter_room(sender, nonce, size)
            if limit is not None:
                self._counts["submitter_limited"] += 1
                rejected = Rejected(tx_hash, AdmissionCode.SUBMITTER_LIMIT, limit)
                return self._reject(rejected, result.signature_ok)
        entry = _Entry(raw, sender, nonce, result.signature_ok, self._now_s(), result.valid_until)
        self._insert(tx_hash, entry)
        self._rejections.pop(tx_hash, None)
        self._counts["accepted"] += 1
        return Accepted(tx_hash)

    def _is_within_share(self, pending: dict[int, Hash32] | None, sender: str, size: int) -> bool:
        """Whether ``sender`` (with ``pending`` txs waiting) may add ``size`` bytes as things
        stand: the common case, where :meth:`_make_submitter_room` has nothing to do."""
        if pending is None:  # nothing waiting (and so no bytes held)
            return size <= self.submitter_bytes_max  # submitter_txs_max is at least 1
        held = self._sender_bytes[sender]
        return len(pending) < self.submitter_txs_max and held + size <= self.submitter_bytes_max

    def _make_submitter_room(self, sender: str, nonce: int, size: int) -> str | None:
        """Why ``sender`` may not add a tx of ``size`` bytes now (None if it may). A submitter
        at its share keeps its lowest nonces: a lower one replaces its highest pending ones
        (dropped with the reason recorded), so the nonce that unblocks the rest always fits."""
        while True:
            pending = self._nonces.get(sender, {})
            count, held = len(pending), self._sender_bytes.get(sender, 0)
            if count + 1 > self.submitter_txs_max:
                limit = self.submitter_txs_max
                reason = f"{sender} has {count} of {limit} transactions waiting; try later"
            elif held + size > self.submitter_bytes_max:
                limit = self.submitter_bytes_max
                reason = f"{sender} has {held} of {limit} bytes waiting; try later"
            else:
                return None
            highest = max(pending, default=0)
            if highest <= nonce:
                return reason
            tx_hash = pending[highest]
            entry = self._remove(tx_hash)
            log = f"replaced by nonce {nonce} of {sender}: {reason}"
            outcome = Rejected(tx_hash, AdmissionCode.SUBMITTER_LIMIT, log, is_recheck=True)
            self._reject(outcome, entry.signature_ok)

    def _validate_room(self, tx_hash: Hash32, size: int) -> None:
        if not self._has_room(size):
            self.evict_expired()  # a full pool first lets go of what waited too long
        if len(self._pool) + 1 > self.max_txs:
            reason = f"{len(self._pool)} of {self.max_txs} transactions"
        elif self._bytes + size > self.max_bytes:
            reason = f"{self._bytes} of {self.max_bytes} bytes"
        else:
            return
        self._counts["full"] += 1
        raise MempoolFull(tx_hash, reason)

    def _make_room_below(self, sender: str, nonce: int, size: int) -> bool:
        """Room for ``sender``'s tx of ``nonce`` in a full pool (``node.mempool_gaps``)."""
        pending = self._nonces.get(sender, {})
        chosen = choose_gap_room(
            pending,
            nonce,
            lambda tx_hash: len(self._pool[tx_hash].raw),
            lambda txs, freed: (
                len(self._pool) - txs + 1 <= self.max_txs
                and self._bytes - freed + size <= self.max_bytes
            ),
        )
        for tx_hash in chosen or ():
            entry = self._remove(tx_hash)
            log = f"replaced by nonce {nonce} of {sender}, which fills a gap: mempool full"
            self._reject(Rejected(tx_hash, CODE_BAD_NONCE, log, True), entry.signature_ok)
        return chosen is not None

    def _has_room(self, size: int) -> bool:
        return len(self._pool) + 1 <= self.max_txs and self._bytes + size <= self.max_bytes

    def _reject(self, rejected: Rejected, signature_ok: bool | None) -> Rejected:
        self._counts["recheck_rejected" if rejected.is_recheck else "rejected"] += 1
        self._rejections[rejected.tx_hash] = (rejected, signature_ok)
        self._rejections.move_to_end(rejected.tx_hash)
        while len(self._rejections) > self._rejections_max:
            self._rejections.popitem(last=False)
        return rejected

    def _insert(self, tx_hash: Hash32, entry: _Entry) -> None:
        sender, size, valid_until = entry.sender, len(entry.raw), entry.valid_until
        self._pool[tx_hash] = entry
        nonces = self._nonces.get(sender)
        if nonces is None:
            self._nonces[sender] = {entry.nonce: tx_hash}
            self._sender_bytes[sender] = size
        else:
            nonces[entry.nonce] = tx_hash
            self._sender_bytes[sender] += size
        self._bytes += size
        if valid_until is not None:
            self._expiry.add(tx_hash, valid_until)
            if self._expiry.is_mostly_stale(len(self._pool)):
                live = self._pool.items()
                self._expiry.rebuild((h, e.valid_until) for h, e in live if e.valid_until)

    def _remove(self, tx_hash: Hash32) -> _Entry:
        entry = self._pool.pop(tx_hash)
        nonces = self._nonces[entry.sender]
        del nonces[entry.nonce]
        if not nonces:
            del self._nonces[entry.sender]
            del self._sender_bytes[entry.sender]
        else:
            self._sender_bytes[entry.sender] -= len(entry.raw)
        self._bytes -= len(entry.raw)
        return entry

    def withdraw(self, tx_hash: Hash32) -> None:
        """Take back a just-admitted tx that could not be acknowledged (its journal write
        failed): a retry must not find it "already known" and take that for an ack."""
        if tx_hash in self._pool:
            self._remove(tx_hash)

    # -- building a block -----------------------------------------------------------------

    def reap(
        self, max_txs: int, max_bytes: int, next_nonce: Callable[[str], int] | None = None
    ) -> list[bytes]:
        """Up to ``max_txs`` transactions totalling at most ``max_bytes``, in arrival order,
        each sender's in nonce order. Nothing is removed (that happens after the commit).

        With ``next_nonce`` (the nonce the ledger expects next from a sender), a sender's txs
        are taken only as a gap-free run from that nonce: a tx whose predecessor has not
        arrived yet (gossip reorders) waits instead of being committed ahead of it."""
        chosen: list[bytes] = []
        for _, entry in self._iter_block_order(max_txs, max_bytes, next_nonce):
            chosen.append(entry.raw)
        return chosen

    def _iter_block_order(
        self,
        max_txs: int | None = None,
        max_bytes: int | None = None,
        next_nonce: Callable[[str], int] | None = None,
    ) -> Iterable[tuple[Hash32, _Entry]]:
        # Each arrival slot of a sender takes that sender's lowest remaining nonce: arrival order
        # across senders, nonce order within one. A sender whose next tx does not fit (or, with
        # next_nonce, is not the expected one) is skipped from then on: its later nonces would
        # be out of order without it. A sender's queue is sorted when its first slot comes up:
        # a block reaped from a large pool reaches only some of its senders.
        queues: dict[str, list[tuple[int, Hash32]]] = {}
        expected: dict[str, int] = {}
        blocked: set[str] = set()
        count = total = 0
        for entry in self._pool.values():
            if max_txs is not None and count >= max_txs:
                return
            sender = entry.sender
            if sender in blocked:
                continue
            queue = queues.get(sender)
            if queue is None:
                queue = queues[sender] = sorted(self._nonces[sender].items(), reverse=True)
            nonce, tx_hash = queue.pop()
            picked = self._pool[tx_hash]
            if next_nonce is not None:
                wanted = expected.get(sender)
                if wanted is None:
                    wanted = next_nonce(sender)
                if nonce != wanted:
                    blocked.add(sender)
                    continue
                expected[sender] = nonce + 1
            if max_bytes is not None and total + len(picked.raw) > max_bytes:
                blocked.add(sender)
                continue
            count, total = count + 1, total + len(picked.raw)
            yield tx_hash, picked

    # -- after a block ----------------------------------------------------------------------

    def update_after_block(
        self, committed_hashes: Iterable[Hash32], recheck: Check | None
    ) -> UpdateReport:
        """Forget committed txs (remembering their hashes), drop those past their time-to-live,
        and recheck the rest against the new state; a tx that fails is dropped with its reason
        recorded."""
        removed = 0
        for tx_hash in committed_hashes:
            if tx_hash in self._pool:
                self._remove(tx_hash)
                removed += 1
            self._remember_committed(tx_hash)
        rejected = self.evict_expired()
        if recheck is not None:
            for tx_hash, entry in list(self._iter_block_order()):
                result = recheck(entry.raw)
                if result.is_accepted:
                    continue
                self._remove(tx_hash)
                outcome = Rejected(tx_hash, result.code, result.log, is_recheck=True)
                rejected.append(self._reject(outcome, result.signature_ok))
        self._counts["committed"] += removed
        return UpdateReport(removed_committed=removed, rejected=tuple(rejected))

    def recheck_after_block(
        self,
        senders: Iterable[str] | None,
        recheck: Check,
        height: int,
        time_ms: int,
        is_suspect: Callable[[str, int, bytes], bool] = lambda _s, _n, _raw: True,
    ) -> list[Rejected]:
        """The recheck after the block at ``height`` and ``time_ms``, only where that block can
        have changed a verdict (``node.mempool_recheck`` says why this is enough): the pending
        txs of ``senders`` (None: of every sender) that ``is_suspect(sender, nonce, raw)`` are
        checked again, and those whose own valid_until the next block passes are dropped,
        found in the expiry index."""
        if senders is None:
            targets = [tx_hash for tx_hash, _ in self._iter_block_order()]
        else:
            targets = [
                tx_hash
                for sender in senders
                for nonce, tx_hash in sorted(self._nonces.get(sender, {}).items())
                if is_suspect(sender, nonce, self._pool[tx_hash].raw)
            ]
        rejected = []
        for tx_hash in targets:
            result = recheck(self._pool[tx_hash].raw)
            if not result.is_accepted:
                rejected.append(self._evict(tx_hash, result.code, result.log))
        for tx_hash in self._expiry.pop_expired(height + 1, time_ms + 1):
            if tx_hash in self._pool:  # the next block is one height and one ms on at least
                rejected.append(self._evict(tx_hash, CODE_EXPIRED, "valid_until has passed"))
        return rejected

    def _evict(self, tx_hash: Hash32, code: int, log: str) -> Rejected:
        entry = self._remove(tx_hash)
        return self._reject(Rejected(tx_hash, code, log, is_recheck=True), entry.signature_ok)

    def evict_expired(self) -> list[Rejected]:
        """Drop the txs that waited longer than the time-to-live (oldest first: the pool is in
        arrival order, so this stops at the first young one)."""
        dropped: list[Rejected] = []
        if self.ttl_s is None:
            return dropped
        oldest_kept = self._now_s() - self.ttl_s
        while self._pool:
            tx_hash, entry = next(iter(self._pool.items()))
            if entry.added_s >= oldest_kept:
                break
            self._remove(tx_hash)
            log = f"dropped after waiting more than {self.ttl_s:g} s"
            outcome = Rejected(tx_hash, AdmissionCode.TTL_EXPIRED, log, is_recheck=True)
            dropped.append(self._reject(outcome, entry.signature_ok))
            self._counts["expired"] += 1
        return dropped

    def _remember_committed(self, tx_hash: Hash32) -> None:
        self._rejections.pop(tx_hash, None)
        self._committed[tx_hash] = None
        self._committed.move_to_end(tx_hash)
        while len(self._committed) > self._committed_max:
            self._committed.popitem(last=False)

    # -- reading ----------------------------------------------------------------------------

    def get_pending_nonces(self, sender: str) -> list[int]:
        """Nonces of ``sender`` waiting in the pool, ascending."""
        return sorted(self._nonces.get(sender, ()))

    def get_next_nonce(self, sender: str, last_committed: int) -> int:
        """The nonce ``sender``'s next tx should carry: past the committed one and the run of
        pending ones that follows it without a gap (a pending tx after a gap does not count: the
        missing nonce must come first)."""
        pending = self._nonces.get(sender, {})
        nonce = last_committed + 1
        while nonce in pending:
            nonce += 1
        return nonce

    def verdict(self, tx_hash: Hash32) -> bool | None:
        """Cached signature verdict for a pending or recently rejected tx; None if unknown."""
        entry = self._pool.get(tx_hash)
        if entry is not None:
            return entry.signature_ok
        rejection = self._rejections.get(tx_hash)
        return None if rejection is None else rejection[1]

    def get_status(self, tx_hash: Hash32) -> TxStatus:
        if tx_hash in self._pool:
            return TxStatus.PENDING
        if tx_hash in self._committed:
            return TxStatus.COMMITTED
        if tx_hash in self._rejections:
            return TxStatus.REJECTED
        return TxStatus.UNKNOWN

    def get_rejection(self, tx_hash: Hash32) -> Rejected | None:
        """Why a recent tx was rejected (at submission or by a recheck), if it was."""
        rejection = self._rejections.get(tx_hash)
        return None if rejection is None else rejection[0]

    def get(self, tx_hash: Hash32) -> bytes | None:
        entry = self._pool.get(tx_hash)
        return None if entry is None else entry.raw

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._pool

    def __len__(self) -> int:
        return len(self._pool)

    def size(self) -> int:
        return len(self._pool)

    def size_bytes(self) -> int:
        return self._bytes

    def bytes(self) -> int:
        """Same as :meth:`size_bytes` (the name the node's RPC uses)."""
        return self._bytes

    def stats(self) -> MempoolStats:
        c = self._counts
        return MempoolStats(
            size=len(self._pool),
            size_bytes=self._bytes,
            accepted_total=c["accepted"],
            already_known_total=c["already_known"],
            rejected_total=c["rejected"],
            full_total=c["full"],
            committed_total=c["committed"],
            recheck_rejected_total=c["recheck_rejected"],
            submitter_limited_total=c["submitter_limited"],
            expired_total=c["expired"],
        )

"""node.mempool: bounds, dedup, reap order, recheck, committed memory, verdict cache, and a
stateful property test that the pool never exceeds its bounds nor loses an accepted tx."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consensus.crypto import sha256
from consensus.types import Hash32
from node.mempool import (
    CODE_BAD_NONCE,
    CODE_MALFORMED,
    Accepted,
    AlreadyKnown,
    CheckResult,
    Mempool,
    MempoolFull,
    Rejected,
    TxStatus,
)

BAD_SIGNATURE = 3
INSUFFICIENT = 17


def tx(sender: str, nonce: int, kind: str = "ok", pad: int = 0) -> bytes:
    return f"{sender}|{nonce}|{kind}|{'x' * pad}".encode()


class Checker:
    """A stand-in for the ledger: nonces must be above the last committed one per sender."""

    def __init__(self) -> None:
        self.last_nonce: dict[str, int] = {}
        self.calls = 0
        self.poisoned: set[bytes] = set()  # txs that the next recheck will find invalid

    def __call__(self, raw: bytes) -> CheckResult:
        self.calls += 1
        try:
            sender, nonce_text, kind, _ = raw.decode().split("|")
            nonce = int(nonce_text)
        except ValueError:
            return CheckResult(CODE_MALFORMED, "not a tx", "", 0, None)
        if kind == "badsig":
            return CheckResult(BAD_SIGNATURE, "bad signature", sender, nonce, False)
        if kind == "poor" or raw in self.poisoned:
            return CheckResult(INSUFFICIENT, "insufficient free balance", sender, nonce, True)
        if nonce <= self.last_nonce.get(sender, -1):
            return CheckResult(CODE_BAD_NONCE, f"nonce {nonce} already used", sender, nonce, True)
        return CheckResult(0, "", sender, nonce, True)

    def commit(self, txs: list[bytes]) -> list[Hash32]:
        for raw in txs:
            sender, nonce, _, _ = raw.decode().split("|")
            self.last_nonce[sender] = max(self.last_nonce.get(sender, -1), int(nonce))
        return [sha256(raw) for raw in txs]


def make(
    max_txs: int = 100, max_bytes: int = 10_000, max_tx_bytes: int = 1000, **kwargs: Any
) -> tuple[Mempool, Checker]:
    checker = Checker()
    return Mempool(max_txs, max_bytes, max_tx_bytes, checker, **kwargs), checker


def test_accept_dedup_and_status() -> None:
    pool, checker = make()
    raw = tx("A", 1)
    assert pool.add(raw) == Accepted(sha256(raw))
    assert pool.add(raw) == AlreadyKnown(sha256(raw))
    assert checker.calls == 1  # a duplicate is answered without checking it again
    assert pool.get_status(sha256(raw)) is TxStatus.PENDING
    assert pool.get(sha256(raw)) == raw and sha256(raw) in pool
    assert (pool.size(), pool.bytes(), pool.size_bytes(), len(pool)) == (1, len(raw), len(raw), 1)
    assert pool.get_status(sha256(b"other")) is TxStatus.UNKNOWN


def test_rejections_are_answered_and_remembered() -> None:
    pool, _ = make()
    bad_sig, poor, garbage = tx("A", 1, "badsig"), tx("A", 1, "poor"), b"\xff garbage"
    assert pool.add(bad_sig) == Rejected(sha256(bad_sig), BAD_SIGNATURE, "bad signature")
    assert pool.add(poor) == Rejected(sha256(poor), INSUFFICIENT, "insufficient free balance")
    assert pool.add(garbage) == Rejected(sha256(garbage), CODE_MALFORMED, "not a tx")
    assert pool.size() == 0 and pool.size_bytes() == 0
    assert pool.get_status(sha256(poor)) is TxStatus.REJECTED
    assert pool.get_rejection(sha256(poor)) == Rejected(
        sha256(poor), INSUFFICIENT, "insufficient free balance"
    )
    assert pool.stats().rejected_total == 3


def test_oversize_tx_is_rejected_without_checking() -> None:
    pool, checker = make(max_tx_bytes=50)
    raw = tx("A", 1, pad=100)
    outcome = pool.add(raw)
    assert isinstance(outcome, Rejected) and outcome.code == CODE_MALFORMED
    assert "exceeds 50" in outcome.log
    assert checker.calls == 0 and pool.size() == 0


def test_a_pending_nonce_cannot_be_taken_twice() -> None:
    pool, _ = make()
    pool.add(tx("A", 1, pad=1))
    outcome = pool.add(tx("A", 1, pad=2))
    assert isinstance(outcome, Rejected) and outcome.code == CODE_BAD_NONCE
    assert "already pending" in outcome.log
    assert pool.size() == 1


def test_full_by_count_raises_and_drops_nothing() -> None:
    pool, checker = make(max_txs=3)
    accepted = [tx("A", n) for n in range(3)]
    for raw in accepted:
        pool.add(raw)
    calls = checker.calls
    with pytest.raises(MempoolFull, match="try later") as info:
        pool.add(tx("B", 0))
    assert info.value.tx_hash == sha256(tx("B", 0))
    assert checker.calls == calls  # no work spent on a tx that cannot be kept
    assert pool.reap(10, 10_000) == accepted
    assert pool.add(accepted[0]) == AlreadyKnown(sha256(accepted[0]))  # known beats full
    pool.update_after_block(checker.commit(accepted[:1]), recheck=checker)
    assert isinstance(pool.add(tx("B", 0)), Accepted)
    assert pool.stats().full_total == 1


def test_full_by_bytes_raises_and_drops_nothing() -> None:
    pool, _ = make(max_bytes=100)
    first = tx("A", 1, pad=80)
    pool.add(first)
    with pytest.raises(MempoolFull, match="bytes"):
        pool.add(tx("B", 1, pad=20))
    assert pool.size_bytes() == len(first)
    assert isinstance(pool.add(tx("B", 1)), Accepted)  # a small one still fits


def test_reap_keeps_arrival_order_and_each_senders_nonce_order() -> None:
    pool, _ = make()
    arrivals = [tx("A", 5), tx("B", 1), tx("A", 4), tx("C", 1), tx("B", 2)]
    for raw in arrivals:
        pool.add(raw)
    assert pool.reap(10, 10_000) == [tx("A", 4), tx("B", 1), tx("A", 5), tx("C", 1), tx("B", 2)]
    assert pool.reap(2, 10_000) == [tx("A", 4), tx("B", 1)]
    assert pool.size() == 5  # reaping removes nothing


def test_reap_skips_a_sender_whose_next_tx_does_not_fit() -> None:
    pool, _ = make()
    big = tx("A", 1, pad=500)
    for raw in [big, tx("A", 2), tx("B", 1), tx("B", 2)]:
        pool.add(raw)
    budget = len(tx("B", 1)) + len(tx("B", 2))
    assert pool.reap(10, budget) == [tx("B", 1), tx("B", 2)]  # never A2 without A1


def test_reap_with_expected_nonces_holds_a_tx_until_its_predecessor_arrives() -> None:
    # Gossip can deliver nonce 2 before nonce 1; committing 2 first would make 1 invalid.
    pool, _ = make()
    expected = {"A": 1, "B": 7}
    for raw in [tx("A", 2), tx("B", 7), tx("A", 3), tx("B", 9)]:
        pool.add(raw)
    assert pool.reap(10, 10_000, expected.__getitem__) == [tx("B", 7)]
    pool.add(tx("A", 1))
    reaped = pool.reap(10, 10_000, expected.__getitem__)
    assert reaped == [tx("A", 1), tx("B", 7), tx("A", 2), tx("A", 3)]


def test_update_after_block_removes_committed_and_rechecks() -> None:
    pool, checker = make()
    for raw in [tx("A", 1), tx("A", 2), tx("B", 1), tx("C", 1)]:
        pool.add(raw)
    committed = checker.commit([tx("A", 1), tx("A", 2)])  # A2 committed via another node
    checker.last_nonce["B"] = 1  # B1's nonce was used by a different tx in the block
    checker.poisoned.add(tx("C", 1))
    report = pool.update_after_block(committed, recheck=checker)
    assert report.removed_committed == 2
    assert {r.tx_hash for r in report.rejected} == {sha256(tx("B", 1)), sha256(tx("C", 1))}
    assert pool.size() == 0 and pool.size_bytes() == 0
    rejection = pool.get_rejection(sha256(tx("B", 1)))
    assert rejection is not None and rejection.is_recheck
    assert (rejection.code, rejection.log) == (CODE_BAD_NONCE, "nonce 1 already used")
    assert pool.get_status(sha256(tx("A", 2))) is TxStatus.COMMITTED
    assert pool.add(tx("A", 2)) == AlreadyKnown(sha256(tx("A", 2)), is_committed=True)
    stats = pool.stats()
    assert (stats.committed_total, stats.recheck_rejected_total) == (2, 2)


def test_committed_memory_is_bounded() -> None:
    pool, checker = make(committed_cache_size=2)
    txs = [tx("A", n) for n in range(3)]
    pool.update_after_block([sha256(raw) for raw in txs], recheck=None)
    assert pool.get_status(sha256(txs[0])) is TxStatus.UNKNOWN  # the oldest was forgotten
    assert isinstance(pool.add(txs[2]), AlreadyKnown)
    assert checker.calls == 0
    assert not isinstance(pool.add(txs[0]), AlreadyKnown)  # checked again (ledger decides)
    assert checker.calls == 1


def test_rejection_memory_is_bounded() -> None:
    pool, _ = make(rejection_cache_size=2)
    bad = [tx("A", n, "poor") for n in range(3)]
    for raw in bad:
        pool.add(raw)
    assert pool.get_rejection(sha256(bad[0])) is None
    assert pool.get_rejection(sha256(bad[2])) is not None


def test_signature_verdict_is_cached() -> None:
    pool, checker = make()
    good, forged = tx("A", 1), tx("B", 1, "badsig")
    pool.add(good)
    pool.add(forged)
    assert pool.verdict(sha256(good)) is True
    assert pool.verdict(sha256(forged)) is False
    assert pool.verdict(sha256(b"never seen")) is None
    assert pool.verdict(sha256(b"\xff")) is None
    pool.add(b"\xff")
    assert pool.verdict(sha256(b"\xff")) is None  # malformed: signature never checked
    pool.update_after_block(checker.commit([good]), recheck=checker)
    assert pool.verdict(sha256(good)) is None  # committed: the block path is done with it


def test_codes_match_the_ledger() -> None:
    codes = pytest.importorskip("consensus.ledger.codes")
    assert codes.Code.MALFORMED == CODE_MALFORMED
    assert codes.Code.BAD_NONCE == CODE_BAD_NONCE
    assert codes.Code.BAD_SIGNATURE == BAD_SIGNATURE


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Mempool(0, 1, 1, Checker())


class MempoolMachine(RuleBasedStateMachine):
    """Random adds, commits, rechecks and reaps against a small pool.

    Every accepted tx must end up in exactly one place: still pending, committed by us, or
    rejected by a recheck with its reason on record."""

    def __init__(self) -> None:
        super().__init__()
        self.checker = Checker()
        self.pool = Mempool(8, 400, 120, self.checker, committed_cache_size=1000)
        self.accepted: set[Hash32] = set()
        self.committed: set[Hash32] = set()
        self.dropped: dict[Hash32, bool] = {}  # hash -> is the recorded reason a recheck's

    @rule(
        sender=st.sampled_from("ABC"),
        nonce=st.integers(0, 6),
        kind=st.sampled_from(["ok", "ok", "ok", "poor", "badsig"]),
        pad=st.integers(0, 130),
    )
    def add(self, sender: str, nonce: int, kind: str, pad: int) -> None:
        raw = tx(sender, nonce, kind, pad)
        before = (self.pool.size(), self.pool.size_bytes())
        try:
            outcome = self.pool.add(raw)
        except MempoolFull:
            assert (self.pool.size(), self.pool.size_bytes()) == before
            return
        if isinstance(outcome, Accepted):
            self.accepted.add(outcome.tx_hash)
            self.dropped.pop(outcome.tx_hash, None)
            self.note_gap_replacements()
        elif isinstance(outcome, Rejected):
            assert (self.pool.size(), self.pool.size_bytes()) == before
            if outcome.tx_hash in self.dropped:  # resubmitted and refused: the newer reason
                self.dropped[outcome.tx_hash] = False

    @precondition(lambda self: self.pool.size() > 0)
    @rule(count=st.integers(1, 4), poison=st.booleans())
    def commit_block(self, count: int, poison: bool) -> None:
        block = self.pool.reap(count, 300)
        if poison:
            self.checker.poisoned.update(self.pool.reap(8, 10_000)[-1:])
        hashes = self.checker.commit(block)
        report = self.pool.update_after_block(hashes, recheck=self.checker)
        self.committed.update(hashes)
        for rejected in report.rejected:
            assert rejected.is_recheck
            self.dropped[rejected.tx_hash] = True

    @rule(max_txs=st.integers(1, 10), max_bytes=st.integers(0, 500))
    def reap(self, max_txs: int, max_bytes: int) -> None:
        block = self.pool.reap(max_txs, max_bytes)
        assert len(block) <= max_txs and sum(map(len, block)) <= max_bytes
        pending: dict[str, list[int]] = {}
        for raw in self.pool.reap(100, 10**9):
            sender, nonce, _, _ = raw.decode().split("|")
            pending.setdefault(sender, []).append(int(nonce))
        taken: dict[str, list[int]] = {}
        for raw in block:
            sender, nonce, _, _ = raw.decode().split("|")
            taken.setdefault(sender, []).append(int(nonce))
        for sender, nonces in taken.items():  # each sender's lowest pending nonces, no gaps
            assert nonces == sorted(pending[sender])[: len(nonces)]

    def note_gap_replacements(self) -> None:
        """A full pool takes a tx that fills its sender's nonce gap in place of the sender's
        highest pending ones: those leave with a recorded reason, like a recheck's."""
        for other in self.accepted - self.committed - self.dropped.keys():
            if other not in self.pool:
                rejection = self.pool.get_rejection(other)
                assert rejection is not None and "fills a gap" in rejection.log
                self.dropped[other] = True

    @invariant()
    def within_bounds(self) -> None:
        assert self.pool.size() <= 8 and self.pool.size_bytes() <= 400
        assert self.pool.size_bytes() == sum(map(len, self.pool.reap(100, 10**9)))

    @invariant()
    def no_accepted_tx_is_lost(self) -> None:
        for tx_hash in self.accepted:
            pending = tx_hash in self.pool
            committed = tx_hash in self.committed
            dropped = tx_hash in self.dropped
            assert pending + committed + dropped >= 1
            if dropped and not pending:
                rejection = self.pool.get_rejection(tx_hash)
                assert rejection is not None
                assert rejection.is_recheck == self.dropped[tx_hash]
            if pending:
                assert not committed


MempoolMachine.TestCase.settings = settings(stateful_step_count=30)
test_mempool_machine = MempoolMachine.TestCase

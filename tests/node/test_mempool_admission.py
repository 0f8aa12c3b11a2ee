"""Admission: the mempool takes a tx only from an existing, active submitter whose registered
keys signed it, within the nonce window, and under the submitter's share; pending txs expire
(their valid_until, the node's time-to-live) and the recheck after a block evicts those that can
no longer execute. Real ledger state (the ledger tests' genesis) behind ``node.checktx``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from consensus.crypto import sha256
from consensus.ledger import Code, State, execute_block
from consensus.ledger.queries import get_account, get_participant
from consensus.ledger.records import Account, AccountStatus, Participant, ParticipantStatus
from consensus.ledger.state import account_key, encode_value, participant_key
from consensus.ledger.txs import Transfer, ValidUntil, ValidUntilKind
from node.checktx import check_tx, make_checker
from node.mempool import Accepted, AdmissionCode, Check, Mempool, MempoolFull, Rejected
from tests.consensus.ledger.world import GENESIS_TIME_MS, TxFactory, genesis_state, key
from tests.node.test_mempool import Checker, tx

PAY = Transfer("BANKA/bob", "BANKA:USD", 1)
TIP_MS = GENESIS_TIME_MS


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def real_pool(window: int = 4, **kwargs: Any) -> tuple[Mempool, list[State]]:
    """A mempool checking against ``holder[0]``, a real ledger state the test replaces."""
    holder = [genesis_state()]
    return Mempool(100, 1_000_000, 8192, checker_of(holder, window), **kwargs), holder


def checker_of(holder: list[State], window: int = 4, tip_ms: int = TIP_MS) -> Check:
    return make_checker(lambda: holder[0], lambda: tip_ms, window)


def rechecker_of(holder: list[State], tip_ms: int = TIP_MS) -> Check:
    """The node's recheck after a block (``Node._recheck``): signatures' verdict reused."""
    return lambda raw: check_tx(raw, holder[0], tip_ms, verify_signatures=False)


def code_of(outcome: object) -> int:
    assert isinstance(outcome, Rejected), outcome
    return outcome.code


# -- who may submit -----------------------------------------------------------------------------


def test_a_stranger_in_a_real_submitters_name_is_refused() -> None:
    pool, _ = real_pool()
    raw = TxFactory().raw("BANKA/alice", PAY, signers=["stranger"])
    assert code_of(pool.add(raw)) == Code.NOT_AUTHORIZED
    assert len(pool) == 0


def test_an_invented_submitter_is_refused_however_many_times() -> None:
    pool, _ = real_pool()
    f = TxFactory()
    for i in range(50):
        assert code_of(pool.add(f.raw(f"EVIL{i}", PAY, signers=["evil"]))) == Code.UNKNOWN_SUBMITTER
    assert len(pool) == 0
    assert isinstance(pool.add(f.raw("BANKA/alice", PAY)), Accepted)


def test_a_bad_signature_by_a_registered_key_is_refused() -> None:
    state = genesis_state()
    raw = bytearray(TxFactory().raw("BANKA/alice", PAY))
    raw[-1] ^= 1  # the signature's last byte
    result = check_tx(bytes(raw), state, TIP_MS)
    assert (result.code, result.signature_ok) == (Code.BAD_SIGNATURE, False)


def with_record(state: State, state_key: bytes, record: Participant | Account) -> State:
    return state.with_changes({state_key: encode_value(record)})


def test_a_suspended_participant_and_a_closed_account_are_refused() -> None:
    f, state = TxFactory(), genesis_state()
    bank = get_participant(state, "BANKC")
    assert bank is not None
    suspended = replace(bank, status=ParticipantStatus.SUSPENDED)
    state = with_record(state, participant_key("BANKC"), suspended)
    assert check_tx(f.raw("BANKC", PAY), state, TIP_MS).code == Code.PARTICIPANT_INACTIVE
    alice = get_account(state, "BANKA/alice")
    assert alice is not None
    state = with_record(
        state, account_key("BANKA/alice"), replace(alice, status=AccountStatus.CLOSED)
    )
    assert check_tx(f.raw("BANKA/alice", PAY), state, TIP_MS).code == Code.ACCOUNT_CLOSED


# -- nonces ---------------------------------------------------------------------------------


def test_the_nonce_window_is_counted_from_the_ledgers_next_nonce() -> None:
    pool, _ = real_pool(window=4)
    f = TxFactory()
    for nonce in (1, 2, 3, 4):
        assert isinstance(pool.add(f.raw("BANKA/alice", PAY, nonce=nonce)), Accepted)
    assert code_of(pool.add(f.raw("BANKA/alice", PAY, nonce=5))) == AdmissionCode.NONCE_TOO_FAR


def test_next_nonce_counts_only_the_pending_run_without_a_gap() -> None:
    pool, _ = real_pool(window=8)
    f = TxFactory()
    for nonce in (1, 2, 5):
        assert isinstance(pool.add(f.raw("BANKA/alice", PAY, nonce=nonce)), Accepted)
    assert pool.get_next_nonce("BANKA/alice", 0) == 3
    assert pool.get_next_nonce("BANKA/bob", 7) == 8


def test_the_recheck_evicts_a_tx_whose_nonce_a_block_consumed() -> None:
    pool, holder = real_pool()
    f = TxFactory()
    pending = f.raw("BANKA/alice", PAY, nonce=1)
    assert isinstance(pool.add(pending), Accepted)
    rival = TxFactory().raw("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 2), nonce=1)
    result = execute_block(holder[0], [rival], 1, TIP_MS + 1)
    holder[0] = result.state
    recheck = rechecker_of(holder, TIP_MS + 1)
    report = pool.update_after_block([sha256(rival)], recheck)
    assert [r.code for r in report.rejected] == [Code.BAD_NONCE]
    assert len(pool) == 0


def test_the_recheck_evicts_a_tx_whose_valid_until_passed() -> None:
    pool, holder = real_pool()
    until = ValidUntil(ValidUntilKind.HEIGHT, 1)
    assert isinstance(pool.add(TxFactory().raw("BANKA/alice", PAY, valid_until=until)), Accepted)
    holder[0] = execute_block(holder[0], [], 1, TIP_MS + 1).state
    recheck = rechecker_of(holder, TIP_MS + 1)
    report = pool.update_after_block([], recheck)
    assert [r.code for r in report.rejected] == [Code.EXPIRED]


# -- per-submitter share and time-to-live -------------------------------------------------------


def test_a_submitter_over_its_count_share_gets_the_typed_refusal() -> None:
    pool = Mempool(100, 100_000, 1000, Checker(), submitter_txs_max=3)
    for nonce in range(3):
        assert isinstance(pool.add(tx("a", nonce)), Accepted)
    refused = pool.add(tx("a", 3))
    assert isinstance(refused, Rejected) and refused.code == AdmissionCode.SUBMITTER_LIMIT
    assert "3 of 3" in refused.log
    assert isinstance(pool.add(tx("b", 0)), Accepted)  # the others are not crowded out
    assert pool.stats().submitter_limited_total == 1


def test_at_its_share_a_lower_nonce_replaces_the_highest_waiting_one() -> None:
    pool = Mempool(100, 100_000, 1000, Checker(), submitter_txs_max=3)
    for nonce in (2, 3, 4):  # waiting for nonce 1
        assert isinstance(pool.add(tx("a", nonce)), Accepted)
    assert isinstance(pool.add(tx("a", 1)), Accepted)  # it unblocks the rest: it must fit
    assert pool.get_pending_nonces("a") == [1, 2, 3]
    dropped = pool.get_rejection(sha256(tx("a", 4)))
    assert dropped is not None and dropped.code == AdmissionCode.SUBMITTER_LIMIT
    assert code_of(pool.add(tx("a", 5))) == AdmissionCode.SUBMITTER_LIMIT  # higher: refused


def test_a_full_pool_takes_the_nonce_that_fills_a_submitters_gap() -> None:
    """A batch answered in pieces (a block commits between its txs) can leave nonce 1 refused
    as "full" and 2..4 admitted; when the pool is full of those, nonce 1 must still get in (in
    place of the submitter's highest), or the pool holds only txs no block can take."""
    holder = [genesis_state()]
    pool = Mempool(3, 1_000_000, 8192, checker_of(holder, window=8))
    f = TxFactory()
    alice = {n: f.raw("BANKA/alice", PAY, nonce=n) for n in range(1, 6)}
    for nonce in (2, 3, 4):  # waiting for nonce 1
        assert isinstance(pool.add(alice[nonce]), Accepted)
    assert isinstance(pool.add(alice[1]), Accepted)
    assert pool.get_pending_nonces("BANKA/alice") == [1, 2, 3]
    dropped = pool.get_rejection(sha256(alice[4]))
    assert dropped is not None and "fills a gap" in dropped.log
    with pytest.raises(MempoolFull):
        pool.add(alice[5])  # above its pending nonces: still full
    with pytest.raises(MempoolFull):
        pool.add(f.raw("BANKB/bob", PAY, nonce=1))  # another submitter cannot push it out
    assert pool.get_pending_nonces("BANKA/alice") == [1, 2, 3]


def test_a_submitter_over_its_byte_share_gets_the_typed_refusal() -> None:
    pool = Mempool(100, 100_000, 1000, Checker(), submitter_bytes_max=250)
    assert isinstance(pool.add(tx("a", 0, pad=100)), Accepted)
    assert isinstance(pool.add(tx("a", 1, pad=100)), Accepted)
    assert code_of(pool.add(tx("a", 2, pad=100))) == AdmissionCode.SUBMITTER_LIMIT
    checker = Checker()
    pool.update_after_block(checker.commit([tx("a", 0, pad=100)]), checker)
    assert isinstance(pool.add(tx("a", 2, pad=100)), Accepted)  # room again once one committed


def test_txs_past_the_time_to_live_are_dropped_after_a_block() -> None:
    clock = Clock()
    pool = Mempool(100, 100_000, 1000, Checker(), ttl_s=60, now_s=clock)
    pool.add(tx("a", 0))
    clock.now += 30
    pool.add(tx("b", 0))
    clock.now += 31
    report = pool.update_after_block([], None)
    assert [r.code for r in report.rejected] == [AdmissionCode.TTL_EXPIRED]
    assert pool.get_pending_nonces("a") == [] and pool.get_pending_nonces("b") == [0]
    rejection = pool.get_rejection(sha256(tx("a", 0)))
    assert rejection is not None and rejection.code == AdmissionCode.TTL_EXPIRED


def test_a_full_pool_first_lets_go_of_what_waited_too_long() -> None:
    clock = Clock()
    pool = Mempool(2, 100_000, 1000, Checker(), ttl_s=60, now_s=clock)
    pool.add(tx("a", 0))
    pool.add(tx("b", 0))
    try:
        pool.add(tx("c", 0))
        raise AssertionError("the pool should be full")
    except MempoolFull:
        pass
    clock.now += 61
    assert isinstance(pool.add(tx("c", 0)), Accepted)
    assert len(pool) == 1 and pool.stats().expired_total == 2


def test_registered_key_rotation_evicts_on_recheck() -> None:
    """The recheck reuses the signature verdict but asks again whose keys they must be."""
    pool, holder = real_pool()
    raw = TxFactory().raw("BANKA/alice", PAY)
    assert isinstance(pool.add(raw), Accepted)
    state = holder[0]
    alice = get_account(state, "BANKA/alice")  # its keys as a later block may set them
    assert alice is not None
    rotated = replace(alice, keys=(key("new-alice").public_key,))
    holder[0] = with_record(state, account_key("BANKA/alice"), rotated)
    recheck = rechecker_of(holder, TIP_MS)
    report = pool.update_after_block([], recheck)
    assert [r.code for r in report.rejected] == [Code.NOT_AUTHORIZED]

"""Holds: HOLD_CREATE (free -> held), HOLD_EXECUTE (one leg, or several atomically: DvP and
cross-currency PvP across banks), HOLD_CANCEL (release, refund after expiry); every typed
rejection, and conservation through every path."""

from __future__ import annotations

import pytest

from consensus import crypto
from consensus.ledger import Code
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.holds import HoldRef, HoldStatus, HoldTerms
from consensus.ledger.txs import Freeze, HoldCancel, HoldCreate, HoldExecute, Transfer

from .rulebook_world import HKD_FLOAT, SETTLEMENT_FLOAT, START_MS, TimedChain
from .world import CUSTOMER_FLOAT

HOUR = 3_600_000
SECRET = b"delivery-versus-payment-secret"
LOCK = crypto.sha256(SECRET)


def terms(
    hold_id: str = "h1",
    payee: str = "BANKA/bob",
    instrument: str = "BANKA:USD",
    amount: int = 100,
    *,
    not_before: int = 0,
    expiry: int = START_MS + HOUR,
    lock: bytes | None = None,
    executor: str | None = None,
    revocable: bool = False,
) -> HoldTerms:
    return HoldTerms(
        hold_id, payee, instrument, amount, not_before, expiry, lock, executor, revocable
    )


def leg(payer: str, hold_id: str, preimage: bytes | None = None) -> HoldRef:
    return HoldRef(payer, hold_id, preimage)


def execute(*legs: HoldRef) -> HoldExecute:
    return HoldExecute(tuple(sorted(legs, key=lambda r: (r.payer, r.hold_id))))


@pytest.fixture
def chain() -> TimedChain:
    return TimedChain()


def check_conservation(chain: TimedChain) -> None:
    totals = q.get_balance_totals(chain.state)
    for instrument in ("BANKA:USD", "BANKB:USD", "BANKC:USD", "CB:USD", "CB:HKD", "BANKC:HKD"):
        assert totals.get(instrument, 0) == chain.supply(instrument), instrument


def test_create_moves_free_to_held_and_execute_pays(chain: TimedChain) -> None:
    events = chain.ok("BANKA/alice", HoldCreate(terms()))
    assert events == (
        ev.HoldCreated("BANKA/alice", "h1", "BANKA/bob", "BANKA:USD", 100, START_MS + HOUR),
    )
    balance = chain.bal("BANKA/alice", "BANKA:USD")
    assert (balance.total, balance.held, balance.free) == (
        CUSTOMER_FLOAT,
        100,
        CUSTOMER_FLOAT - 100,
    )
    # held funds are not spendable
    too_much = Transfer("BANKA/bob", "BANKA:USD", CUSTOMER_FLOAT - 99)
    assert chain.code("BANKA/alice", too_much) is Code.INSUFFICIENT_FREE_BALANCE
    events = chain.ok("BANKA/bob", execute(leg("BANKA/alice", "h1")))
    assert events == (
        ev.HoldExecuted("BANKA/alice", "h1", "BANKA/bob", "BANKA:USD", "BANKA:USD", 100, False),
    )
    assert chain.bal("BANKA/alice", "BANKA:USD").total == CUSTOMER_FLOAT - 100
    assert chain.bal("BANKA/alice", "BANKA:USD").held == 0
    assert chain.bal("BANKA/bob", "BANKA:USD").total == CUSTOMER_FLOAT + 100
    hold = q.get_hold(chain.state, "BANKA/alice", "h1")
    assert hold is not None and hold.status is HoldStatus.EXECUTED
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "h1"))) is Code.HOLD_NOT_ACTIVE
    check_conservation(chain)


def test_cross_currency_pvp_across_four_accounts_settles_both_legs(chain: TimedChain) -> None:
    """alice@BANKA pays USD to carol@BANKB; dave@BANKC pays HKD to carol@BANKB: each leg
    settles in its own CB asset, both in one transaction, released by the agent CB."""
    usd = terms("pvp-usd", "BANKB/carol", "BANKA:USD", 1_000, executor="CB", lock=LOCK)
    hkd = terms("pvp-hkd", "BANKB/carol", "BANKC:HKD", 7_800, executor="CB", lock=LOCK)
    chain.ok("BANKA/alice", HoldCreate(usd))
    chain.ok("BANKC/dave", HoldCreate(hkd))
    events = chain.ok(
        "CB", execute(leg("BANKA/alice", "pvp-usd", SECRET), leg("BANKC/dave", "pvp-hkd", SECRET))
    )
    carol = "BANKB/carol"
    assert events == (
        ev.HoldExecuted("BANKA/alice", "pvp-usd", carol, "BANKA:USD", "BANKB:USD", 1_000, True),
        ev.InterbankSettled("CB:USD", "BANKA", "BANKB", 1_000),
        ev.HoldExecuted("BANKC/dave", "pvp-hkd", carol, "BANKC:HKD", "BANKB:HKD", 7_800, True),
        ev.InterbankSettled("CB:HKD", "BANKC", "BANKB", 7_800),
    )
    assert chain.bal("BANKB/carol", "BANKB:USD").total == CUSTOMER_FLOAT + 1_000
    assert chain.bal("BANKB/carol", "BANKB:HKD").total == 7_800
    assert chain.bal("BANKC/dave", "BANKC:HKD").total == HKD_FLOAT - 7_800
    assert chain.bal("CB/BANKA", "CB:USD").total == SETTLEMENT_FLOAT - 1_000
    assert chain.bal("CB/BANKC", "CB:HKD").total == SETTLEMENT_FLOAT - 7_800
    assert chain.bal("CB/BANKB", "CB:HKD").total == SETTLEMENT_FLOAT + 7_800
    check_conservation(chain)


def test_a_failing_leg_settles_no_leg(chain: TimedChain) -> None:
    usd = terms("a", "BANKB/carol", "BANKA:USD", 1_000, executor="CB")
    hkd = terms("b", "BANKB/carol", "BANKC:HKD", 7_800, executor="CB")
    chain.ok("BANKA/alice", HoldCreate(usd))
    chain.ok("BANKC/dave", HoldCreate(hkd))
    # the HKD payer bank's settlement account is frozen by the agent: that leg fails
    chain.ok("CB", Freeze("CB/BANKC", True, None, 0, "CB-ORDER-1"))
    before = chain.state.to_kv()
    code = chain.code("CB", execute(leg("BANKA/alice", "a"), leg("BANKC/dave", "b")))
    assert code is Code.ACCOUNT_FROZEN
    after = chain.state.to_kv()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert all(k[:1] in (b"N", b"K", b"\x00") for k in changed)  # nonce, key, meta only
    assert chain.bal("BANKA/alice", "BANKA:USD").held == 1_000
    chain.ok("CB", Freeze("CB/BANKC", False, None, 0, "CB-ORDER-1"))
    chain.ok("CB", execute(leg("BANKA/alice", "a"), leg("BANKC/dave", "b")))
    check_conservation(chain)


def test_hash_lock_and_time_conditions(chain: TimedChain) -> None:
    hold = terms(not_before=START_MS + 1_000, lock=LOCK)
    chain.ok("BANKA/alice", HoldCreate(hold))
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "h1", SECRET))) is Code.HOLD_NOT_DUE
    chain.now = START_MS + 1_000
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "h1"))) is Code.HASH_LOCK_MISMATCH
    wrong = execute(leg("BANKA/alice", "h1", b"guess"))
    assert chain.code("BANKA/bob", wrong) is Code.HASH_LOCK_MISMATCH
    chain.now = START_MS + HOUR
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "h1", SECRET))) is Code.HOLD_EXPIRED
    chain.now = START_MS + 2_000
    chain.ok("BANKA/bob", execute(leg("BANKA/alice", "h1", SECRET)))


def test_only_the_executor_executes(chain: TimedChain) -> None:
    chain.ok("BANKA/alice", HoldCreate(terms(executor="CB")))
    chain.ok("BANKA/alice", HoldCreate(terms("h2")))
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "h1"))) is Code.NOT_AUTHORIZED
    assert chain.code("BANKA/alice", execute(leg("BANKA/alice", "h2"))) is Code.NOT_AUTHORIZED
    # one executor for every leg of a settlement
    both = execute(leg("BANKA/alice", "h1"), leg("BANKA/alice", "h2"))
    assert chain.code("CB", both) is Code.NOT_AUTHORIZED
    chain.ok("CB", execute(leg("BANKA/alice", "h1")))
    chain.ok("BANKA/bob", execute(leg("BANKA/alice", "h2")))


@pytest.mark.parametrize(
    ("hold", "code"),
    [
        (terms(payee="BANKA/alice"), Code.INVALID_ARGUMENT),
        (terms(expiry=START_MS), Code.HOLD_EXPIRED),
        (terms(instrument="BANKB:USD"), Code.INSTRUMENT_MISMATCH),
        (terms(instrument="NOPE:USD"), Code.UNKNOWN_INSTRUMENT),
        (terms(payee="BANKA/nobody"), Code.UNKNOWN_ACCOUNT),
        (terms(amount=CUSTOMER_FLOAT + 1), Code.INSUFFICIENT_FREE_BALANCE),
        (terms(executor="NOBODY"), Code.UNKNOWN_PARTICIPANT),
        (terms(executor="BANKA/nobody"), Code.UNKNOWN_ACCOUNT),
        (terms(payee="BANKB/carol", amount=CUSTOMER_FLOAT * 2), Code.INSUFFICIENT_FREE_BALANCE),
    ],
)
def test_create_rejections(chain: TimedChain, hold: HoldTerms, code: Code) -> None:
    assert chain.code("BANKA/alice", HoldCreate(hold)) is code
    assert chain.bal("BANKA/alice", "BANKA:USD").held == 0


def test_create_needs_an_account_eligible_payee_and_a_fresh_id(chain: TimedChain) -> None:
    assert chain.code("BANKA", HoldCreate(terms())) is Code.NOT_AUTHORIZED
    chain.ok("REG", Freeze("BANKA/bob", True, None, 0, "COURT-2"))
    assert chain.code("BANKA/alice", HoldCreate(terms())) is Code.ACCOUNT_FROZEN
    chain.ok("BANKA/alice", HoldCreate(terms(payee="BANKB/carol")))
    assert chain.code("BANKA/alice", HoldCreate(terms(payee="BANKB/carol"))) is Code.HOLD_EXISTS
    # HKD at a bank without an HKD token
    hkd = terms(payee="BANKA/alice", instrument="BANKC:HKD")
    assert chain.code("BANKC/dave", HoldCreate(hkd)) is Code.UNKNOWN_INSTRUMENT


def test_execute_rejections(chain: TimedChain) -> None:
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "none"))) is Code.UNKNOWN_HOLD
    chain.ok("BANKA/alice", HoldCreate(terms()))
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "h1", b"x"))) is (
        Code.INVALID_ARGUMENT
    )
    chain.ok("REG", Freeze("BANKA/alice", True, None, 0, "COURT-3"))
    assert chain.code("BANKA/bob", execute(leg("BANKA/alice", "h1"))) is Code.ACCOUNT_FROZEN


def test_cancel_release_and_refund(chain: TimedChain) -> None:
    chain.ok("BANKA/alice", HoldCreate(terms("fixed", executor="CB")))
    chain.ok("BANKA/alice", HoldCreate(terms("revocable", revocable=True)))
    stranger = "BANKB/carol"
    # before expiry: not the payer of an irrevocable hold, not a stranger
    assert chain.code("BANKA/alice", HoldCancel("BANKA/alice", "fixed")) is Code.HOLD_NOT_EXPIRED
    assert chain.code(stranger, HoldCancel("BANKA/alice", "fixed")) is Code.HOLD_NOT_EXPIRED
    chain.ok("BANKA/alice", HoldCancel("BANKA/alice", "revocable"))
    assert chain.bal("BANKA/alice", "BANKA:USD").held == 100
    # after expiry anyone refunds it
    chain.now = START_MS + HOUR
    events = chain.ok(stranger, HoldCancel("BANKA/alice", "fixed"))
    assert events == (ev.HoldCancelled("BANKA/alice", "fixed", 100, stranger, True),)
    assert chain.bal("BANKA/alice", "BANKA:USD").held == 0
    assert chain.bal("BANKA/alice", "BANKA:USD").total == CUSTOMER_FLOAT
    assert chain.code(stranger, HoldCancel("BANKA/alice", "fixed")) is Code.HOLD_NOT_ACTIVE
    assert chain.code(stranger, HoldCancel("BANKA/alice", "none")) is Code.UNKNOWN_HOLD


def test_executor_and_payee_may_release_early(chain: TimedChain) -> None:
    chain.ok("BANKA/alice", HoldCreate(terms("x", executor="CB")))
    chain.ok("BANKA/alice", HoldCreate(terms("y", executor="CB")))
    chain.ok("CB", HoldCancel("BANKA/alice", "x"))
    chain.ok("BANKA/bob", HoldCancel("BANKA/alice", "y"))


def test_held_funds_cannot_be_frozen_nor_close_the_account(chain: TimedChain) -> None:
    chain.ok("BANKA/alice", HoldCreate(terms(amount=CUSTOMER_FLOAT)))
    freeze = Freeze("BANKA/alice", False, "BANKA:USD", 1, "COURT-4")
    assert chain.code("REG", freeze) is Code.INSUFFICIENT_FREE_BALANCE

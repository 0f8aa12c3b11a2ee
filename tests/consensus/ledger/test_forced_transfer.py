"""FORCED_TRANSFER: a regulator takes funds under a legal basis, frozen or held funds included;
its distinct event; the freeze orders follow what was taken; every typed rejection."""

from __future__ import annotations

import pytest

from consensus.ledger import Code
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.holds import HoldStatus, HoldTerms
from consensus.ledger.txs import ForcedTransfer, Freeze, HoldCreate, Transfer

from .rulebook_world import START_MS, TimedChain
from .world import CUSTOMER_FLOAT, SETTLEMENT_FLOAT


def forced(
    amount: int,
    source: str = "BANKA/alice",
    target: str = "BANKA/bob",
    legal: str = "COURT-2026-17",
    hold: str | None = None,
    instrument: str = "BANKA:USD",
) -> ForcedTransfer:
    return ForcedTransfer(source, target, instrument, amount, legal, hold)


SETTLEMENT_TAKE = forced(10, source="CB/BANKA", instrument="CB:USD", target="CB/BANKB")


@pytest.fixture
def chain() -> TimedChain:
    return TimedChain()


def test_regulator_freeze_the_bank_cannot_lift_then_forced_transfer(chain: TimedChain) -> None:
    chain.ok("REG", Freeze("BANKA/alice", True, "BANKA:USD", 4_000, "COURT-2026-17"))
    # the bank lifts only its own (empty) order: the regulator's stands
    chain.ok("BANKA", Freeze("BANKA/alice", False, "BANKA:USD", 0, "BANK-REVIEW-1"))
    assert chain.code("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1)) is Code.ACCOUNT_FROZEN
    events = chain.ok("REG", forced(CUSTOMER_FLOAT))  # everything, frozen funds included
    assert events == (
        ev.ForcedTransferred(
            "BANKA/alice", "BANKA/bob", "BANKA:USD", "BANKA:USD",
            CUSTOMER_FLOAT, "REG", "COURT-2026-17", False,
        ),
    )  # fmt: skip
    alice = chain.bal("BANKA/alice", "BANKA:USD")
    assert (alice.total, alice.frozen, alice.held) == (0, 0, 0)
    assert chain.bal("BANKA/bob", "BANKA:USD").total == 2 * CUSTOMER_FLOAT
    book = q.get_freeze_book(chain.state, "BANKA/alice")
    assert book is not None and book.account_frozen  # the account flag still stands
    assert book.frozen_amount("BANKA:USD") == 0


def test_own_frozen_first_then_free_then_others_frozen(chain: TimedChain) -> None:
    chain.ok("BANKA", Freeze("BANKA/alice", False, "BANKA:USD", 3_000, "BANK-1"))
    chain.ok("REG", Freeze("BANKA/alice", False, "BANKA:USD", 4_000, "COURT-1"))
    chain.ok("REG", forced(5_000))  # REG's own 4,000 first, then 1,000 of the free 3,000
    alice = chain.bal("BANKA/alice", "BANKA:USD")
    assert (alice.total, alice.frozen, alice.free) == (5_000, 3_000, 2_000)
    book = q.get_freeze_book(chain.state, "BANKA/alice")
    assert book is not None
    assert {o.authority: o.get_amount("BANKA:USD") for o in book.orders} == {"BANKA": 3_000}
    chain.ok("REG", forced(3_000))  # the free 2,000, then 1,000 of the bank's order
    alice = chain.bal("BANKA/alice", "BANKA:USD")
    assert (alice.total, alice.frozen, alice.free) == (2_000, 2_000, 0)
    book = q.get_freeze_book(chain.state, "BANKA/alice")
    assert book is not None
    assert {o.authority: o.get_amount("BANKA:USD") for o in book.orders} == {"BANKA": 2_000}


def test_held_funds_only_with_the_hold_released(chain: TimedChain) -> None:
    expiry = START_MS + 3_600_000
    hold = HoldTerms("h1", "BANKB/carol", "BANKA:USD", 6_000, 0, expiry, None, "CB", False)
    chain.ok("BANKA/alice", HoldCreate(hold))
    assert chain.code("REG", forced(5_000)) is Code.INSUFFICIENT_FREE_BALANCE
    events = chain.ok("REG", forced(9_000, target="BANKB/carol", hold="h1"))
    assert events[0] == ev.HoldCancelled("BANKA/alice", "h1", 6_000, "REG", False)
    assert events[2] == ev.InterbankSettled("CB:USD", "BANKA", "BANKB", 9_000)
    stored = q.get_hold(chain.state, "BANKA/alice", "h1")
    assert stored is not None and stored.status is HoldStatus.CANCELLED
    alice = chain.bal("BANKA/alice", "BANKA:USD")
    assert (alice.total, alice.held) == (1_000, 0)
    assert chain.bal("CB/BANKB", "CB:USD").total == SETTLEMENT_FLOAT + 9_000
    totals = q.get_balance_totals(chain.state)
    for instrument in ("BANKA:USD", "BANKB:USD", "CB:USD"):
        assert totals[instrument] == chain.supply(instrument)


@pytest.mark.parametrize(
    ("submitter", "body", "code"),
    [
        ("BANKA", forced(1), Code.NOT_AUTHORIZED),  # the bank itself does not force
        ("CB", forced(1), Code.NOT_AUTHORIZED),
        ("BANKA/bob", forced(1), Code.NOT_AUTHORIZED),
        ("REG", forced(1, legal=" "), Code.LEGAL_BASIS_REQUIRED),
        ("REG", forced(1, legal="COURT "), Code.LEGAL_BASIS_REQUIRED),
        ("REG", forced(1, target="BANKA/alice"), Code.INVALID_ARGUMENT),
        ("REG", forced(1, source="BANKA/nobody"), Code.UNKNOWN_ACCOUNT),
        ("REG", forced(1, target="BANKA/nobody"), Code.UNKNOWN_ACCOUNT),
        ("REG", forced(1, instrument="BANKB:USD"), Code.INSTRUMENT_MISMATCH),
        ("REG", forced(CUSTOMER_FLOAT + 1), Code.INSUFFICIENT_FREE_BALANCE),
        ("REG", forced(1, hold="none"), Code.UNKNOWN_HOLD),
        ("REG", SETTLEMENT_TAKE, Code.NOT_AUTHORIZED),  # without the agent's signature
    ],
)
def test_rejections(chain: TimedChain, submitter: str, body: ForcedTransfer, code: Code) -> None:
    assert chain.code(submitter, body) is code


def test_settlement_account_needs_the_agent(chain: TimedChain) -> None:
    chain.ok("REG", SETTLEMENT_TAKE, signers=["REG", "CB"])
    assert chain.bal("CB/BANKB", "CB:USD").total == SETTLEMENT_FLOAT + 10


def test_frozen_destination_is_refused(chain: TimedChain) -> None:
    chain.ok("REG", Freeze("BANKA/bob", True, None, 0, "COURT-9"))
    assert chain.code("REG", forced(1)) is Code.ACCOUNT_FROZEN

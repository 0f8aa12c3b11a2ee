"""PAUSE: who may pause which scope, what a pause stops (value movements through the paused
network, instrument or participant, with PAUSED) and what it lets through (control
transactions), per-authority orders and unpausing."""

from __future__ import annotations

import pytest

from consensus.ledger import Code
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.holds import HoldRef, HoldTerms
from consensus.ledger.pauses import PauseScope
from consensus.ledger.txs import (
    ForcedTransfer,
    Freeze,
    HoldCancel,
    HoldCreate,
    HoldExecute,
    Mint,
    Pause,
    Redeem,
    Transfer,
)

from .rulebook_world import START_MS, TimedChain

NETWORK = Pause(PauseScope.NETWORK, "", True, "CB-OPS-2026-001")
USD_A = Pause(PauseScope.INSTRUMENT, "BANKA:USD", True, "REG-ORDER-7")
CB_USD = Pause(PauseScope.INSTRUMENT, "CB:USD", True, "CB-OPS-2026-002")
BANK_B = Pause(PauseScope.PARTICIPANT, "BANKB", True, "REG-ORDER-8")


def lift(order: Pause) -> Pause:
    return Pause(order.scope, order.target, False, order.reason_ref)


@pytest.fixture
def chain() -> TimedChain:
    return TimedChain()


def test_pause_event_and_book(chain: TimedChain) -> None:
    assert chain.ok("REG", USD_A) == (
        ev.Paused(int(PauseScope.INSTRUMENT), "BANKA:USD", "REG", True, "REG-ORDER-7"),
    )
    book = q.get_pause_book(chain.state)
    assert book.is_paused(PauseScope.INSTRUMENT, "BANKA:USD")
    chain.ok("REG", lift(USD_A))
    assert q.get_pause_book(chain.state).orders == ()


@pytest.mark.parametrize(
    ("submitter", "order", "code"),
    [
        ("REG", NETWORK, Code.OK),
        ("CB", NETWORK, Code.OK),
        ("BANKA", NETWORK, Code.NOT_AUTHORIZED),
        ("BANKA", USD_A, Code.OK),  # the issuer, its own token
        ("BANKB", USD_A, Code.NOT_AUTHORIZED),
        ("CB", CB_USD, Code.OK),  # the agent, its own asset
        ("CB", USD_A, Code.NOT_AUTHORIZED),
        ("REG", BANK_B, Code.OK),
        ("BANKA", BANK_B, Code.NOT_AUTHORIZED),
        ("CB", BANK_B, Code.NOT_AUTHORIZED),
        ("BANKA/alice", USD_A, Code.NOT_AUTHORIZED),
        ("REG", Pause(PauseScope.INSTRUMENT, "NOPE:USD", True, "r"), Code.UNKNOWN_INSTRUMENT),
        ("REG", Pause(PauseScope.PARTICIPANT, "NOPE", True, "r"), Code.UNKNOWN_PARTICIPANT),
    ],
)
def test_who_may_pause(chain: TimedChain, submitter: str, order: Pause, code: Code) -> None:
    assert chain.code(submitter, order) is code


def test_network_pause_stops_every_movement_but_not_control(chain: TimedChain) -> None:
    chain.ok("CB", NETWORK)
    before = chain.state.to_kv()
    for submitter, body in [
        ("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1)),
        ("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 1)),
        ("BANKA", Mint("BANKA/alice", "BANKA:USD", 1, "f-1")),
        ("BANKA/alice", Redeem("BANKA/alice", "BANKA:USD", 1, "p-1", None)),
        ("BANKA/alice", HoldCreate(_terms("h1"))),
    ]:
        assert chain.code(submitter, body) is Code.PAUSED
    assert chain.bal("BANKA/alice", "BANKA:USD").total == 10_000
    # control transactions stay allowed
    chain.ok("REG", Freeze("BANKA/bob", True, None, 0, "COURT-1"))
    chain.ok("REG", ForcedTransfer("BANKA/bob", "BANKA/alice", "BANKA:USD", 5, "COURT-1", None))
    chain.ok("REG", Pause(PauseScope.PARTICIPANT, "BANKC", True, "also"))
    chain.ok("CB", lift(NETWORK))
    assert before != chain.state.to_kv()
    chain.ok("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 1))


def _terms(hold_id: str, payee: str = "BANKA/bob", amount: int = 100) -> HoldTerms:
    return HoldTerms(
        hold_id, payee, "BANKA:USD", amount, 0, START_MS + 3_600_000, None, None, False
    )


def test_instrument_pause_stops_its_movements_only(chain: TimedChain) -> None:
    chain.ok("REG", USD_A)
    assert chain.code("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1)) is Code.PAUSED
    # a payment into BANKA from another bank mints BANKA:USD: stopped too
    assert chain.code("BANKB/carol", Transfer("BANKA/alice", "BANKB:USD", 1)) is Code.PAUSED
    chain.ok("BANKB/carol", Transfer("BANKC/dave", "BANKB:USD", 1))  # other tokens move
    chain.ok("REG", lift(USD_A))
    chain.ok("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))


def test_settlement_asset_pause_stops_cross_bank_only(chain: TimedChain) -> None:
    chain.ok("CB", CB_USD)
    assert chain.code("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 1)) is Code.PAUSED
    chain.ok("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))


def test_participant_pause_stops_its_accounts_and_token(chain: TimedChain) -> None:
    chain.ok("REG", BANK_B)
    assert chain.code("BANKB/carol", Transfer("BANKC/dave", "BANKB:USD", 1)) is Code.PAUSED
    assert chain.code("BANKA/alice", Transfer("BANKB/carol", "BANKA:USD", 1)) is Code.PAUSED
    assert chain.code("BANKB", Mint("BANKB/carol", "BANKB:USD", 1, "f-2")) is Code.PAUSED
    chain.ok("BANKA/alice", Transfer("BANKC/dave", "BANKA:USD", 1))


def test_pauses_are_per_authority(chain: TimedChain) -> None:
    chain.ok("REG", USD_A)
    chain.ok("BANKA", USD_A)
    # the bank lifts its own pause; the regulator's stands
    chain.ok("BANKA", lift(USD_A))
    assert chain.code("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1)) is Code.PAUSED
    # nobody lifts what they did not pause
    assert chain.code("BANKA", lift(USD_A)) is Code.INVALID_ARGUMENT
    chain.ok("REG", lift(USD_A))
    chain.ok("BANKA/alice", Transfer("BANKA/bob", "BANKA:USD", 1))


def test_a_paused_hold_neither_executes_nor_is_created_but_refunds(chain: TimedChain) -> None:
    chain.ok("BANKA/alice", HoldCreate(_terms("h1")))
    chain.ok("REG", USD_A)
    execute = HoldExecute((HoldRef("BANKA/alice", "h1", None),))
    assert chain.code("BANKA/bob", execute) is Code.PAUSED
    assert chain.code("BANKA/alice", HoldCreate(_terms("h2"))) is Code.PAUSED
    chain.ok("BANKA/bob", HoldCancel("BANKA/alice", "h1"))  # a release is no movement
    assert chain.bal("BANKA/alice", "BANKA:USD").held == 0

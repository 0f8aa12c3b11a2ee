"""POLICY_SET and what policies enforce: per-transaction and daily maxima, balance caps, the
travel-rule threshold (with the travel-rule record and its event), who may set which scope,
per-authority orders (a bank cannot loosen a regulator's), and the pre-check's answers."""

from __future__ import annotations

import pytest

from consensus.codec import CodecError
from consensus.ledger import Code
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.codes import POLICIES_MAX
from consensus.ledger.holds import HoldRef, HoldTerms
from consensus.ledger.policies import (
    DAY_MS,
    Limits,
    PolicyBook,
    PolicyScope,
    PolicyTerms,
    TravelRecord,
)
from consensus.ledger.records import Role
from consensus.ledger.txs import (
    HoldCreate,
    HoldExecute,
    Mint,
    ParticipantUpsert,
    PolicySet,
    Transfer,
)

from .rulebook_world import START_MS, TimedChain
from .test_rules import _participant
from .world import BANKS, CUSTOMER_FLOAT

GOVERNANCE = list(BANKS)
TRAVEL = TravelRecord(bytes(range(32)), "GDDS")
NETWORK = (PolicyScope.NETWORK, "")


def policy(scope: tuple[PolicyScope, str], **limits: int) -> PolicySet:
    return PolicySet(scope[0], scope[1], PolicyTerms(Limits(**limits)))


def lift(scope: tuple[PolicyScope, str]) -> PolicySet:
    return PolicySet(scope[0], scope[1], PolicyTerms(Limits()))


def pay(
    to: str, amount: int, travel: TravelRecord | None = None, iid: str = "BANKA:USD"
) -> Transfer:
    return Transfer(to, iid, amount, travel)


@pytest.fixture
def chain() -> TimedChain:
    return TimedChain()


def test_network_policy_is_set_by_governance_only(chain: TimedChain) -> None:
    body = policy(NETWORK, tx_max=500)
    assert chain.code("BANKA", body) is Code.NOT_AUTHORIZED
    assert chain.code("BANKA", body, signers=["BANKA", "BANKB"]) is Code.NOT_AUTHORIZED
    events = chain.ok("BANKA", body, signers=GOVERNANCE)
    assert events == (ev.PolicyChanged(1, "", "", 500, None, None, None, 0),)
    assert chain.code("BANKA/alice", pay("BANKA/bob", 501)) is Code.TX_LIMIT_EXCEEDED
    assert chain.code("BANKA/alice", pay("BANKB/carol", 501)) is Code.TX_LIMIT_EXCEEDED
    chain.ok("BANKA/alice", pay("BANKA/bob", 500))


def test_strictest_order_binds_and_a_bank_cannot_loosen_a_regulator(chain: TimedChain) -> None:
    alice = (PolicyScope.ACCOUNT, "BANKA/alice")
    chain.ok("REG", policy(alice, tx_max=100))
    chain.ok("BANKA", policy((PolicyScope.PARTICIPANT, "BANKA"), tx_max=1_000))
    chain.ok("BANKA", policy(alice, tx_max=5_000))  # its own order: looser, does not loosen
    assert chain.code("BANKA/alice", pay("BANKA/bob", 101)) is Code.TX_LIMIT_EXCEEDED
    assert chain.code("BANKA", lift((PolicyScope.ACCOUNT, "BANKA/bob"))) is Code.INVALID_ARGUMENT
    chain.ok("BANKA/bob", pay("BANKA/alice", 1_000))  # only the bank's 1,000 binds bob
    assert chain.code("BANKA/bob", pay("BANKA/alice", 1_001)) is Code.TX_LIMIT_EXCEEDED
    chain.ok("REG", lift(alice))
    chain.ok("BANKA/alice", pay("BANKA/bob", 1_000))


def test_who_sets_which_scope(chain: TimedChain) -> None:
    assert chain.code("BANKB", policy((PolicyScope.ACCOUNT, "BANKA/alice"), tx_max=1)) is (
        Code.NOT_AUTHORIZED
    )
    assert chain.code("BANKB", policy((PolicyScope.PARTICIPANT, "BANKA"), tx_max=1)) is (
        Code.NOT_AUTHORIZED
    )
    assert chain.code("BANKB", policy((PolicyScope.INSTRUMENT, "BANKA:USD"), tx_max=1)) is (
        Code.NOT_AUTHORIZED
    )
    assert chain.code("BANKA/alice", policy((PolicyScope.ACCOUNT, "BANKA/alice"), tx_max=1)) is (
        Code.NOT_AUTHORIZED
    )
    assert chain.code("BANKA", policy((PolicyScope.ACCOUNT, "BANKA/nobody"), tx_max=1)) is (
        Code.UNKNOWN_ACCOUNT
    )
    assert chain.code("BANKA", policy((PolicyScope.INSTRUMENT, "BANKA:EUR"), tx_max=1)) is (
        Code.UNKNOWN_INSTRUMENT
    )
    chain.ok("BANKA", policy((PolicyScope.INSTRUMENT, "BANKA:USD"), tx_max=1))
    chain.ok("REG", policy((PolicyScope.INSTRUMENT, "BANKB:USD"), tx_max=1))
    chain.ok("REG", policy(NETWORK, tx_max=10**9))
    book = q.get_policy_book(chain.state)
    assert [(o.scope, o.target, o.authority) for o in book.orders] == [
        (PolicyScope.NETWORK, "", "REG"),
        (PolicyScope.INSTRUMENT, "BANKA:USD", "BANKA"),
        (PolicyScope.INSTRUMENT, "BANKB:USD", "REG"),
    ]


def test_daily_maximum_counts_per_utc_day_of_block_time(chain: TimedChain) -> None:
    chain.now = (START_MS // DAY_MS + 1) * DAY_MS - 10_000  # ten seconds before midnight UTC
    chain.ok("BANKA", policy((PolicyScope.PARTICIPANT, "BANKA"), daily_max=1_000))
    chain.ok("BANKA/alice", pay("BANKA/bob", 600))
    chain.ok("BANKA/alice", pay("BANKB/carol", 400))  # cross-bank counts too
    assert chain.code("BANKA/alice", pay("BANKA/bob", 1)) is Code.DAILY_LIMIT_EXCEEDED
    chain.ok("BANKA/bob", pay("BANKA/alice", 1_000))  # per account
    chain.now += 10_000  # midnight: a new day
    chain.ok("BANKA/alice", pay("BANKA/bob", 1_000))
    assert chain.code("BANKA/alice", pay("BANKA/bob", 1)) is Code.DAILY_LIMIT_EXCEEDED


def test_balance_cap_on_deposit_tokens(chain: TimedChain) -> None:
    chain.ok(
        "BANKB", policy((PolicyScope.INSTRUMENT, "BANKB:USD"), balance_cap=CUSTOMER_FLOAT + 50)
    )
    assert chain.code("BANKA/alice", pay("BANKB/carol", 51)) is Code.BALANCE_CAP_EXCEEDED
    chain.ok("BANKA/alice", pay("BANKB/carol", 50))  # the settlement accounts are never capped
    assert chain.code("BANKB", Mint("BANKB/carol", "BANKB:USD", 1, "F-1")) is (
        Code.BALANCE_CAP_EXCEEDED
    )
    assert chain.bal("BANKB/carol", "BANKB:USD").total == CUSTOMER_FLOAT + 50


def test_travel_rule_threshold_and_record(chain: TimedChain) -> None:
    chain.ok("REG", policy(NETWORK, travel_threshold=1_000))
    chain.ok("BANKA/alice", pay("BANKA/bob", 999))
    assert chain.code("BANKA/alice", pay("BANKA/bob", 1_000)) is Code.TRAVEL_RULE_MISSING
    assert chain.code("BANKA/alice", pay("BANKB/carol", 5_000)) is Code.TRAVEL_RULE_MISSING
    events = chain.ok("BANKA/alice", pay("BANKB/carol", 1_000, TRAVEL))
    recorded = ev.TravelRuleRecorded(
        "BANKA/alice", "BANKB/carol", 1_000, TRAVEL.ivms101_hash.hex(), "GDDS"
    )
    assert events[-1] == recorded
    assert [type(e) for e in events] == [ev.Transferred, ev.InterbankSettled, ev.TravelRuleRecorded]
    # below the threshold a record is optional, and still recorded
    assert chain.ok("BANKA/alice", pay("BANKA/bob", 1, TRAVEL))[-1] == ev.TravelRuleRecorded(
        "BANKA/alice", "BANKA/bob", 1, TRAVEL.ivms101_hash.hex(), "GDDS"
    )


def test_travel_rule_on_holds_at_creation_and_execution(chain: TimedChain) -> None:
    chain.ok("BANKB", policy((PolicyScope.PARTICIPANT, "BANKB"), travel_threshold=500))

    def terms(hid: str, payee: str, travel: TravelRecord | None) -> HoldTerms:
        return HoldTerms(hid, payee, "BANKA:USD", 500, 0, START_MS + 3_600_000, None, None,
                         False, None, travel)  # fmt: skip

    carol = "BANKB/carol"
    assert chain.code("BANKA/alice", HoldCreate(terms("h1", carol, None))) is (
        Code.TRAVEL_RULE_MISSING
    )
    events = chain.ok("BANKA/alice", HoldCreate(terms("h1", carol, TRAVEL)))
    assert isinstance(events[-1], ev.TravelRuleRecorded)
    chain.ok("BANKA/alice", HoldCreate(terms("h2", "BANKA/bob", None)))
    # the threshold falls after creation: a hold made without a record cannot settle
    chain.ok("BANKA", policy((PolicyScope.PARTICIPANT, "BANKA"), travel_threshold=100))
    h2 = HoldExecute((HoldRef("BANKA/alice", "h2", None),))
    assert chain.code("BANKA/bob", h2) is Code.TRAVEL_RULE_MISSING
    chain.ok(carol, HoldExecute((HoldRef("BANKA/alice", "h1", None),)))


def test_tx_maximum_binds_hold_creation(chain: TimedChain) -> None:
    chain.ok("BANKA", policy((PolicyScope.ACCOUNT, "BANKA/alice"), tx_max=10))
    terms = HoldTerms("h1", "BANKA/bob", "BANKA:USD", 11, 0, START_MS + 1, None, None, False)
    assert chain.code("BANKA/alice", HoldCreate(terms)) is Code.TX_LIMIT_EXCEEDED


def test_precheck_answers_policy_codes(chain: TimedChain) -> None:
    chain.ok("REG", policy(NETWORK, tx_max=100, travel_threshold=50))
    over = chain.f.raw("BANKA/alice", pay("BANKA/bob", 101, TRAVEL))
    untraveled = chain.f.raw("BANKA/bob", pay("BANKA/alice", 60))
    assert q.precheck_tx(chain.state, over, START_MS)[0] is Code.TX_LIMIT_EXCEEDED
    assert q.precheck_tx(chain.state, untraveled, START_MS)[0] is Code.TRAVEL_RULE_MISSING


def test_policy_orders_are_bounded(chain: TimedChain) -> None:
    """At most 4 orders on one account (one per authority): a fifth authority is refused."""
    for name in ("REG2", "REG3", "REG4"):
        chain.ok(
            "BANKA", ParticipantUpsert(_participant(name, {Role.REGULATOR})), signers=GOVERNANCE
        )
    alice = (PolicyScope.ACCOUNT, "BANKA/alice")
    for authority in ("BANKA", "REG", "REG2", "REG3"):
        chain.ok(authority, policy(alice, tx_max=10))
    assert chain.code("REG4", policy(alice, tx_max=10)) is Code.LIMIT_EXCEEDED
    chain.ok("REG3", lift(alice))
    chain.ok("REG4", policy(alice, tx_max=10))
    assert q.get_policy_book(chain.state).account_orders == 4
    assert len(q.get_account_policies(chain.state, "BANKA/alice").orders) == 4


def test_policy_records_decode_strictly() -> None:
    order = [2, "BANKA:USD", "REG", [[1, None, None, None], None]]
    assert PolicyBook.from_wire([[order], 0]).limits_for(PolicyScope.INSTRUMENT, "BANKA:USD") == (
        Limits(tx_max=1)
    )
    with pytest.raises(CodecError):
        PolicyBook.from_wire([[order] * (POLICIES_MAX + 1), 0])  # bounded
    with pytest.raises(CodecError):
        PolicyBook.from_wire([[order, order], 0])  # one order per authority and target
    with pytest.raises(CodecError):
        PolicyBook.from_wire([[[4, "BANKA/alice", "REG", order[3]]], 1])  # accounts: own key
    with pytest.raises(CodecError):
        TravelRecord.from_wire([bytes(32), "gdds"])  # purpose codes are upper case
    with pytest.raises(CodecError):
        TravelRecord.from_wire([bytes(31), "GDDS"])
    with pytest.raises(CodecError):
        Transfer.from_wire(["BANKA/bob", "BANKA:USD", 1, None])  # the short form only

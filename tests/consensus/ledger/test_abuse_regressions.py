"""Regressions for the abuses found by attacking the first ledger (issue 11, "Why").

Each test drives the abuse through ``execute_block`` and checks first that it had no effect
(keys, validator sets, balances, freezes as before), then the typed code of the refusal.
Every one of them was accepted by the ledger before governance, freeze provenance and the money
rules were added.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus.ledger import Code, execute_block, get_validators
from consensus.ledger import queries as q
from consensus.ledger.records import (
    InstrumentKind,
    InstrumentSpec,
    ParticipantStatus,
    Role,
)
from consensus.ledger.txs import (
    AccountOpen,
    AccountUpdate,
    Freeze,
    InstrumentRegister,
    Mint,
    ParticipantUpsert,
    Redeem,
    Transfer,
)

from .test_rules import NOW_MS, Chain, _participant
from .world import BANKS, CUSTOMER_FLOAT, FAR_FUTURE_MS, SETTLEMENT_FLOAT, key

GOVERNANCE = list(BANKS)
AMOUNT_MAX = 2**63 - 1


@pytest.fixture
def chain() -> Chain:
    return Chain()


def skip(chain: Chain, heights: int) -> None:
    for _ in range(heights):
        chain.state = execute_block(chain.state, [], chain.state.height + 1, NOW_MS).state


def add_bank(chain: Chain, bank: str, signers: list[str] | None = None) -> None:
    """A new bank (no validator) with its token ``<bank>:USD``, its settlement account at CB
    (empty) and a customer ``<bank>/erin`` holding 1,000."""
    chain.ok(
        "BANKA", ParticipantUpsert(_participant(bank, {Role.BANK})), signers=signers or GOVERNANCE
    )
    spec = InstrumentSpec(f"{bank}:USD", InstrumentKind.DEPOSIT_TOKEN, bank, "USD", 2, "CB:USD")
    banks = [*(signers or GOVERNANCE), bank]
    chain.ok("BANKA", InstrumentRegister(spec), signers=banks)
    k = (key(bank).public_key,)
    chain.ok("CB", AccountOpen(f"CB/{bank}", k, 1, b"s" * 32, FAR_FUTURE_MS))
    erin = (key(f"{bank}/erin").public_key,)
    chain.ok(bank, AccountOpen(f"{bank}/erin", erin, 1, b"e" * 32, FAR_FUTURE_MS))
    chain.ok(bank, Mint(f"{bank}/erin", f"{bank}:USD", 1_000, f"fund-{bank}"))


def keys_of(chain: Chain, pid: str) -> tuple[bytes, ...]:
    participant = q.get_participant(chain.state, pid)
    assert participant is not None
    return participant.keys


# -- item 1: governance no coalition can abuse --------------------------------------------------


def thief_of(pid: str, roles: set[Role], power: int = 0) -> ParticipantUpsert:
    """``pid``'s record with the keys replaced by the attacker's."""
    record = _participant(pid, roles, power)
    return ParticipantUpsert(replace(record, keys=(key("thief").public_key,)))


def test_two_banks_cannot_take_over_the_central_bank(chain: Chain) -> None:
    cb_keys = keys_of(chain, "CB")
    body = thief_of("CB", {Role.SETTLEMENT_AGENT})
    code, _ = chain.run("BANKA", body, signers=["BANKA", "BANKB"])
    assert keys_of(chain, "CB") == cb_keys
    mint = Mint("CB/BANKA", "CB:USD", 10**12, "printed")
    assert chain.run("CB", mint, signers=["thief"])[0] is not Code.OK
    assert chain.balance("CB/BANKA", "CB:USD") == SETTLEMENT_FLOAT
    assert code is Code.NOT_AUTHORIZED  # 2 of 3 banks are not more than 2/3


def test_not_even_every_bank_replaces_the_central_banks_keys(chain: Chain) -> None:
    cb_keys = keys_of(chain, "CB")
    code, _ = chain.run("BANKA", thief_of("CB", {Role.SETTLEMENT_AGENT}), signers=GOVERNANCE)
    assert keys_of(chain, "CB") == cb_keys
    assert q.get_pending_change(chain.state, "CB") is None  # no delay path for the agent
    assert code is Code.NOT_AUTHORIZED


def test_a_supermajority_changes_a_banks_keys_only_after_a_delay_it_can_cancel(
    chain: Chain,
) -> None:
    add_bank(chain, "BANKD")
    coalition = ["BANKA", "BANKB", "BANKD"]  # 3 of 4 banks: more than 2/3, BANKC not among them
    body = thief_of("BANKC", {Role.BANK, Role.VALIDATOR}, 10)
    honest = keys_of(chain, "BANKC")
    events = chain.ok("BANKA", body, signers=coalition)
    assert keys_of(chain, "BANKC") == honest
    from consensus.ledger import events as ev  # after the check that fails on the old ledger
    from consensus.ledger.txs import ParticipantChangeCancel

    delay = q.get_governance(chain.state).change_delay_heights
    due = chain.state.height + delay
    assert events == (ev.ParticipantChangeProposed("BANKC", due),)
    # too early: refused; the victim cancels within the delay
    assert chain.run("BANKA", body, signers=coalition)[0] is Code.CHANGE_NOT_DUE
    assert chain.ok("BANKC", ParticipantChangeCancel("BANKC")) == (
        ev.ParticipantChangeCancelled("BANKC"),
    )
    skip(chain, delay)
    chain.ok("BANKA", body, signers=coalition)  # proposed again: a new delay starts
    assert keys_of(chain, "BANKC") == honest
    # a coalition below the threshold cannot even propose
    assert chain.run("BANKA", body, signers=["BANKA", "BANKB"])[0] is Code.NOT_AUTHORIZED
    # uncancelled, after the delay, the same change applies
    skip(chain, delay)
    chain.ok("BANKA", body, signers=coalition)
    assert keys_of(chain, "BANKC") == (key("thief").public_key,)
    assert q.get_pending_change(chain.state, "BANKC") is None


def test_the_threshold_is_a_fraction_of_the_active_banks(chain: Chain) -> None:
    signers = list(GOVERNANCE)
    for bank in ("BANKD", "BANKE", "BANKF"):
        chain.ok("BANKA", ParticipantUpsert(_participant(bank, {Role.BANK})), signers=signers)
        signers.append(bank)
    body = ParticipantUpsert(_participant("REG2", {Role.REGULATOR}))
    code, _ = chain.run("BANKA", body, signers=["BANKA", "BANKB"])  # 2 banks still govern 6?
    assert q.get_participant(chain.state, "REG2") is None
    assert code is Code.NOT_AUTHORIZED
    assert chain.run("BANKA", body, signers=signers[:4])[0] is Code.NOT_AUTHORIZED  # 4/6 = 2/3
    chain.ok("BANKA", body, signers=signers[:5])  # 5 of 6 > 2/3


def test_only_governance_changes_the_threshold(chain: Chain) -> None:
    from consensus.ledger.controls import GovernanceParams
    from consensus.ledger.txs import GovernanceParamsSet

    before = q.get_governance(chain.state)
    lower = GovernanceParamsSet(GovernanceParams(1, 2, 5, 10, 1))
    assert chain.run("BANKA", lower, signers=["BANKA", "BANKB"])[0] is Code.NOT_AUTHORIZED
    assert q.get_governance(chain.state) == before
    chain.ok("BANKA", lower, signers=GOVERNANCE)
    assert q.get_governance(chain.state) == lower.params
    # now more than 1/2 of 3 banks, that is 2, govern
    chain.ok("BANKA", ParticipantUpsert(_participant("REG2", {Role.REGULATOR})),
             signers=["BANKA", "BANKB"])  # fmt: skip


# -- item 1: validator-set changes never break quorum -------------------------------------------


def next_set(chain: Chain) -> tuple[tuple[bytes, int], ...]:
    return get_validators(chain.state, chain.state.height + 2)


def test_one_heavy_validator_cannot_outweigh_the_set(chain: Chain) -> None:
    before = next_set(chain)
    heavy = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, 1_000))
    code, _ = chain.run("BANKA", heavy, signers=GOVERNANCE)
    assert next_set(chain) == before
    assert code is Code.VALIDATOR_POWER_SHIFT


def test_dropping_two_thirds_of_the_power_in_one_block_is_refused(chain: Chain) -> None:
    before = next_set(chain)
    raws = [
        # two submitters, so that neither tx depends on the other's nonce
        chain.f.raw(submitter, ParticipantUpsert(_participant(bank, {Role.BANK})), GOVERNANCE)
        for submitter, bank in (("BANKA", "BANKB"), ("BANKB", "BANKC"))
    ]
    result = execute_block(chain.state, raws, chain.state.height + 1, NOW_MS)
    chain.state = result.state
    assert next_set(chain) == before
    assert [r.code for r in result.receipts] == [Code.VALIDATOR_POWER_SHIFT] * 2


def test_a_third_of_the_power_cannot_move_within_the_trust_window(chain: Chain) -> None:
    joining = ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, 10))
    chain.ok("BANKA", joining, signers=GOVERNANCE)  # 10 of 40 added: gradual
    signers = [*GOVERNANCE, "BANKD"]
    leaving = ParticipantUpsert(_participant("BANKA", {Role.BANK}))
    before = next_set(chain)
    # against the set just before: 10 of 40 leave; against genesis' 3 x 10: 10 of 30 move
    code, _ = chain.run("BANKA", leaving, signers=signers)
    assert next_set(chain) == before
    assert code is Code.VALIDATOR_POWER_SHIFT
    skip(chain, q.get_governance(chain.state).trust_window_heights)
    chain.ok("BANKA", leaving, signers=signers)
    assert len(next_set(chain)) == 3


def test_validators_never_fall_below_the_minimum(chain: Chain) -> None:
    from consensus.ledger.controls import GovernanceParams
    from consensus.ledger.txs import GovernanceParamsSet

    chain.ok("BANKA", GovernanceParamsSet(GovernanceParams(2, 3, 5, 10, 3)), signers=GOVERNANCE)
    four = GovernanceParamsSet(GovernanceParams(2, 3, 5, 10, 4))
    assert chain.run("BANKA", four, signers=GOVERNANCE)[0] is Code.VALIDATORS_BELOW_MIN
    chain.ok("BANKA", ParticipantUpsert(_participant("BANKD", {Role.BANK, Role.VALIDATOR}, 5)),
             signers=GOVERNANCE)  # fmt: skip
    skip(chain, 20)
    signers = [*GOVERNANCE, "BANKD"]
    for bank in ("BANKD", "BANKC"):  # 4 -> 3 validators is fine, 3 -> 2 is not
        code, _ = chain.run("BANKA", ParticipantUpsert(_participant(bank, {Role.BANK})),
                            signers=signers)  # fmt: skip
    assert len(next_set(chain)) == 3
    assert code is Code.VALIDATORS_BELOW_MIN


# -- item 5: freeze with provenance --------------------------------------------------------------


def is_frozen(chain: Chain, account_id: str) -> bool:
    account = q.get_account(chain.state, account_id)
    assert account is not None
    return account.frozen


def test_a_bank_cannot_lift_a_regulators_freeze(chain: Chain) -> None:
    chain.ok("REG", Freeze("BANKA/alice", True, "BANKA:USD", 6_000, "COURT-2026-17"))
    chain.ok("BANKA", Freeze("BANKA/alice", False, "BANKA:USD", 0, "BANK-RELEASE-1"))
    assert is_frozen(chain, "BANKA/alice")
    assert q.get_balance(chain.state, "BANKA/alice", "BANKA:USD").frozen == 6_000
    pay = Transfer("BANKA/bob", "BANKA:USD", 1)
    assert chain.run("BANKA/alice", pay)[0] is Code.ACCOUNT_FROZEN
    book = q.get_freeze_book(chain.state, "BANKA/alice")
    assert book is not None and [o.authority for o in book.orders] == ["REG"]
    # the regulator lifts its own order
    chain.ok("REG", Freeze("BANKA/alice", False, "BANKA:USD", 0, "COURT-2026-17-LIFT"))
    assert not is_frozen(chain, "BANKA/alice")
    chain.ok("BANKA/alice", pay)


def test_a_bank_cannot_pay_out_an_account_a_regulator_froze(chain: Chain) -> None:
    chain.ok("REG", Freeze("BANKA/alice", True, None, 0, "COURT-2026-18"))
    drain = Redeem("BANKA/alice", "BANKA:USD", CUSTOMER_FLOAT, "payout", "BANK-CLOSURE-1")
    code, _ = chain.run("BANKA", drain)
    assert chain.balance("BANKA/alice", "BANKA:USD") == CUSTOMER_FLOAT
    assert code is Code.ACCOUNT_FROZEN


def test_freezes_of_two_authorities_both_stand(chain: Chain) -> None:
    chain.ok("BANKA", Freeze("BANKA/bob", True, None, 0, "AML-CASE-3"))
    chain.ok("REG", Freeze("BANKA/bob", True, None, 0, "COURT-5"))
    chain.ok("REG", Freeze("BANKA/bob", False, None, 0, "COURT-5-LIFT"))
    assert is_frozen(chain, "BANKA/bob")  # the bank's own order still stands
    chain.ok("BANKA", Freeze("BANKA/bob", False, None, 0, "AML-CASE-3-CLOSED"))
    assert not is_frozen(chain, "BANKA/bob")


def test_a_regulator_alone_cannot_freeze_a_settlement_account(chain: Chain) -> None:
    order = Freeze("CB/BANKA", True, None, 0, "COURT-9")
    code, _ = chain.run("REG", order)
    assert not is_frozen(chain, "CB/BANKA")
    assert code is Code.FREEZE_NOT_PERMITTED
    chain.ok("REG", order, signers=["REG", "CB"])  # with the settlement agent's authority
    assert is_frozen(chain, "CB/BANKA")


def test_a_blank_legal_basis_is_refused(chain: Chain) -> None:
    for blank in (" ", "   ", " COURT-1"):
        code, _ = chain.run("REG", Freeze("BANKA/alice", True, None, 0, blank))
        assert not is_frozen(chain, "BANKA/alice")
        assert code is Code.LEGAL_BASIS_REQUIRED


def test_a_closed_account_cannot_be_frozen(chain: Chain) -> None:
    zoe = (key("zoe").public_key,)
    chain.ok("BANKA", AccountOpen("BANKA/zoe", zoe, 1, b"z" * 32, FAR_FUTURE_MS))
    chain.ok("BANKA", AccountUpdate("BANKA/zoe", None, None, None, None, True))
    code, _ = chain.run("REG", Freeze("BANKA/zoe", True, None, 0, "COURT-3"))
    assert not is_frozen(chain, "BANKA/zoe")
    assert code is Code.ACCOUNT_CLOSED


# -- item 6: money rules ---------------------------------------------------------------------------


def test_decimals_must_match_the_settlement_asset(chain: Chain) -> None:
    chain.ok("BANKA", ParticipantUpsert(_participant("BANKD", {Role.BANK})), signers=GOVERNANCE)
    cheap = InstrumentSpec("BANKD:USD", InstrumentKind.DEPOSIT_TOKEN, "BANKD", "USD", 0, "CB:USD")
    code, _ = chain.run("BANKA", InstrumentRegister(cheap), signers=[*GOVERNANCE, "BANKD"])
    assert q.get_instrument(chain.state, "BANKD:USD") is None
    assert code is Code.DECIMALS_MISMATCH


def test_the_supply_cap_binds_outstanding_supply_not_lifetime_minting(chain: Chain) -> None:
    room = AMOUNT_MAX - 3 * CUSTOMER_FLOAT  # alice, bob, and what alice receives below
    for cycle in range(3):  # each cycle mints and redeems nearly the whole range
        code, _ = chain.run("BANKA", Mint("BANKA/alice", "BANKA:USD", room, f"deposit-{cycle}"))
        assert code is Code.OK, f"cycle {cycle}: {code.name}"
        chain.ok("BANKA/alice", Redeem("BANKA/alice", "BANKA:USD", room, "payout", None))
    # cross-bank mint legs do not wear the token out either
    chain.ok("BANKB/carol", Transfer("BANKA/alice", "BANKB:USD", CUSTOMER_FLOAT))
    over = Mint("BANKA/alice", "BANKA:USD", room + 1, "deposit-over")
    assert chain.run("BANKA", over)[0] is Code.LIMIT_EXCEEDED  # the cap itself holds


def test_a_funding_ref_mints_once(chain: Chain) -> None:
    chain.ok("BANKA", Mint("BANKA/alice", "BANKA:USD", 100, "CORE-DEBIT-77"))
    code, _ = chain.run("BANKA", Mint("BANKA/bob", "BANKA:USD", 100, "CORE-DEBIT-77"))
    assert chain.balance("BANKA/bob", "BANKA:USD") == CUSTOMER_FLOAT
    assert code is Code.DUPLICATE_FUNDING_REF
    chain.ok("BANKB", Mint("BANKB/carol", "BANKB:USD", 100, "CORE-DEBIT-77"))  # per issuer


def suspend(chain: Chain, bank: str) -> None:
    body = ParticipantUpsert(_participant(bank, {Role.BANK}, 0, ParticipantStatus.SUSPENDED))
    chain.ok("BANKA", body, signers=[*GOVERNANCE, bank])


def test_a_suspended_banks_token_is_not_minted_by_payments(chain: Chain) -> None:
    add_bank(chain, "BANKD")
    suspend(chain, "BANKD")
    code, _ = chain.run("BANKA/alice", Transfer("BANKD/erin", "BANKA:USD", 100))
    assert chain.balance("BANKD/erin", "BANKD:USD") == 1_000
    assert chain.balance("BANKA/alice", "BANKA:USD") == CUSTOMER_FLOAT
    assert code is Code.ISSUER_SUSPENDED


def test_an_active_banks_settlement_account_cannot_close(chain: Chain) -> None:
    add_bank(chain, "BANKD")
    close = AccountUpdate("CB/BANKD", None, None, None, None, True)
    code, _ = chain.run("CB", close)
    account = q.get_account(chain.state, "CB/BANKD")
    assert account is not None and account.frozen is False and account.status.name == "ACTIVE"
    assert code is Code.SETTLEMENT_ACCOUNT_IN_USE
    # the interbank leg still works: pay erin's bank in and out
    chain.ok("BANKA/alice", Transfer("BANKD/erin", "BANKA:USD", 100))
    suspend(chain, "BANKD")
    chain.ok("BANKD/erin", Redeem("BANKD/erin", "BANKD:USD", 1_100, "payout", None),
             signers=["BANKD/erin"])  # fmt: skip
    chain.ok("CB", Redeem("CB/BANKD", "CB:USD", 100, "payout", "RESOLUTION-1"))
    chain.ok("CB", close)  # once the bank is suspended and its account empty


def test_a_payer_bank_short_of_settlement_asset_gets_its_own_code(chain: Chain) -> None:
    add_bank(chain, "BANKD")  # CB/BANKD holds no CB:USD
    code, _ = chain.run("BANKD/erin", Transfer("BANKA/alice", "BANKD:USD", 500),
                        signers=["BANKD/erin"])  # fmt: skip
    assert chain.balance("BANKD/erin", "BANKD:USD") == 1_000
    assert code is Code.INSUFFICIENT_SETTLEMENT_BALANCE
    assert chain.run("BANKD/erin", Transfer("BANKA/alice", "BANKD:USD", 5_000),
                     signers=["BANKD/erin"])[0] is Code.INSUFFICIENT_FREE_BALANCE  # fmt: skip

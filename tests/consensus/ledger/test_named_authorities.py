"""Governance's network policy naming the authorities that alone may freeze, pause or force a
transfer: without such an order the roles decide (as before); with one, an authority its role
allows but the order does not name gets AUTHORITY_NOT_PERMITTED, for lifting its own order too;
naming never grants what a role does not; a bank still cannot lift a regulator's freeze; only
governance's network order names authorities; the encoding has one form per value."""

from __future__ import annotations

import pytest

from consensus.codec import CodecError
from consensus.ledger import Code
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.codes import NAMED_AUTHORITIES_MAX
from consensus.ledger.pauses import PauseScope
from consensus.ledger.policies import ApprovalRule, Limits, PolicyScope, PolicyTerms
from consensus.ledger.records import Role
from consensus.ledger.txs import ForcedTransfer, Freeze, ParticipantUpsert, Pause, PolicySet

from .rulebook_world import TimedChain
from .test_rules import _participant
from .world import BANKS

GOVERNANCE = list(BANKS)
ALICE = "BANKA/alice"


def named(
    freezers: tuple[str, ...] | None = None,
    pausers: tuple[str, ...] | None = None,
    approvers: tuple[str, ...] = (),
) -> PolicySet:
    force = ApprovalRule(1, approvers) if approvers else None
    return PolicySet(PolicyScope.NETWORK, "", PolicyTerms(Limits(), force, freezers, pausers))


def freeze(flag: bool, amount: int = 0, account: str = ALICE) -> Freeze:
    instrument = f"{account.split('/')[0]}:USD"
    return Freeze(account, flag, instrument, amount, "COURT-7")


def pause(paused: bool, target: str = "BANKA:USD") -> Pause:
    return Pause(PauseScope.INSTRUMENT, target, paused, "NOTICE-1")


@pytest.fixture
def chain() -> TimedChain:
    """The rulebook world with a second regulator, REG2."""
    chain = TimedChain()
    chain.ok("BANKA", ParticipantUpsert(_participant("REG2", {Role.REGULATOR})), signers=GOVERNANCE)
    return chain


def test_without_a_naming_order_the_roles_decide(chain: TimedChain) -> None:
    chain.ok("BANKA", freeze(True, 10))  # the account's bank
    chain.ok("REG2", freeze(True, 10))  # any regulator
    chain.ok("BANKA", pause(True))  # the issuer, its own instrument
    chain.ok("REG2", pause(True))
    assert chain.code("BANKB", freeze(True)) is Code.NOT_AUTHORIZED  # another bank's customer


def test_only_the_named_authorities_freeze(chain: TimedChain) -> None:
    chain.ok("BANKA", named(freezers=("REG",)), signers=GOVERNANCE)
    assert chain.code("BANKA", freeze(True, 10)) is Code.AUTHORITY_NOT_PERMITTED
    assert chain.code("REG2", freeze(True, 10)) is Code.AUTHORITY_NOT_PERMITTED
    assert q.get_freeze_book(chain.state, ALICE) is None  # (the chain checks: nothing written)
    chain.ok("REG", freeze(True, 10))
    assert chain.bal(ALICE, "BANKA:USD").frozen == 10
    chain.ok("REG", freeze(False))  # and unfreezes
    assert chain.bal(ALICE, "BANKA:USD").frozen == 0


def test_an_authority_no_longer_named_cannot_lift_its_own_freeze(chain: TimedChain) -> None:
    """Naming covers lifting too: an authority governance took the power from (a mandate
    ended, keys in doubt) cannot release what it froze; governance can name it again."""
    chain.ok("REG2", freeze(True, 10))
    chain.ok("BANKA", named(freezers=("REG",)), signers=GOVERNANCE)
    assert chain.code("REG2", freeze(False)) is Code.AUTHORITY_NOT_PERMITTED
    account = q.get_account(chain.state, ALICE)
    assert account is not None and account.frozen
    chain.ok("BANKA", named(freezers=("REG", "REG2")), signers=GOVERNANCE)
    chain.ok("REG2", freeze(False))
    account = q.get_account(chain.state, ALICE)
    assert account is not None and not account.frozen


def test_a_named_bank_still_cannot_lift_a_regulators_freeze(chain: TimedChain) -> None:
    chain.ok("BANKA", named(freezers=("BANKA", "REG")), signers=GOVERNANCE)
    chain.ok("REG", freeze(True, 25))
    chain.ok("BANKA", freeze(False))  # its own (empty) order: lifts nothing of REG's
    account = q.get_account(chain.state, ALICE)
    assert account is not None and account.frozen
    assert chain.bal(ALICE, "BANKA:USD").frozen == 25


def test_naming_never_grants_what_a_role_does_not(chain: TimedChain) -> None:
    chain.ok("BANKA", named(freezers=("BANKB", "REG"), pausers=("BANKB",)), signers=GOVERNANCE)
    assert chain.code("BANKB", freeze(True)) is Code.NOT_AUTHORIZED  # not its customer
    assert chain.code("BANKB", pause(True)) is Code.NOT_AUTHORIZED  # not its instrument


def test_only_the_named_authorities_pause(chain: TimedChain) -> None:
    chain.ok("REG2", pause(True, "BANKB:USD"))
    chain.ok("BANKA", named(pausers=("REG",)), signers=GOVERNANCE)
    assert chain.code("BANKA", pause(True)) is Code.AUTHORITY_NOT_PERMITTED  # the issuer
    assert chain.code("REG2", pause(True)) is Code.AUTHORITY_NOT_PERMITTED
    network = Pause(PauseScope.NETWORK, "", True, "NOTICE-2")
    assert chain.code("CB", network) is Code.AUTHORITY_NOT_PERMITTED  # the settlement agent
    assert chain.code("REG2", pause(False, "BANKB:USD")) is Code.AUTHORITY_NOT_PERMITTED
    assert q.get_pause_book(chain.state).is_paused(PauseScope.INSTRUMENT, "BANKB:USD")
    assert not q.get_pause_book(chain.state).is_paused(PauseScope.INSTRUMENT, "BANKA:USD")
    chain.ok("REG", pause(True))
    chain.ok("REG", pause(False))
    chain.ok("BANKA", freeze(True))  # freezing is not named: still role-based


def test_only_a_named_approver_forces_a_transfer(chain: TimedChain) -> None:
    """The forced-transfer approvers are the authorities that may force: a regulator not
    among them is refused even with every approval co-signed."""
    forced = ForcedTransfer(ALICE, "BANKA/bob", "BANKA:USD", 100, "COURT-9", None)
    chain.ok("BANKA", named(approvers=("REG",)), signers=GOVERNANCE)
    assert chain.code("REG2", forced, signers=["REG2", "REG"]) is Code.AUTHORITY_NOT_PERMITTED
    chain.ok("REG", forced)


def test_only_governance_names_authorities_and_they_exist(chain: TimedChain) -> None:
    assert chain.code("REG", named(freezers=("REG",))) is Code.INVALID_ARGUMENT
    issuer = PolicySet(PolicyScope.INSTRUMENT, "BANKA:USD", PolicyTerms(Limits(), None, ("BANKA",)))
    assert chain.code("BANKA", issuer) is Code.INVALID_ARGUMENT  # would shut regulators out
    ghost = named(pausers=("GHOST",))
    assert chain.code("BANKA", ghost, signers=GOVERNANCE) is Code.UNKNOWN_PARTICIPANT
    assert chain.code("BANKA", named(freezers=("REG",)), signers=["BANKA"]) is Code.NOT_AUTHORIZED


def test_the_events_say_who_is_named_and_when_no_one_is(chain: TimedChain) -> None:
    body = named(freezers=("REG", "REG2"), pausers=("REG",))
    events = chain.ok("BANKA", body, signers=GOVERNANCE)
    changed = ev.PolicyChanged(1, "", "", None, None, None, None, 0)
    assert events == (changed, ev.AuthoritiesNamed("REG,REG2", "REG"))
    limits_only = PolicySet(PolicyScope.NETWORK, "", PolicyTerms(Limits(tx_max=5)))
    events = chain.ok("BANKA", limits_only, signers=GOVERNANCE)  # names no one any more
    assert events[1:] == (ev.AuthoritiesNamed("", ""),)
    events = chain.ok("BANKA", limits_only, signers=GOVERNANCE)
    assert len(events) == 1  # named no one before either
    chain.ok("REG2", freeze(True))  # back to the roles


def test_terms_have_one_encoding_and_bounded_names() -> None:
    short = PolicyTerms(Limits(tx_max=5))
    assert short.to_wire() == [[5, None, None, None], None]
    terms = PolicyTerms(Limits(), None, ("REG",), None)
    assert PolicyTerms.from_wire(terms.to_wire()) == terms
    assert len(terms.to_wire()) == 4
    limits = Limits().to_wire()
    for bad in (
        [limits, None, None, None],  # the long form naming no one
        [limits, None, [], None],  # an empty list (omit it instead)
        [limits, None, ["REG", "CB"], None],  # not sorted
        [limits, None, ["REG", "REG"], None],  # not unique
        [limits, None, None, ["bad id"]],
        [limits, None, [f"P{i:02}" for i in range(NAMED_AUTHORITIES_MAX + 1)], None],
        [limits, None, ["REG"]],  # three fields
    ):
        with pytest.raises(CodecError):
            PolicyTerms.from_wire(bad)
    most = [f"P{i:02}" for i in range(NAMED_AUTHORITIES_MAX)]
    assert PolicyTerms.from_wire([limits, None, None, most]).pausers == tuple(most)

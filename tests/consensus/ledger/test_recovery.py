"""Key recovery safeguards (issue 11, item 4): a bank replaces a customer's keys only with the
owner's co-signature (a rotation), or as a recovery with a reference and either a second
authority's co-signature or an elapsed delay the owner can use to cancel it.

Before this, ``ACCOUNT_UPDATE`` by the keeping bank alone replaced an account's keys at once,
with no reference: ``test_a_bank_alone_cannot_swap_a_customers_keys`` fails on that ledger
(the keys change in the first block).
"""

from __future__ import annotations

import pytest

from consensus.ledger import Code
from consensus.ledger import events as ev
from consensus.ledger import queries as q
from consensus.ledger.policies import (
    GOVERNANCE_AUTHORITY,
    ApprovalRule,
    Limits,
    PolicyScope,
    PolicyTerms,
)
from consensus.ledger.txs import AccountRecoveryCancel, AccountUpdate, PolicySet, Transfer

from .test_abuse_regressions import skip
from .test_rules import Chain
from .world import BANKS, key

ALICE = "BANKA/alice"
REF = "case-2026-0042"


@pytest.fixture
def chain() -> Chain:
    return Chain()


def keys_of(chain: Chain, account_id: str) -> tuple[bytes, ...]:
    account = q.get_account(chain.state, account_id)
    assert account is not None
    return tuple(account.keys)


def new_keys(ref: str | None = REF) -> AccountUpdate:
    """BANKA replaces alice's keys with the key of ``thief``."""
    return AccountUpdate(ALICE, (key("thief").public_key,), 1, None, None, False, ref)


def test_a_bank_alone_cannot_swap_a_customers_keys(chain: Chain) -> None:
    honest = keys_of(chain, ALICE)
    code, events = chain.run("BANKA", new_keys())
    assert keys_of(chain, ALICE) == honest  # the old ledger replaced them here
    assert code is Code.OK
    due = chain.state.height + q.get_governance(chain.state).change_delay_heights
    assert events == (ev.AccountRecoveryProposed(ALICE, REF, due),)
    assert chain.run("BANKA", new_keys())[0] is Code.RECOVERY_NOT_DUE
    assert keys_of(chain, ALICE) == honest
    # the thief cannot move alice's money meanwhile
    transfer = Transfer("BANKA/bob", "BANKA:USD", 1)
    assert chain.run(ALICE, transfer, signers=["thief"])[0] is Code.NOT_AUTHORIZED


def test_a_recovery_needs_a_real_reference(chain: Chain) -> None:
    honest = keys_of(chain, ALICE)
    for ref in (None, " ", " case", "case "):
        assert chain.run("BANKA", new_keys(ref))[0] is Code.RECOVERY_REF_REQUIRED
        assert chain.run("BANKA", new_keys(ref), signers=["BANKA", "REG"])[0] is (
            Code.RECOVERY_REF_REQUIRED
        )
    assert keys_of(chain, ALICE) == honest
    assert q.get_pending_recovery(chain.state, ALICE) is None


def test_the_owner_cancels_a_recovery_within_the_delay(chain: Chain) -> None:
    honest = keys_of(chain, ALICE)
    chain.ok("BANKA", new_keys())
    assert chain.ok(ALICE, AccountRecoveryCancel(ALICE)) == (ev.AccountRecoveryCancelled(ALICE),)
    assert chain.run(ALICE, AccountRecoveryCancel(ALICE))[0] is Code.NO_PENDING_RECOVERY
    skip(chain, 10)
    # after the cancelled delay the same update only proposes again: a new delay starts
    assert chain.ok("BANKA", new_keys())[0] == ev.AccountRecoveryProposed(
        ALICE, REF, chain.state.height + 5
    )
    assert keys_of(chain, ALICE) == honest


def test_only_the_account_itself_cancels_its_recovery(chain: Chain) -> None:
    chain.ok("BANKA", new_keys())
    assert chain.run("BANKA/bob", AccountRecoveryCancel(ALICE))[0] is Code.NOT_AUTHORIZED
    assert chain.run("BANKA", AccountRecoveryCancel(ALICE))[0] is Code.NOT_AUTHORIZED
    assert q.get_pending_recovery(chain.state, ALICE) is not None


def test_a_delayed_recovery_applies_once_the_delay_has_passed(chain: Chain) -> None:
    chain.ok("BANKA", new_keys())
    pending = q.get_pending_recovery(chain.state, ALICE)
    assert pending is not None
    skip(chain, pending.effective_height - chain.state.height - 1)
    events = chain.ok("BANKA", new_keys())  # executes at exactly effective_height
    assert chain.state.height == pending.effective_height
    assert ev.AccountKeysRecovered(ALICE, REF, "") in events
    assert keys_of(chain, ALICE) == (key("thief").public_key,)
    assert q.get_pending_recovery(chain.state, ALICE) is None
    chain.ok(ALICE, Transfer("BANKA/bob", "BANKA:USD", 1), signers=["thief"])


def test_another_recovery_does_not_inherit_the_elapsed_delay(chain: Chain) -> None:
    chain.ok("BANKA", new_keys())
    skip(chain, 10)
    other = AccountUpdate(ALICE, (key("thief-2").public_key,), 1, None, None, False, REF)
    assert isinstance(chain.ok("BANKA", other)[0], ev.AccountRecoveryProposed)
    assert chain.run("BANKA", other)[0] is Code.RECOVERY_NOT_DUE


def test_a_regulator_seconds_a_recovery_at_once(chain: Chain) -> None:
    events = chain.ok("BANKA", new_keys(), signers=["BANKA", "REG"])
    assert events == (ev.AccountUpdated(ALICE), ev.AccountKeysRecovered(ALICE, REF, "REG"))
    assert keys_of(chain, ALICE) == (key("thief").public_key,)


def test_another_bank_is_no_second_authority(chain: Chain) -> None:
    events = chain.ok("BANKA", new_keys(), signers=["BANKA", "BANKB"])
    assert isinstance(events[0], ev.AccountRecoveryProposed)
    assert keys_of(chain, ALICE) == (key(ALICE).public_key,)


def test_an_approver_the_network_policy_names_seconds_a_recovery(chain: Chain) -> None:
    terms = PolicyTerms(Limits(), ApprovalRule(1, ("BANKB",)))
    chain.ok("BANKA", PolicySet(PolicyScope.NETWORK, GOVERNANCE_AUTHORITY, terms), signers=BANKS)
    events = chain.ok("BANKA", new_keys(), signers=["BANKA", "BANKB"])
    assert ev.AccountKeysRecovered(ALICE, REF, "BANKB") in events


def test_the_owner_rotates_its_keys_with_its_bank(chain: Chain) -> None:
    chain.ok("BANKA", new_keys())  # a pending recovery is dropped by the owner's own rotation
    rotated = AccountUpdate(ALICE, (key("alice-2").public_key,), 1, None, None, False)
    events = chain.ok("BANKA", rotated, signers=["BANKA", ALICE])
    assert events == (ev.AccountUpdated(ALICE), ev.AccountKeysRotated(ALICE))
    assert keys_of(chain, ALICE) == (key("alice-2").public_key,)
    assert q.get_pending_recovery(chain.state, ALICE) is None

"""Named authorities for the ledger state machine (``test_stateful.LedgerMachine`` mixes this
in): governance's network policy names who alone may freeze, who alone may pause and (as the
forced-transfer approvers) who may force; then an authority, named or not, freezes, pauses and
forces, and lifts its orders again. The promise, judged for every transaction the machine runs:

- no FREEZE, PAUSE or FORCED_TRANSFER is accepted from an authority that governance's network
  order standing before it leaves out of the list it names for that action.

The lists are read from the raw order in the state before the transaction, not through the
ledger's own accessors.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import rule

from consensus.ledger import Code
from consensus.ledger import queries as q
from consensus.ledger.pauses import PauseScope
from consensus.ledger.policies import (
    GOVERNANCE_AUTHORITY,
    ApprovalRule,
    Limits,
    PolicyScope,
    PolicyTerms,
)
from consensus.ledger.state import State
from consensus.ledger.txs import Body, ForcedTransfer, Freeze, Pause, PolicySet

from .world import BANKS, CUSTOMERS

_Base: Any = object
CANDIDATES = ("BANKA", "BANKB", "CB", "REG")
NAMES = st.lists(st.sampled_from(CANDIDATES), min_size=1, unique=True).map(
    lambda ids: tuple(sorted(ids))
)
"""Mostly short lists, so an authority its role allows is often left out."""


def named_in_force(state: State, body: Body) -> tuple[str, ...] | None:
    """Whom governance's standing network order names for what ``body`` does (None: anyone
    its role allows, or not a freeze, pause or forced transfer)."""
    book = q.get_policy_book(state)
    orders = [
        o
        for o in book.orders
        if o.scope is PolicyScope.NETWORK and o.authority == GOVERNANCE_AUTHORITY
    ]
    if not orders:
        return None
    terms = orders[0].terms
    if isinstance(body, Freeze):
        return terms.freezers
    if isinstance(body, Pause):
        return terms.pausers
    if isinstance(body, ForcedTransfer) and terms.force_approval is not None:
        return terms.force_approval.approvers
    return None


class AuthorityRules(_Base):  # type: ignore[misc]  # a mixin of LedgerMachine
    """The rule and the promise of named authorities (see the module docstring)."""

    def check_named_authority_promise(
        self, before: State, submitter: str, body: Body, code: Code
    ) -> None:
        names = named_in_force(before, body)
        if names is None:
            return
        if submitter not in names:
            event(f"{type(body).__name__} by an authority not named: {code.name}")
        assert code is not Code.OK or submitter in names, (
            f"{type(body).__name__} accepted from {submitter}, not among {names}"
        )

    @rule(freezers=st.none() | NAMES | NAMES, pausers=st.none() | NAMES | NAMES,
          approver=st.sampled_from([None, "CB", "REG"]),
          authority=st.sampled_from(["REG", "REG", "REG", "BANKA", "BANKB", "CB"]),
          account=st.sampled_from(CUSTOMERS), lift=st.booleans())  # fmt: skip
    def act_under_named_authorities(
        self, freezers: tuple[str, ...] | None, pausers: tuple[str, ...] | None,
        approver: str | None, authority: str, account: str, lift: bool,
    ) -> None:  # fmt: skip
        """Governance names authorities; ``authority`` and the regulator (whom any role check
        lets through, so only the list can stop it) each freeze, pause their target and force a
        transfer (co-signed by the approver), then lift their orders; governance may lift its
        order again. The promise judges each step."""
        force = None if approver is None else ApprovalRule(1, (approver,))
        terms = PolicyTerms(Limits(), force, freezers, pausers)
        governance = [self.signer_of(bank) for bank in BANKS]
        network = PolicySet(PolicyScope.NETWORK, "", terms)
        code = self.run_one("BANKA", network, "none", signers=governance)
        event(f"authorities named: {code.name}")
        target = (PauseScope.INSTRUMENT, f"{account.split('/')[0]}:USD")
        payee = CUSTOMERS[(CUSTOMERS.index(account) + 1) % len(CUSTOMERS)]
        for who in dict.fromkeys([authority, "REG"]):
            self.freeze(who, account, True, 5, "none")
            self.pause(who, target, True, "none")
            self.forced_transfer(who, account, payee, 1, False, approver)
            self.freeze(who, account, False, 0, "none")
            self.pause(who, target, False, "none")
        if lift:
            lifted = PolicySet(PolicyScope.NETWORK, "", PolicyTerms(Limits()))
            self.run_one("BANKA", lifted, "none", signers=governance)

"""Policies for the ledger state machine (``test_stateful.LedgerMachine`` mixes this in):
POLICY_SET by every kind of authority at every scope, transfers with and without travel-rule
records, holds with M-of-N approvers and their HOLD_APPROVE, with the promises:

- no accepted payment exceeds the strictest per-transaction maximum that applied to it, and no
  accepted payment at or above the strictest travel-rule threshold lacks a record;
- while a daily maximum applies, what an account sent of an instrument that UTC day under it
  never exceeds it;
- no accepted credit leaves a capped deposit-token balance above its cap;
- no hold settles before M of its N approvers approved; a forced transfer under a network
  approval rule carries the co-signatures it names (the machine signs with the regulator only).

The limits are computed here from the raw orders in the state before the transaction, not by the
ledger's own combination.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import rule

from consensus.ledger import Code
from consensus.ledger import queries as q
from consensus.ledger.holds import Hold, HoldRef, HoldTerms
from consensus.ledger.policies import (
    DAY_MS,
    ApprovalRule,
    Limits,
    PolicyOrder,
    PolicyScope,
    PolicyTerms,
    TravelRecord,
)
from consensus.ledger.state import State
from consensus.ledger.txs import (
    Body,
    ForcedTransfer,
    HoldApprove,
    HoldCreate,
    HoldExecute,
    Mint,
    PolicySet,
    Transfer,
)

from .stateful_rulebook import block_time, received_instrument
from .world import BANKS, CUSTOMERS

_Base: Any = object
TRAVEL = TravelRecord(b"\x11" * 32, "SALA")
TARGETS = [
    (PolicyScope.NETWORK, ""),
    (PolicyScope.INSTRUMENT, "BANKA:USD"),
    (PolicyScope.INSTRUMENT, "BANKB:USD"),
    (PolicyScope.PARTICIPANT, "BANKB"),
    (PolicyScope.ACCOUNT, "BANKA/alice"),
    (PolicyScope.ACCOUNT, "BANKC/dave"),
]
OWNER = {"": "GOV", "BANKA:USD": "BANKA", "BANKB:USD": "BANKB", "BANKB": "BANKB",
         "BANKA/alice": "BANKA", "BANKC/dave": "BANKC"}  # fmt: skip
HOLD_APPROVERS = ("BANKA/bob", "CB", "REG")


def applying_orders(state: State, account: str, instrument: str) -> list[PolicyOrder]:
    book = q.get_policy_book(state)
    targets = {
        (PolicyScope.NETWORK, ""),
        (PolicyScope.INSTRUMENT, instrument),
        (PolicyScope.PARTICIPANT, account.split("/")[0]),
    }
    own = q.get_account_policies(state, account).orders
    return [o for o in book.orders if (o.scope, o.target) in targets] + list(own)


def strictest(orders: list[PolicyOrder], name: str) -> int | None:
    values = [getattr(o.terms.limits, name) for o in orders]
    present = [v for v in values if v is not None]
    return min(present) if present else None


class PolicyRules(_Base):  # type: ignore[misc]  # a mixin of LedgerMachine
    """Rules and checks for policies and approvals (see the module docstring)."""

    daily: dict[tuple[str, str, int], int]

    @rule(who=st.sampled_from(["REG", "owner", "owner", "BANKC"]),
          what=st.sampled_from(TARGETS),
          tx_max=st.sampled_from([None, 50, 5_000]), daily=st.sampled_from([None, None, 3_000]),
          cap=st.sampled_from([None, None, 10_050, 12_000]),
          travel=st.sampled_from([None, 100, 2_500]),
          force=st.sampled_from([None] * 6 + [1, 2]))  # fmt: skip
    def policy_set(
        self, who: str, what: tuple[PolicyScope, str], tx_max: int | None, daily: int | None,
        cap: int | None, travel: int | None, force: int | None,
    ) -> None:  # fmt: skip
        scope, target = what
        submitter = OWNER[target] if who == "owner" else who
        signers = None
        if submitter == "GOV":
            submitter, signers = "BANKA", [self.signer_of(b) for b in BANKS]
        approval = None
        if force is not None and who == "owner" and scope is PolicyScope.NETWORK:
            approval = ApprovalRule(force, ("CB", "REG"))
        terms = PolicyTerms(Limits(tx_max, daily, cap, travel), approval)
        code = self.run_one(submitter, PolicySet(scope, target, terms), "none", signers=signers)
        event(f"policy set by {who}: {code.name}")

    @rule(data=st.data(), what=st.sampled_from(TARGETS), cap=st.sampled_from([10_050, 10_500]),
          daily=st.sampled_from([None, 700]), lift=st.booleans())  # fmt: skip
    def pay_under_a_limit(
        self, data: st.DataObject, what: tuple[PolicyScope, str], cap: int, daily: int | None,
        lift: bool,
    ) -> None:  # fmt: skip
        """The regulator sets a balance cap or a daily maximum on a target, then someone pays
        twice: the policy promises (``check_policy_promise``) judge the payments."""
        self.policy_set("REG", what, None, daily, None if daily else cap, None, None)
        payer, amount = self.draw_payment(data)
        payee = self.draw_payee(data, payer)
        self.transfer_one(payer, payee, amount, None, "none")
        self.transfer_one(payer, payee, min(amount, 400), None, "none")
        if lift:
            self.run_one("REG", PolicySet(what[0], what[1], PolicyTerms(Limits())), "none")

    @rule(data=st.data(), travel=st.booleans())
    def transfer_with_travel_rule(self, data: st.DataObject, travel: bool) -> None:
        payer, amount = self.draw_payment(data)
        payee = self.draw_payee(data, payer)
        body = Transfer(payee, f"{payer.split('/')[0]}:USD", amount, TRAVEL if travel else None)
        self.run_one(payer, body, "none")

    @rule(data=st.data(), required=st.integers(1, 3), travel=st.booleans())
    def hold_create_with_approvers(self, data: st.DataObject, required: int, travel: bool) -> None:
        payer, amount = self.draw_payment(data)
        payee = self.draw_payee(data, payer)
        now = block_time(self.state.height + 1)
        terms = HoldTerms(
            f"a{self.factory.counter}", payee, f"{payer.split('/')[0]}:USD", amount, 0,
            now + 10_000, None, "CB", False, ApprovalRule(required, HOLD_APPROVERS),
            TRAVEL if travel else None,
        )  # fmt: skip
        self.run_one(payer, HoldCreate(terms), "none")

    @rule(data=st.data(), stranger=st.booleans())
    def hold_approve(self, data: st.DataObject, stranger: bool) -> None:
        holds = [h for h in self.active_holds() if h.terms.approval is not None]
        if not holds:
            return
        hold = data.draw(st.sampled_from(holds))
        approver = "BANKC" if stranger else data.draw(st.sampled_from(HOLD_APPROVERS))
        code = self.run_one(approver, HoldApprove(hold.payer, hold.terms.hold_id), "none")
        assert code is not Code.OK or not stranger, "a stranger approved a hold"

    @rule(data=st.data(), approvals=st.integers(0, 3))
    def approve_then_settle(self, data: st.DataObject, approvals: int) -> None:
        """A hold needing 2 of 3 approvals gets ``approvals`` of them, then CB settles it: it
        settles only with 2 or more (the promise check judges the settlement)."""
        payer, amount = self.draw_payment(data)
        payee = self.draw_payee(data, payer)
        now = block_time(self.state.height + 1)
        terms = HoldTerms(
            f"m{self.factory.counter}", payee, f"{payer.split('/')[0]}:USD", amount, 0,
            now + 60_000, None, "CB", False, ApprovalRule(2, HOLD_APPROVERS), TRAVEL,
        )  # fmt: skip
        if self.run_one(payer, HoldCreate(terms), "none") is not Code.OK:
            return
        for approver in HOLD_APPROVERS[:approvals]:
            self.run_one(approver, HoldApprove(payer, terms.hold_id), "none")
        leg = HoldRef(payer, terms.hold_id, None)
        code = self.run_one("CB", HoldExecute((leg,)), "none")
        assert code is not Code.OK or approvals >= 2, "settled with too few approvals"

    # -- the promises (called by ``run_one`` after every tx) ---------------------------------

    def check_policy_promise(self, before: State, submitter: str, body: Body, code: Code) -> None:
        if code is not Code.OK:
            return
        if isinstance(body, Transfer):
            payee_bank = body.to_account.split("/")[0]
            received = body.instrument_id
            if payee_bank != submitter.split("/")[0]:
                received = f"{payee_bank}:{body.instrument_id.split(':')[1]}"
            self.check_payment(before, submitter, body.to_account, (body.instrument_id, received),
                               body.amount, body.travel, True)  # fmt: skip
        elif isinstance(body, HoldCreate):
            terms = body.terms
            received = f"{terms.payee.split('/')[0]}:{terms.instrument_id.split(':')[1]}"
            self.check_payment(before, submitter, terms.payee, (terms.instrument_id, received),
                               terms.amount, terms.travel, False)  # fmt: skip
        elif isinstance(body, HoldExecute):
            for leg in body.legs:
                hold = q.get_hold(before, leg.payer, leg.hold_id)
                assert hold is not None
                self.check_executed_hold(before, hold)
        elif isinstance(body, Mint):
            self.check_cap(before, body.account_id, body.instrument_id)
        elif isinstance(body, ForcedTransfer):
            rule_ = q.get_policy_book(before).force_approval
            assert rule_ is None or rule_.required <= 1, "a forced transfer lacked co-signers"

    def check_executed_hold(self, before: State, hold: Hold) -> None:
        terms = hold.terms
        if terms.approval is not None:
            event("an approved hold settled")
            assert len(hold.approvals) >= terms.approval.required, "settled before approval"
            assert set(hold.approvals) <= set(terms.approval.approvers)
        instruments = (terms.instrument_id, received_instrument(hold))
        self.check_payment(before, hold.payer, terms.payee, instruments, terms.amount,
                           terms.travel, True)  # fmt: skip

    def check_payment(
        self, before: State, payer: str, payee: str, instruments: tuple[str, str], amount: int,
        travel: TravelRecord | None, settles: bool,
    ) -> None:  # fmt: skip
        sent = applying_orders(before, payer, instruments[0])
        got = applying_orders(before, payee, instruments[1])
        tx_max = strictest(sent, "tx_max")
        assert tx_max is None or amount <= tx_max, "a payment exceeded the per-tx maximum"
        threshold = strictest(sent + got, "travel_threshold")
        if threshold is not None and amount >= threshold:
            event("a payment at the travel-rule threshold")
            assert travel is not None, "a payment above the threshold lacked travel data"
        if not settles:
            return
        daily = strictest(sent, "daily_max")
        if daily is not None:
            event("a daily maximum applied")
            day = block_time(self.state.height) // DAY_MS
            spent = self.daily[(payer, instruments[0], day)] = (
                self.daily[(payer, instruments[0], day)] + amount
            )
            assert spent <= daily, "an account sent more than its daily maximum"
        self.check_cap(before, payee, instruments[1])

    def check_cap(self, before: State, account: str, instrument: str) -> None:
        if instrument.startswith("CB:"):
            return  # settlement assets are never capped
        cap = strictest(applying_orders(before, account, instrument), "balance_cap")
        if cap is not None:
            event("a capped balance was credited")
            assert q.get_balance(self.state, account, instrument).total <= cap, "cap exceeded"


def fresh_daily() -> dict[tuple[str, str, int], int]:
    return defaultdict(int)


__all__ = ["CUSTOMERS", "PolicyRules", "fresh_daily"]

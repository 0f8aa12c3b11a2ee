"""Holds: HOLD_CREATE (free -> held), HOLD_EXECUTE (one or several holds, all or none),
HOLD_CANCEL (held -> free: a release before expiry, a refund by anyone after it).

A hold never changes a balance's total until it executes, so free = total - frozen - held stays
>= 0 and the supply is untouched by create and cancel. Executing a leg pays the payee exactly
as a TRANSFER would (cross-bank through the settlement asset), from the held funds. Several
legs in one HOLD_EXECUTE settle atomically: the first failing leg rejects the transaction and
the view drops every staged write, which gives DvP and cross-currency PvP.
"""

from __future__ import annotations

from dataclasses import replace

from consensus import crypto
from consensus.ledger.auth import TxContext, require_account
from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.events import (
    HoldApproved,
    HoldCancelled,
    HoldCreated,
    HoldExecuted,
    TxEvent,
)
from consensus.ledger.holds import Hold, HoldRef, HoldStatus, HoldTerms
from consensus.ledger.pauses import check_not_paused
from consensus.ledger.records import Account, Balance, Instrument, is_account_id
from consensus.ledger.rules.limits import check_payment, travel_events
from consensus.ledger.rules.tokens import (
    apply_cross_bank,
    credit,
    require_account_by_id,
    require_instrument,
    validate_eligible,
    validate_holds,
)
from consensus.ledger.txs import HoldApprove, HoldCancel, HoldCreate, HoldExecute
from consensus.ledger.view import BlockView


def require_hold(view: BlockView, payer: str, hold_id: str) -> Hold:
    """The active hold, or UNKNOWN_HOLD / HOLD_NOT_ACTIVE."""
    hold = view.get_hold(payer, hold_id)
    if hold is None:
        raise InvalidTransaction(Code.UNKNOWN_HOLD, f"no hold {hold_id} of {payer}")
    if hold.status is not HoldStatus.ACTIVE:
        raise InvalidTransaction(
            Code.HOLD_NOT_ACTIVE, f"hold {hold_id} of {payer} is {hold.status.name.lower()}"
        )
    return hold


def validate_payee_instrument(view: BlockView, token: Instrument, payee: Account) -> str:
    """The instrument the payee will receive: the same one at the same bank, else the payee
    bank's token of the same currency settling in the same asset (INSTRUMENT_MISMATCH)."""
    spec = token.spec
    if payee.bank == token.spec.issuer:
        return spec.instrument_id
    payee_token = require_instrument(view, f"{payee.bank}:{spec.currency}")
    if spec.settlement_asset is None or payee_token.spec.settlement_asset != spec.settlement_asset:
        raise InvalidTransaction(Code.INSTRUMENT_MISMATCH, "the banks settle in different assets")
    return payee_token.spec.instrument_id


def validate_executor_exists(view: BlockView, executor: str | None) -> None:
    if executor is None:
        return
    if is_account_id(executor):
        require_account_by_id(view, executor)
    elif view.get_participant(executor) is None:
        raise InvalidTransaction(Code.UNKNOWN_PARTICIPANT, f"no participant {executor}")


def apply_hold_create(ctx: TxContext, body: HoldCreate) -> tuple[TxEvent, ...]:
    payer = require_account(ctx)
    view, terms = ctx.view, body.terms
    if terms.payee == payer.account_id:
        raise InvalidTransaction(Code.INVALID_ARGUMENT, "a hold pays another account")
    if terms.expiry_ms <= ctx.time_ms:
        raise InvalidTransaction(Code.HOLD_EXPIRED, "the hold would expire at once")
    token = require_instrument(view, terms.instrument_id)
    validate_holds(payer, token)
    validate_eligible(payer, ctx.time_ms)
    payee = require_account_by_id(view, terms.payee)
    validate_eligible(payee, ctx.time_ms)
    payee_instrument = validate_payee_instrument(view, token, payee)
    instruments = (terms.instrument_id, payee_instrument)
    check_not_paused(view.get_pause_book(), instruments, (payer.bank, payee.bank))
    validate_executor_exists(view, terms.executor)
    for approver in terms.approval.approvers if terms.approval else ():
        validate_executor_exists(view, approver)
    check_payment(
        view, ctx.time_ms, payer, payee, instruments, terms.amount, terms.travel, settles=False
    )
    if view.get_hold(payer.account_id, terms.hold_id) is not None:
        raise InvalidTransaction(Code.HOLD_EXISTS, f"hold {terms.hold_id} exists")
    old = view.get_balance(payer.account_id, terms.instrument_id)
    if terms.amount > old.free:
        raise InvalidTransaction(
            Code.INSUFFICIENT_FREE_BALANCE, f"free balance below {terms.amount}"
        )
    view.put_balance(
        payer.account_id,
        terms.instrument_id,
        old,
        Balance(old.total, old.frozen, old.held + terms.amount),
    )
    view.put_hold(Hold(payer.account_id, terms, HoldStatus.ACTIVE, ctx.height))
    return (
        HoldCreated(
            payer.account_id,
            terms.hold_id,
            terms.payee,
            terms.instrument_id,
            terms.amount,
            terms.expiry_ms,
        ),
        *travel_events(payer.account_id, terms.payee, terms.amount, terms.travel),
    )


def validate_conditions(ctx: TxContext, hold: Hold, leg: HoldRef) -> None:
    """The submitter is the hold's executor, the time is within [not_before, expiry), and the
    preimage opens the hash lock."""
    terms = hold.terms
    if ctx.tx.submitter != hold.executor:
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, f"only {hold.executor} executes hold {terms.hold_id}"
        )
    if ctx.time_ms < terms.not_before_ms:
        raise InvalidTransaction(Code.HOLD_NOT_DUE, f"hold {terms.hold_id} is not due yet")
    if ctx.time_ms >= terms.expiry_ms:
        raise InvalidTransaction(Code.HOLD_EXPIRED, f"hold {terms.hold_id} has expired")
    if terms.hash_lock is None:
        if leg.preimage is not None:
            raise InvalidTransaction(Code.INVALID_ARGUMENT, f"hold {terms.hold_id} has no lock")
    elif leg.preimage is None or crypto.sha256(leg.preimage) != terms.hash_lock:
        raise InvalidTransaction(
            Code.HASH_LOCK_MISMATCH, f"the preimage does not open hold {terms.hold_id}"
        )
    if terms.approval is not None and len(hold.approvals) < terms.approval.required:
        raise InvalidTransaction(
            Code.APPROVALS_MISSING,
            f"hold {terms.hold_id}: {len(hold.approvals)} of {terms.approval.required} approvals",
        )


def settle_leg(ctx: TxContext, hold: Hold) -> tuple[TxEvent, ...]:
    """Pay one hold to its payee from the payer's held funds, as a transfer would."""
    view, terms = ctx.view, hold.terms
    payer = require_account_by_id(view, hold.payer)
    payee = require_account_by_id(view, terms.payee)
    validate_eligible(payer, ctx.time_ms)
    validate_eligible(payee, ctx.time_ms)
    token = require_instrument(view, terms.instrument_id)
    payee_instrument = validate_payee_instrument(view, token, payee)
    instruments = (terms.instrument_id, payee_instrument)
    check_not_paused(view.get_pause_book(), instruments, (payer.bank, payee.bank))
    amount = terms.amount
    check_payment(view, ctx.time_ms, payer, payee, instruments, amount, terms.travel, settles=True)
    old = view.get_balance(payer.account_id, terms.instrument_id)
    assert old.held >= amount, "an active hold's amount is held"
    new = Balance(old.total - amount, old.frozen, old.held - amount)
    view.put_hold(replace(hold, status=HoldStatus.EXECUTED))
    cross_bank = payee.bank != payer.bank
    executed = HoldExecuted(
        payer.account_id, terms.hold_id, payee.account_id, terms.instrument_id,
        payee_instrument, amount, cross_bank,
    )  # fmt: skip
    if cross_bank:
        _, settled = apply_cross_bank(ctx, amount, payer, payee, token, old, new)
        return (executed, settled)
    payee_old = view.get_balance(payee.account_id, terms.instrument_id)
    payee_new = credit(payee_old, amount)
    view.put_balance(payer.account_id, terms.instrument_id, old, new)
    view.put_balance(payee.account_id, terms.instrument_id, payee_old, payee_new)
    return (executed,)


def apply_hold_execute(ctx: TxContext, body: HoldExecute) -> tuple[TxEvent, ...]:
    events: list[TxEvent] = []
    for leg in body.legs:
        hold = require_hold(ctx.view, leg.payer, leg.hold_id)
        validate_conditions(ctx, hold, leg)
        events.extend(settle_leg(ctx, hold))
    return tuple(events)


def release_hold(view: BlockView, hold: Hold) -> None:
    """Held -> free on the payer's balance; the hold ends cancelled."""
    terms = hold.terms
    old = view.get_balance(hold.payer, terms.instrument_id)
    assert old.held >= terms.amount, "an active hold's amount is held"
    new = Balance(old.total, old.frozen, old.held - terms.amount)
    view.put_balance(hold.payer, terms.instrument_id, old, new)
    view.put_hold(replace(hold, status=HoldStatus.CANCELLED))


def may_cancel_early(submitter: str, hold: Hold) -> bool:
    """Before expiry: the executor and the payee (whom the hold assures) may release it; the
    payer only if the hold is revocable."""
    terms: HoldTerms = hold.terms
    if submitter in (hold.executor, terms.payee):
        return True
    return terms.revocable and submitter == hold.payer


def apply_hold_cancel(ctx: TxContext, body: HoldCancel) -> tuple[TxEvent, ...]:
    view = ctx.view
    hold = require_hold(view, body.payer, body.hold_id)
    expired = ctx.time_ms >= hold.terms.expiry_ms
    submitter = ctx.tx.submitter
    if not expired and not may_cancel_early(submitter, hold):
        raise InvalidTransaction(
            Code.HOLD_NOT_EXPIRED, f"hold {body.hold_id} is cancelled by anyone only after expiry"
        )
    release_hold(view, hold)
    return (HoldCancelled(hold.payer, body.hold_id, hold.terms.amount, submitter, expired),)


def apply_hold_approve(ctx: TxContext, body: HoldApprove) -> tuple[TxEvent, ...]:
    """One of the hold's named approvers approves it, before expiry, once."""
    view = ctx.view
    hold = require_hold(view, body.payer, body.hold_id)
    approval, approver = hold.terms.approval, ctx.tx.submitter
    if approval is None:
        raise InvalidTransaction(Code.INVALID_ARGUMENT, f"hold {body.hold_id} needs no approval")
    if approver not in approval.approvers:
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, f"{approver} is not an approver of hold {body.hold_id}"
        )
    if ctx.time_ms >= hold.terms.expiry_ms:
        raise InvalidTransaction(Code.HOLD_EXPIRED, f"hold {body.hold_id} has expired")
    if approver in hold.approvals:
        raise InvalidTransaction(Code.ALREADY_APPROVED, f"{approver} approved it already")
    approvals = tuple(sorted((*hold.approvals, approver)))
    view.put_hold(replace(hold, approvals=approvals))
    return (HoldApproved(hold.payer, body.hold_id, approver, len(approvals)),)

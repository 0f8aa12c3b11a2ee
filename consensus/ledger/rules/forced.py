"""FORCED_TRANSFER: an authority moves funds out of an account under a legal basis.

Who: a regulator (a role only governance gives); taking from a settlement account also needs
the settlement agent's signature (as for freezes). If governance's network policy names
forced-transfer approvers, they are the authorities that may force: the submitter must be one of
them (AUTHORITY_NOT_PERMITTED) and M of them co-sign. The legal basis is a real reference.

What it may take: the balance less what is held, frozen funds included (that is its point: a
court order executes against the funds a freeze earmarked). The submitter's own frozen amount
goes first, then free funds, then other authorities' frozen amounts (by authority); the freeze
orders are cut by the frozen funds taken, so frozen <= total - held keeps holding and every
order still binds what is left. Naming ``release_hold_id`` releases that active hold of the
account first, so its funds can be taken too (the hold ends cancelled, with its own event).
The source account may be frozen; the destination must be eligible as for a transfer. A
cross-bank destination settles through the settlement asset as a transfer does. A pause does
not stop it (a control transaction). Its event, ForcedTransferred, is distinct from a
Transferred.
"""

from __future__ import annotations

from consensus.ledger.auth import TxContext, is_signed_by, require_participant
from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.controls import FreezeBook, FreezeOrder, is_real_reference
from consensus.ledger.events import ForcedTransferred, HoldCancelled, TxEvent
from consensus.ledger.records import Account, AccountStatus, Balance, Participant, Role
from consensus.ledger.rules.holds import release_hold, require_hold
from consensus.ledger.rules.policy import require_named
from consensus.ledger.rules.tokens import (
    apply_cross_bank,
    credit,
    require_account_by_id,
    require_instrument,
    validate_eligible,
    validate_holds,
)
from consensus.ledger.txs import ForcedTransfer
from consensus.ledger.view import BlockView


def validate_force_authority(ctx: TxContext, authority: Participant, account_id: str) -> None:
    if not authority.has_role(Role.REGULATOR):
        raise InvalidTransaction(Code.NOT_AUTHORIZED, "only a regulator forces a transfer")
    keeper_id = account_id.partition("/")[0]
    keeper = ctx.view.get_participant(keeper_id)
    if (
        keeper is not None
        and keeper.has_role(Role.SETTLEMENT_AGENT)
        and not is_signed_by(keeper.keys, keeper.threshold, ctx.signers)
    ):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, f"{account_id} is a settlement account: {keeper_id} must sign"
        )


def validate_force_approvals(ctx: TxContext) -> None:
    """If governance's network policy names forced-transfer approvers, the submitter is one of
    them (they are the authorities that may force a transfer) and M of them co-signed (each
    with its own M-of-N keys; the submitter counts)."""
    rule = ctx.view.get_policy_book().force_approval
    if rule is None:
        return
    require_named(rule.approvers, ctx.tx.submitter, "force a transfer")
    signed = 0
    for approver_id in rule.approvers:
        approver = ctx.view.get_participant(approver_id)
        if approver is not None and approver.is_active:
            signed += is_signed_by(approver.keys, approver.threshold, ctx.signers)
    if signed < rule.required:
        raise InvalidTransaction(
            Code.APPROVALS_MISSING,
            f"{signed} of the {rule.required} forced-transfer approvals the policy requires",
        )


def cut_freezes(book: FreezeBook, instrument_id: str, cut: int, first: str) -> FreezeBook:
    """``book`` with ``cut`` taken off the frozen amounts of ``instrument_id``: ``first``'s
    order first, then the others by authority."""
    orders = sorted(book.orders, key=lambda o: (o.authority != first, o.authority))
    for order in orders:
        if cut == 0:
            break
        amount = order.get_amount(instrument_id)
        taken = min(amount, cut)
        if taken == 0:
            continue
        cut -= taken
        amounts = dict(order.amounts)
        if amount - taken:
            amounts[instrument_id] = amount - taken
        else:
            del amounts[instrument_id]
        pairs = tuple(sorted(amounts.items()))
        book = book.with_order(
            FreezeOrder(order.authority, order.account_frozen, pairs, order.legal_basis_ref)
        )
    assert cut == 0, "the balance's frozen amount is the sum of the orders"
    return book


def take(view: BlockView, ctx: TxContext, source: Account, body: ForcedTransfer) -> Balance:
    """The source balance after taking ``amount``: the submitter's own frozen amount first (the
    funds its order earmarked), then free funds, then other authorities' frozen amounts. Stages
    the freeze book cut to match; returns the new balance (not yet staged)."""
    old = view.get_balance(source.account_id, body.instrument_id)
    if body.amount > old.total - old.held:
        raise InvalidTransaction(
            Code.INSUFFICIENT_FREE_BALANCE, f"{source.account_id} has less than {body.amount}"
        )
    book = view.get_freeze_book(source.account_id)
    own = book.get_order(ctx.tx.submitter)
    from_own = min(own.get_amount(body.instrument_id) if own else 0, body.amount)
    from_free = min(old.free, body.amount - from_own)
    cut = body.amount - from_free  # the own order's part, then the others'
    if cut:
        view.put_freeze_book(
            source.account_id, cut_freezes(book, body.instrument_id, cut, ctx.tx.submitter)
        )
    return Balance(old.total - body.amount, old.frozen - cut, old.held)


def apply_forced_transfer(ctx: TxContext, body: ForcedTransfer) -> tuple[TxEvent, ...]:
    authority = require_participant(ctx)
    view = ctx.view
    validate_force_authority(ctx, authority, body.from_account)
    validate_force_approvals(ctx)
    if not is_real_reference(body.legal_basis_ref):
        raise InvalidTransaction(Code.LEGAL_BASIS_REQUIRED, "a forced transfer needs a legal basis")
    if body.from_account == body.to_account:
        raise InvalidTransaction(Code.INVALID_ARGUMENT, "forced transfer to the same account")
    source = require_account_by_id(view, body.from_account)
    if source.status is not AccountStatus.ACTIVE:
        raise InvalidTransaction(Code.ACCOUNT_CLOSED, f"{source.account_id} is closed")
    token = require_instrument(view, body.instrument_id)
    validate_holds(source, token)
    target = require_account_by_id(view, body.to_account)
    validate_eligible(target, ctx.time_ms)
    events: list[TxEvent] = []
    if body.release_hold_id is not None:
        hold = require_hold(view, source.account_id, body.release_hold_id)
        if hold.terms.instrument_id != body.instrument_id:
            raise InvalidTransaction(Code.INVALID_ARGUMENT, "the hold is of another instrument")
        release_hold(view, hold)
        events.append(
            HoldCancelled(
                hold.payer, hold.terms.hold_id, hold.terms.amount, authority.participant_id, False
            )
        )
    old = view.get_balance(source.account_id, body.instrument_id)
    new = take(view, ctx, source, body)
    cross_bank = target.bank != source.bank
    to_instrument = f"{target.bank}:{token.spec.currency}" if cross_bank else body.instrument_id
    forced = ForcedTransferred(
        source.account_id, target.account_id, body.instrument_id, to_instrument,
        body.amount, authority.participant_id, body.legal_basis_ref, cross_bank,
    )  # fmt: skip
    if cross_bank:
        _, settled = apply_cross_bank(ctx, body.amount, source, target, token, old, new)
        return (*events, forced, settled)
    target_old = view.get_balance(target.account_id, body.instrument_id)
    view.put_balance(source.account_id, body.instrument_id, old, new)
    view.put_balance(
        target.account_id, body.instrument_id, target_old, credit(target_old, body.amount)
    )
    return (*events, forced)

"""FREEZE with provenance: every freeze order belongs to the authority that gave it.

An authority (the account's bank, or a regulator) replaces only its own earlier order; the
account is frozen while any authority's account freeze stands, and the frozen amount of a
balance is the sum of the authorities' amounts. So a bank cannot lift a regulator's freeze.
A settlement account (kept by a settlement agent) is frozen only with the agent's signature.
If governance's network policy names the authorities that may freeze, only they give (or lift)
orders, whatever their roles allow.
A legal basis is a real reference; a closed account is not frozen any more. Balances never
change, only what of them is free.
"""

from __future__ import annotations

from dataclasses import replace

from consensus.ledger.auth import TxContext, is_signed_by, require_participant
from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.controls import (
    FREEZE_INSTRUMENTS_MAX,
    FreezeBook,
    FreezeOrder,
    is_real_reference,
)
from consensus.ledger.events import Frozen, TxEvent
from consensus.ledger.records import Account, AccountStatus, Balance, Participant, Role
from consensus.ledger.rules.policy import require_named
from consensus.ledger.rules.tokens import (
    require_account_by_id,
    require_instrument,
    validate_holds,
)
from consensus.ledger.txs import Freeze


def validate_freeze_authority(ctx: TxContext, authority: Participant, account_id: str) -> None:
    """The account's bank or a regulator; for a settlement account, the settlement agent must
    sign (as submitter, or co-signing a regulator's order)."""
    keeper_id = account_id.partition("/")[0]
    keeper = ctx.view.get_participant(keeper_id)
    if (
        keeper is not None
        and keeper.has_role(Role.SETTLEMENT_AGENT)
        and not is_signed_by(keeper.keys, keeper.threshold, ctx.signers)
    ):
        raise InvalidTransaction(
            Code.FREEZE_NOT_PERMITTED,
            f"{account_id} is a settlement account: {keeper_id} must sign its freeze",
        )
    if authority.participant_id != keeper_id and not authority.has_role(Role.REGULATOR):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, "only the account's bank or a regulator freezes"
        )


def compute_order(ctx: TxContext, body: Freeze, book: FreezeBook, account: Account) -> FreezeOrder:
    """This authority's order after ``body``: its flag, and its amount for the instrument."""
    authority = ctx.tx.submitter
    previous = book.get_order(authority)
    amounts = dict(previous.amounts) if previous is not None else {}
    if body.instrument_id is not None:
        validate_holds(account, require_instrument(ctx.view, body.instrument_id))
        if body.amount:
            amounts[body.instrument_id] = body.amount
        else:
            amounts.pop(body.instrument_id, None)
    if len(amounts) > FREEZE_INSTRUMENTS_MAX:
        raise InvalidTransaction(
            Code.LIMIT_EXCEEDED, f"at most {FREEZE_INSTRUMENTS_MAX} frozen balances per order"
        )
    pairs = tuple(sorted(amounts.items()))
    return FreezeOrder(authority, body.account_frozen, pairs, body.legal_basis_ref)


def apply_freeze(ctx: TxContext, body: Freeze) -> tuple[TxEvent, ...]:
    authority = require_participant(ctx)
    view, account_id = ctx.view, body.account_id
    validate_freeze_authority(ctx, authority, account_id)
    require_named(view.get_policy_book().freezers, authority.participant_id, "freeze")
    if not is_real_reference(body.legal_basis_ref):
        raise InvalidTransaction(
            Code.LEGAL_BASIS_REQUIRED, "a legal basis names a real reference, not blanks"
        )
    account = require_account_by_id(view, account_id)
    if account.status is AccountStatus.CLOSED and (body.account_frozen or body.amount):
        raise InvalidTransaction(Code.ACCOUNT_CLOSED, f"{account_id} is closed")
    book = view.get_freeze_book(account_id)
    new_book = book.with_order(compute_order(ctx, body, book, account))
    if body.instrument_id is not None:
        balance = view.get_balance(account_id, body.instrument_id)
        frozen = new_book.frozen_amount(body.instrument_id)
        # Orders stack, but free = total - frozen - held must stay >= 0.
        if frozen > balance.total - balance.held:
            raise InvalidTransaction(
                Code.INSUFFICIENT_FREE_BALANCE, "cannot freeze more than is held"
            )
        updated = Balance(balance.total, frozen, balance.held)
        view.put_balance(account_id, body.instrument_id, balance, updated)
    view.put_freeze_book(account_id, new_book)
    # Read again: a balance put above may have changed the account's balance count.
    current = view.get_account(account_id)
    assert current is not None, "the account was read above"
    view.put_account(replace(current, frozen=new_book.account_frozen))
    return (
        Frozen(
            account_id,
            authority.participant_id,
            body.account_frozen,
            body.instrument_id,
            body.amount,
            body.legal_basis_ref,
        ),
    )

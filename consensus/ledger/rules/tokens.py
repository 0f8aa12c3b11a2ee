"""Rules for token movements: MINT, REDEEM, TRANSFER (same-bank and cross-bank).

Every rule checks everything first and stages writes last; if it raises ``InvalidTransaction``
the view drops the stage anyway. TRANSFER is the hot path (see node/bench/ledger.py): keep it lean.
"""

from __future__ import annotations

from consensus.ledger.auth import TxContext, require_account, require_participant
from consensus.ledger.codes import AMOUNT_MAX, Code, InvalidTransaction
from consensus.ledger.controls import is_real_reference
from consensus.ledger.events import InterbankSettled, Minted, Redeemed, Transferred, TxEvent
from consensus.ledger.pauses import check_not_paused
from consensus.ledger.records import (
    Account,
    AccountStatus,
    Balance,
    Instrument,
    InstrumentKind,
)
from consensus.ledger.rules.limits import check_balance_cap, check_payment, travel_events
from consensus.ledger.state import balance_key
from consensus.ledger.txs import Mint, Redeem, Transfer, TxType
from consensus.ledger.view import BlockView


def require_instrument(view: BlockView, instrument_id: str) -> Instrument:
    """The instrument, or InvalidTransaction(UNKNOWN_INSTRUMENT)."""
    instrument = view.get_instrument(instrument_id)
    if instrument is None:
        raise InvalidTransaction(Code.UNKNOWN_INSTRUMENT, f"no instrument {instrument_id}")
    return instrument


def require_account_by_id(view: BlockView, account_id: str) -> Account:
    """The account, or InvalidTransaction(UNKNOWN_ACCOUNT) (``auth.require_account`` is the
    submitter's own)."""
    account = view.get_account(account_id)
    if account is None:
        raise InvalidTransaction(Code.UNKNOWN_ACCOUNT, f"no account {account_id}")
    return account


def validate_eligible(account: Account, time_ms: int) -> None:
    """An account may send or receive: open, not frozen, KYC valid at block time."""
    if account.status is not AccountStatus.ACTIVE:
        raise InvalidTransaction(Code.ACCOUNT_CLOSED, f"{account.account_id} is closed")
    if account.frozen:
        raise InvalidTransaction(Code.ACCOUNT_FROZEN, f"{account.account_id} is frozen")
    if account.kyc_expiry_ms <= time_ms:
        raise InvalidTransaction(Code.KYC_EXPIRED, f"{account.account_id}: KYC expired")


def validate_holds(account: Account, instrument: Instrument) -> None:
    """Accounts hold only instruments issued by the bank that keeps them."""
    if account.bank != instrument.spec.issuer:
        raise InvalidTransaction(
            Code.INSTRUMENT_MISMATCH,
            f"{account.account_id} cannot hold {instrument.spec.instrument_id}",
        )


def debit(balance: Balance, amount: int) -> Balance:
    if amount > balance.total - balance.frozen - balance.held:
        raise InvalidTransaction(Code.INSUFFICIENT_FREE_BALANCE, f"free balance below {amount}")
    return Balance(balance.total - amount, balance.frozen, balance.held)


def credit(balance: Balance, amount: int) -> Balance:
    if balance.total + amount > AMOUNT_MAX:
        raise InvalidTransaction(Code.LIMIT_EXCEEDED, "balance would overflow")
    return Balance(balance.total + amount, balance.frozen, balance.held)


def with_supply(instrument: Instrument, minted: int = 0, redeemed: int = 0) -> Instrument:
    """The instrument with its outstanding supply moved; the cap binds what is outstanding."""
    supply = instrument.supply + minted - redeemed
    if supply > AMOUNT_MAX:
        raise InvalidTransaction(Code.LIMIT_EXCEEDED, "supply would overflow")
    assert supply >= 0, "redeemed only from balances, which sum to the supply"
    return Instrument(instrument.spec, supply)


def validate_issuer_active(view: BlockView, instrument: Instrument) -> None:
    """A suspended bank's token is not minted any more, by MINT or by a payment to it."""
    issuer = view.get_participant(instrument.spec.issuer)
    if issuer is None or not issuer.is_active:
        raise InvalidTransaction(
            Code.ISSUER_SUSPENDED, f"{instrument.spec.issuer} is suspended: no new tokens"
        )


def apply_mint(ctx: TxContext, body: Mint) -> tuple[TxEvent, ...]:
    issuer = require_participant(ctx)
    view = ctx.view
    instrument = require_instrument(view, body.instrument_id)
    if instrument.spec.issuer != issuer.participant_id:
        raise InvalidTransaction(Code.NOT_AUTHORIZED, f"only {instrument.spec.issuer} mints it")
    validate_issuer_active(view, instrument)
    check_not_paused(view.get_pause_book(), (body.instrument_id,), (issuer.participant_id,))
    account = require_account_by_id(view, body.account_id)
    validate_holds(account, instrument)
    validate_eligible(account, ctx.time_ms)
    if view.is_funding_ref_used(issuer.participant_id, body.funding_ref):
        raise InvalidTransaction(
            Code.DUPLICATE_FUNDING_REF, f"{body.funding_ref!r} already funded a mint"
        )
    old = view.get_balance(body.account_id, body.instrument_id)
    balance = credit(old, body.amount)
    check_balance_cap(view, account, body.instrument_id, body.amount, None)
    view.put_instrument(with_supply(instrument, minted=body.amount))
    view.put_balance(body.account_id, body.instrument_id, old, balance)
    view.put_funding_ref(issuer.participant_id, body.funding_ref, ctx.height)
    return (Minted(body.account_id, body.instrument_id, body.amount, body.funding_ref),)


def apply_redeem(ctx: TxContext, body: Redeem) -> tuple[TxEvent, ...]:
    view = ctx.view
    instrument = require_instrument(view, body.instrument_id)
    account = require_account_by_id(view, body.account_id)
    validate_holds(account, instrument)
    if ctx.tx.submitter == instrument.spec.issuer and ctx.tx.submitter != body.account_id:
        # The issuer may redeem on a customer's behalf only under a legal basis (court order,
        # account closure...); it can still take only the free balance.
        if body.legal_basis_ref is None or not is_real_reference(body.legal_basis_ref):
            raise InvalidTransaction(
                Code.LEGAL_BASIS_REQUIRED, "issuer redemption needs a legal basis"
            )
    elif ctx.tx.submitter != body.account_id:
        raise InvalidTransaction(Code.NOT_AUTHORIZED, "only the holder or the issuer redeems")
    check_not_paused(view.get_pause_book(), (body.instrument_id,), (account.bank,))
    # Nor the issuer: paying out a frozen account would defeat another authority's freeze.
    if account.frozen:
        raise InvalidTransaction(Code.ACCOUNT_FROZEN, f"{account.account_id} is frozen")
    old = view.get_balance(body.account_id, body.instrument_id)
    balance = debit(old, body.amount)
    view.put_instrument(with_supply(instrument, redeemed=body.amount))
    view.put_balance(body.account_id, body.instrument_id, old, balance)
    return (Redeemed(body.account_id, body.instrument_id, body.amount, body.payout_ref),)


def apply_transfer(ctx: TxContext, body: Transfer) -> tuple[TxEvent, ...]:
    payer = require_account(ctx)
    view, time_ms = ctx.view, ctx.time_ms
    if body.to_account == payer.account_id:
        raise InvalidTransaction(Code.INVALID_ARGUMENT, "transfer to self")
    instrument = require_instrument(view, body.instrument_id)
    validate_holds(payer, instrument)
    validate_eligible(payer, time_ms)
    payee = require_account_by_id(view, body.to_account)
    validate_eligible(payee, time_ms)
    pauses = view.get_pause_book()
    if pauses.orders:  # the common case reads one cached key and goes on
        check_not_paused(pauses, (body.instrument_id,), (payer.bank, payee.bank))
    payer_at = balance_key(payer.account_id, body.instrument_id)
    payer_old = view.get_balance_at(payer_at)
    payer_new = debit(payer_old, body.amount)
    iid, travel = body.instrument_id, body.travel
    if not view.get_policy_book().is_empty:
        received = iid if payee.bank == payer.bank else f"{payee.bank}:{instrument.spec.currency}"
        check_payment(
            view, time_ms, payer, payee, (iid, received), body.amount, travel, settles=True
        )
    if payee.bank != payer.bank:
        events = apply_cross_bank(ctx, body.amount, payer, payee, instrument, payer_old, payer_new)
        return events if travel is None else (*events, *travel_events_of(payer, payee, body))
    payee_at = balance_key(payee.account_id, body.instrument_id)
    payee_old = view.get_balance_at(payee_at)
    payee_new = credit(payee_old, body.amount)
    view.put_balance_at(payer_at, payer.account_id, payer_old, payer_new)
    view.put_balance_at(payee_at, payee.account_id, payee_old, payee_new)
    moved = Transferred(payer.account_id, payee.account_id, iid, iid, body.amount, False)
    return (moved,) if travel is None else (moved, *travel_events_of(payer, payee, body))


def travel_events_of(payer: Account, payee: Account, body: Transfer) -> tuple[TxEvent, ...]:
    return travel_events(payer.account_id, payee.account_id, body.amount, body.travel)


def apply_cross_bank(
    ctx: TxContext,
    amount: int,
    payer: Account,
    payee: Account,
    token: Instrument,
    payer_old: Balance,
    payer_new: Balance,
) -> tuple[TxEvent, ...]:
    """Burn the payer bank's token, move the settlement asset between the banks' settlement
    accounts, mint the payee bank's token: at par, same currency, all or nothing. Used by
    TRANSFER, HOLD_EXECUTE and FORCED_TRANSFER (which have checked the payer side)."""
    view = ctx.view
    spec = token.spec
    if spec.kind is not InstrumentKind.DEPOSIT_TOKEN or spec.settlement_asset is None:
        raise InvalidTransaction(Code.INSTRUMENT_MISMATCH, "only deposit tokens move across banks")
    payee_token = require_instrument(view, f"{payee.bank}:{spec.currency}")
    if payee_token.spec.settlement_asset != spec.settlement_asset:
        raise InvalidTransaction(Code.INSTRUMENT_MISMATCH, "the banks settle in different assets")
    validate_issuer_active(view, payee_token)
    asset = require_instrument(view, spec.settlement_asset)
    agent = asset.spec.issuer
    pauses = view.get_pause_book()
    if pauses.orders and ctx.tx.tx_type is not TxType.FORCED_TRANSFER:
        check_not_paused(
            pauses, (payee_token.spec.instrument_id, asset.spec.instrument_id), (agent,)
        )
    source = require_account_by_id(view, f"{agent}/{payer.bank}")
    target = require_account_by_id(view, f"{agent}/{payee.bank}")
    validate_eligible(source, ctx.time_ms)
    validate_eligible(target, ctx.time_ms)
    asset_id, payee_id = asset.spec.instrument_id, payee_token.spec.instrument_id
    source_at = balance_key(source.account_id, asset_id)  # each key built once: read, then put
    target_at = balance_key(target.account_id, asset_id)
    payee_at = balance_key(payee.account_id, payee_id)
    source_old = view.get_balance_at(source_at)
    target_old = view.get_balance_at(target_at)
    payee_old = view.get_balance_at(payee_at)
    if amount > source_old.free:
        raise InvalidTransaction(
            Code.INSUFFICIENT_SETTLEMENT_BALANCE, f"{payer.bank} holds too little {asset_id}"
        )
    source_new, target_new = debit(source_old, amount), credit(target_old, amount)
    payee_new = credit(payee_old, amount)
    burned = with_supply(token, redeemed=amount)
    minted = with_supply(payee_token, minted=amount)
    view.put_balance(payer.account_id, spec.instrument_id, payer_old, payer_new)
    view.put_instrument(burned)
    view.put_balance_at(source_at, source.account_id, source_old, source_new)
    view.put_balance_at(target_at, target.account_id, target_old, target_new)
    view.put_instrument(minted)
    view.put_balance_at(payee_at, payee.account_id, payee_old, payee_new)
    return (
        Transferred(payer.account_id, payee.account_id, spec.instrument_id, payee_id, amount, True),
        InterbankSettled(asset_id, payer.bank, payee.bank, amount),
    )

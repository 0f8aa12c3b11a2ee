"""Rules for the administrative transactions: instruments and accounts (participants and
validators: ``governance.py``, ``validators.py``). Each ``apply_*`` validates, stages writes on
the view and returns the tx's events; it raises ``InvalidTransaction`` on any broken rule (the
view then drops whatever was staged).
"""

from __future__ import annotations

from dataclasses import replace

from consensus.ledger.auth import (
    TxContext,
    is_signed_by,
    require_participant,
    validate_governance,
)
from consensus.ledger.codes import Code, InvalidTransaction
from consensus.ledger.events import (
    AccountClosed,
    AccountOpened,
    AccountRecoveryProposed,
    AccountUpdated,
    InstrumentRegistered,
    TxEvent,
)
from consensus.ledger.records import (
    Account,
    AccountStatus,
    Instrument,
    InstrumentKind,
    Role,
    account_bank,
)
from consensus.ledger.rules.recovery import authorize_key_change
from consensus.ledger.txs import AccountOpen, AccountUpdate, InstrumentRegister
from consensus.ledger.view import BlockView


def apply_instrument_register(ctx: TxContext, body: InstrumentRegister) -> tuple[TxEvent, ...]:
    validate_governance(ctx)
    spec, view = body.spec, ctx.view
    issuer = view.get_participant(spec.issuer)
    if issuer is None or not issuer.is_active:
        raise InvalidTransaction(
            Code.UNKNOWN_PARTICIPANT, f"issuer {spec.issuer} unknown or inactive"
        )
    if not is_signed_by(issuer.keys, issuer.threshold, ctx.signers):
        raise InvalidTransaction(Code.NOT_AUTHORIZED, f"issuer {spec.issuer} did not sign")
    if view.get_instrument(spec.instrument_id) is not None:
        raise InvalidTransaction(Code.INSTRUMENT_EXISTS, f"{spec.instrument_id} exists")
    if spec.kind is InstrumentKind.SETTLEMENT_ASSET:
        if not issuer.has_role(Role.SETTLEMENT_AGENT):
            raise InvalidTransaction(
                Code.INVALID_ARGUMENT, "settlement assets are issued by an agent"
            )
    else:
        if not issuer.has_role(Role.BANK):
            raise InvalidTransaction(Code.INVALID_ARGUMENT, "deposit tokens are issued by a bank")
        asset = view.get_instrument(spec.settlement_asset or "")
        if asset is None or asset.spec.kind is not InstrumentKind.SETTLEMENT_ASSET:
            raise InvalidTransaction(
                Code.UNKNOWN_INSTRUMENT, f"no settlement asset {spec.settlement_asset}"
            )
        if asset.spec.currency != spec.currency:
            raise InvalidTransaction(
                Code.INSTRUMENT_MISMATCH, "settlement asset of another currency"
            )
        # At par across banks means unit for unit: other decimals would create value.
        if asset.spec.decimals != spec.decimals:
            raise InvalidTransaction(
                Code.DECIMALS_MISMATCH,
                f"{spec.instrument_id} has {spec.decimals} decimals, "
                f"{asset.spec.instrument_id} {asset.spec.decimals}",
            )
    view.put_instrument(Instrument(spec, 0))
    return (InstrumentRegistered(spec.instrument_id),)


def _require_account_bank(ctx: TxContext, account_id: str) -> None:
    bank = require_participant(ctx)
    if bank.participant_id != account_bank(account_id):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, f"only {account_bank(account_id)} keeps {account_id}"
        )
    if not (bank.has_role(Role.BANK) or bank.has_role(Role.SETTLEMENT_AGENT)):
        raise InvalidTransaction(
            Code.NOT_AUTHORIZED, "only banks and settlement agents keep accounts"
        )


def apply_account_open(ctx: TxContext, body: AccountOpen) -> tuple[TxEvent, ...]:
    _require_account_bank(ctx, body.account_id)
    if ctx.view.get_account(body.account_id) is not None:
        raise InvalidTransaction(Code.ACCOUNT_EXISTS, f"{body.account_id} exists")
    if body.kyc_expiry_ms <= ctx.time_ms:
        raise InvalidTransaction(Code.KYC_EXPIRED, "KYC already expired")
    account = Account(
        account_id=body.account_id,
        status=AccountStatus.ACTIVE,
        keys=body.keys,
        threshold=body.threshold,
        kyc_ref_hash=body.kyc_ref_hash,
        kyc_expiry_ms=body.kyc_expiry_ms,
        frozen=False,
        balance_count=0,
    )
    ctx.view.put_account(account)
    return (AccountOpened(body.account_id),)


def apply_account_update(ctx: TxContext, body: AccountUpdate) -> tuple[TxEvent, ...]:
    _require_account_bank(ctx, body.account_id)
    account = ctx.view.get_account(body.account_id)
    if account is None:
        raise InvalidTransaction(Code.UNKNOWN_ACCOUNT, f"no account {body.account_id}")
    if account.status is AccountStatus.CLOSED:
        raise InvalidTransaction(Code.ACCOUNT_CLOSED, f"{body.account_id} is closed")
    if body.keys is None and body.kyc_ref_hash is None and not body.close:
        raise InvalidTransaction(Code.INVALID_ARGUMENT, "nothing to update")
    if body.kyc_expiry_ms is not None and body.kyc_expiry_ms <= ctx.time_ms:
        raise InvalidTransaction(Code.KYC_EXPIRED, "new KYC already expired")
    if body.close:
        validate_closable(ctx.view, account)
    events: list[TxEvent] = [AccountUpdated(body.account_id)]
    keys, threshold = account.keys, account.threshold
    if body.keys is not None and body.threshold is not None:
        key_event = authorize_key_change(ctx, account, body)
        if isinstance(key_event, AccountRecoveryProposed):
            return (key_event,)  # nothing of the update applies before the recovery does
        keys, threshold = body.keys, body.threshold
        events.append(key_event)
    kyc, expiry = account.kyc_ref_hash, account.kyc_expiry_ms
    if body.kyc_ref_hash is not None and body.kyc_expiry_ms is not None:
        kyc, expiry = body.kyc_ref_hash, body.kyc_expiry_ms
    status = AccountStatus.CLOSED if body.close else account.status
    if body.close:
        events.append(AccountClosed(body.account_id))
    ctx.view.put_account(
        replace(
            account,
            status=status,
            keys=keys,
            threshold=threshold,
            kyc_ref_hash=kyc,
            kyc_expiry_ms=expiry,
        )
    )
    return tuple(events)


def validate_closable(view: BlockView, account: Account) -> None:
    """An account closes only empty; a settlement account (``<AGENT>/<BANK>``) only once its
    bank is no longer active, since the interbank leg of that bank needs it (ids are never
    reused)."""
    if account.balance_count:
        raise InvalidTransaction(
            Code.BALANCE_NOT_ZERO, f"{account.account_id} still holds balances"
        )
    keeper = view.get_participant(account.bank)
    if keeper is None or not keeper.has_role(Role.SETTLEMENT_AGENT):
        return
    owner = view.get_participant(account.account_id.partition("/")[2])
    if owner is not None and owner.is_active and owner.has_role(Role.BANK):
        raise InvalidTransaction(
            Code.SETTLEMENT_ACCOUNT_IN_USE,
            f"{account.account_id} settles {owner.participant_id}, an active bank",
        )

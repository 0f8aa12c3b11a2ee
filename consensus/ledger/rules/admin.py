"""Rules for the administrative transactions: participants (and so validators), instruments,
accounts. Each ``apply_*`` validates, stages writes on the view and returns the tx's events;
it raises ``InvalidTransaction`` on any broken rule (the view then drops whatever was
staged).
"""

from __future__ import annotations

from dataclasses import replace

from consensus.ledger.auth import (
    TxContext,
    get_active_banks,
    is_signed_by,
    require_participant,
    validate_governance,
)
from consensus.ledger.codes import (
    GOVERNED_VALIDATORS_MAX,
    PARTICIPANTS_MAX,
    Code,
    InvalidTransaction,
)
from consensus.ledger.events import (
    AccountClosed,
    AccountKeysRecovered,
    AccountOpened,
    AccountUpdated,
    InstrumentRegistered,
    ParticipantUpserted,
    TxEvent,
)
from consensus.ledger.records import (
    Account,
    AccountStatus,
    Instrument,
    InstrumentKind,
    Role,
    ValidatorPowers,
    ValidatorSchedule,
    account_bank,
)
from consensus.ledger.txs import AccountOpen, AccountUpdate, InstrumentRegister, ParticipantUpsert
from consensus.ledger.view import BlockView
from consensus.types import PublicKey

VALIDATOR_DELAY_HEIGHTS = 2
"""A validator-set change made at height H signs from H + 2 (the next header already commits
to the set for H + 1)."""


def apply_participant_upsert(ctx: TxContext, body: ParticipantUpsert) -> tuple[TxEvent, ...]:
    validate_governance(ctx)
    view = ctx.view
    participant = body.participant
    created = view.get_participant(participant.participant_id) is None
    if created and len(view.get_participant_ids()) >= PARTICIPANTS_MAX:
        raise InvalidTransaction(Code.LIMIT_EXCEEDED, f"at most {PARTICIPANTS_MAX} participants")
    view.put_participant(participant)
    if len(get_active_banks(view)) < view.get_config().governance_threshold:
        raise InvalidTransaction(
            Code.GOVERNANCE_UNREACHABLE, "too few active banks left for governance"
        )
    apply_validator_set_change(view, ctx.height, compute_validator_set(view))
    return (ParticipantUpserted(participant.participant_id, created),)


def compute_validator_set(view: BlockView) -> ValidatorPowers:
    """Active participants with the validator role, a consensus key and power > 0."""
    pairs: dict[PublicKey, int] = {}
    for participant_id in view.get_participant_ids():
        p = view.get_participant(participant_id)
        if p is None or not p.is_active or not p.has_role(Role.VALIDATOR):
            continue
        if p.validator_key is None or p.validator_power == 0:
            continue
        if p.validator_key in pairs:
            raise InvalidTransaction(
                Code.VALIDATOR_SET_INVALID, "two validators share a consensus key"
            )
        pairs[p.validator_key] = p.validator_power
    return tuple(sorted(pairs.items()))


def validate_validator_set(validators: ValidatorPowers) -> None:
    """Refuse a set that could never reach quorum (empty, no power) or is too large."""
    if not validators or sum(power for _, power in validators) <= 0:
        raise InvalidTransaction(Code.VALIDATOR_SET_INVALID, "the validator set would be empty")
    if len(validators) > GOVERNED_VALIDATORS_MAX:
        raise InvalidTransaction(
            Code.VALIDATOR_SET_INVALID, f"at most {GOVERNED_VALIDATORS_MAX} validators"
        )


def apply_validator_set_change(view: BlockView, height: int, validators: ValidatorPowers) -> None:
    """Schedule ``validators`` from height + 2 if they differ from the set known for then."""
    validate_validator_set(validators)
    schedule = view.get_schedule()
    effective = height + VALIDATOR_DELAY_HEIGHTS
    if select_validators(schedule, effective) == validators:
        return
    # Keep the newest entry in force at ``height`` itself, and anything later: a node that
    # restarts after this block needs the set that signed it to check its certificate.
    entries = [(h, vset) for h, vset in schedule.entries if h < effective]
    in_force = [i for i, (h, _) in enumerate(entries) if h <= height]
    kept = entries[in_force[-1] :] if in_force else entries
    view.put_schedule(ValidatorSchedule((*kept, (effective, validators))))


def select_validators(schedule: ValidatorSchedule, height: int) -> ValidatorPowers | None:
    chosen = None
    for from_height, validators in schedule.entries:
        if from_height <= height:
            chosen = validators
    return chosen


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
    view.put_instrument(Instrument(spec, 0, 0))
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
    if body.close and account.balance_count:
        raise InvalidTransaction(Code.BALANCE_NOT_ZERO, f"{body.account_id} still holds balances")
    events: list[TxEvent] = [AccountUpdated(body.account_id)]
    keys, threshold = account.keys, account.threshold
    if body.keys is not None and body.threshold is not None:
        keys, threshold = body.keys, body.threshold
        events.append(AccountKeysRecovered(body.account_id))
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

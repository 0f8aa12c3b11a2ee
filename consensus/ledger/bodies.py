"""Transaction bodies: one frozen dataclass per core transaction type, with its wire format.

A body says what a transaction does; the envelope (``txs.UnsignedTx``) says who, when and how
often. ``from_wire`` is strict and raises only ``CodecError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger.codes import AMOUNT_MAX, HOLDS_PER_EXECUTE_MAX
from consensus.ledger.controls import GovernanceParams
from consensus.ledger.holds import HoldRef, HoldTerms, validate_hold_id
from consensus.ledger.pauses import PauseScope, read_pause_scope, validate_pause_target
from consensus.ledger.policies import TravelRecord
from consensus.ledger.policy_bodies import HoldApprove as HoldApprove
from consensus.ledger.policy_bodies import PolicySet as PolicySet
from consensus.ledger.records import (
    InstrumentSpec,
    Participant,
    validate_account_id,
    validate_amount,
    validate_instrument_id,
    validate_keyset,
    validate_participant_id,
    validate_ref,
)
from consensus.ledger.txtypes import TxType as TxType
from consensus.slots import slot_setters
from consensus.types import HASH_LEN, PublicKey


@dataclass(frozen=True, slots=True)
class ParticipantUpsert:
    """Governance: add or replace a participant (roles, keys, status, validator power)."""

    TYPE: ClassVar[TxType] = TxType.PARTICIPANT_UPSERT
    participant: Participant

    def to_wire(self) -> list[Value]:
        return self.participant.to_wire()

    @classmethod
    def from_wire(cls, value: Value) -> ParticipantUpsert:
        return cls(Participant.from_wire(value))


@dataclass(frozen=True, slots=True)
class InstrumentRegister:
    """Governance plus issuer: register a deposit token or settlement asset."""

    TYPE: ClassVar[TxType] = TxType.INSTRUMENT_REGISTER
    spec: InstrumentSpec

    def to_wire(self) -> list[Value]:
        return self.spec.to_wire()

    @classmethod
    def from_wire(cls, value: Value) -> InstrumentRegister:
        return cls(InstrumentSpec.from_wire(value))


@dataclass(frozen=True, slots=True)
class AccountOpen:
    """The bank opens an account ``<BANK>/<local>`` for an owner with M-of-N keys."""

    TYPE: ClassVar[TxType] = TxType.ACCOUNT_OPEN
    account_id: str
    keys: tuple[PublicKey, ...]
    threshold: int
    kyc_ref_hash: bytes
    kyc_expiry_ms: int

    def to_wire(self) -> list[Value]:
        return [
            self.account_id,
            list(self.keys),
            self.threshold,
            self.kyc_ref_hash,
            self.kyc_expiry_ms,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> AccountOpen:
        aid, keys, threshold, kyc, expiry = codec.expect_fields(value, "account_open", 5)
        keyset, checked = validate_keyset(keys, threshold)
        return cls(
            validate_account_id(aid),
            keyset,
            checked,
            codec.expect_bytes(kyc, "kyc_ref_hash", HASH_LEN),
            codec.expect_uint(expiry, "kyc_expiry_ms", AMOUNT_MAX),
        )


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """The bank changes an account: its owner keys, its KYC, or closing it."""

    TYPE: ClassVar[TxType] = TxType.ACCOUNT_UPDATE
    account_id: str
    keys: tuple[PublicKey, ...] | None
    """New owner keys; None keeps them. Signed by the owner's current keys too, a rotation;
    otherwise a recovery (``recovery_ref``, and a second authority or a delay)."""
    threshold: int | None
    kyc_ref_hash: bytes | None
    kyc_expiry_ms: int | None
    close: bool
    recovery_ref: str | None = None
    """Why the bank replaces the keys without the owner (its case reference); only with keys."""

    def to_wire(self) -> list[Value]:
        keys = None if self.keys is None else list(self.keys)
        return [
            self.account_id,
            keys,
            self.threshold,
            self.kyc_ref_hash,
            self.kyc_expiry_ms,
            self.close,
            self.recovery_ref,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> AccountUpdate:
        aid, keys, threshold, kyc, expiry, close, ref = codec.expect_fields(
            value, "account_update", 7
        )
        if (keys is None) != (threshold is None) or (kyc is None) != (expiry is None):
            raise CodecError("account_update: keys with threshold, kyc hash with expiry")
        if ref is not None and keys is None:
            raise CodecError("account_update: a recovery reference only with new keys")
        keyset: tuple[PublicKey, ...] | None = None
        checked: int | None = None
        if keys is not None:
            keyset, checked = validate_keyset(keys, threshold)
        return cls(
            validate_account_id(aid),
            keyset,
            checked,
            codec.expect_optional(kyc, lambda v: codec.expect_bytes(v, "kyc", HASH_LEN)),
            codec.expect_optional(expiry, lambda v: codec.expect_uint(v, "expiry", AMOUNT_MAX)),
            codec.expect_bool(close, "close"),
            codec.expect_optional(ref, lambda v: validate_ref(v, "recovery_ref", 1)),
        )


@dataclass(frozen=True, slots=True)
class AccountRecoveryCancel:
    """The account itself (its current keys) cancels a pending key recovery of it."""

    TYPE: ClassVar[TxType] = TxType.ACCOUNT_RECOVERY_CANCEL
    account_id: str

    def to_wire(self) -> list[Value]:
        return [self.account_id]

    @classmethod
    def from_wire(cls, value: Value) -> AccountRecoveryCancel:
        (aid,) = codec.expect_fields(value, "account_recovery_cancel", 1)
        return cls(validate_account_id(aid))


@dataclass(frozen=True, slots=True)
class Mint:
    """The issuer credits new tokens against a core-banking debit (``funding_ref``)."""

    TYPE: ClassVar[TxType] = TxType.MINT
    account_id: str
    instrument_id: str
    amount: int
    funding_ref: str

    def to_wire(self) -> list[Value]:
        return [self.account_id, self.instrument_id, self.amount, self.funding_ref]

    @classmethod
    def from_wire(cls, value: Value) -> Mint:
        aid, iid, amount, ref = codec.expect_fields(value, "mint", 4)
        return cls(
            validate_account_id(aid),
            validate_instrument_id(iid),
            validate_amount(amount),
            validate_ref(ref, "funding_ref", 1),
        )


@dataclass(frozen=True, slots=True)
class Redeem:
    """Burn tokens from free balance; the bank pays out to ``payout_ref`` off-chain.

    Signed by the holder, or by the issuer with a ``legal_basis_ref``."""

    TYPE: ClassVar[TxType] = TxType.REDEEM
    account_id: str
    instrument_id: str
    amount: int
    payout_ref: str
    legal_basis_ref: str | None

    def to_wire(self) -> list[Value]:
        return [
            self.account_id,
            self.instrument_id,
            self.amount,
            self.payout_ref,
            self.legal_basis_ref,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> Redeem:
        aid, iid, amount, payout, legal = codec.expect_fields(value, "redeem", 5)
        return cls(
            validate_account_id(aid),
            validate_instrument_id(iid),
            validate_amount(amount),
            validate_ref(payout, "payout_ref", 1),
            codec.expect_optional(legal, lambda v: validate_ref(v, "legal_basis_ref", 1)),
        )


@dataclass(frozen=True, slots=True)
class Transfer:
    """Pay from the submitting account. Cross-bank when the payee is kept by another bank."""

    TYPE: ClassVar[TxType] = TxType.TRANSFER
    to_account: str
    instrument_id: str
    """The payer's instrument (its bank's token); the payee receives its own bank's token."""
    amount: int
    travel: TravelRecord | None = None
    """The travel-rule record: needed at or above the policy threshold, optional below."""

    def to_wire(self) -> list[Value]:
        if self.travel is None:  # the short form: one encoding per value
            return [self.to_account, self.instrument_id, self.amount]
        return [self.to_account, self.instrument_id, self.amount, self.travel.to_wire()]

    @classmethod
    def from_wire(cls, value: Value) -> Transfer:
        if type(value) is not list or len(value) not in (3, 4):
            raise CodecError("transfer: expected 3 fields, or 4 with a travel-rule record")
        to, iid, amount = value[:3]
        travel = TravelRecord.from_wire(value[3]) if len(value) == 4 else None
        # Transfer(...), built slot by slot (consensus/slots.py: why, and why safe); the
        # readers run in the order the constructor's arguments did.
        body = Transfer.__new__(Transfer)
        _SET_TRANSFER_TO(body, validate_account_id(to))
        _SET_TRANSFER_INSTRUMENT(body, validate_instrument_id(iid))
        _SET_TRANSFER_AMOUNT(body, validate_amount(amount))
        _SET_TRANSFER_TRAVEL(body, travel)
        return body


(
    _SET_TRANSFER_TO,
    _SET_TRANSFER_INSTRUMENT,
    _SET_TRANSFER_AMOUNT,
    _SET_TRANSFER_TRAVEL,
) = slot_setters(Transfer, "to_account", "instrument_id", "amount", "travel")


@dataclass(frozen=True, slots=True)
class Freeze:
    """Set an account's freeze state (overwrite: this order replaces any earlier one).

    ``account_frozen`` sets the account flag; with ``instrument_id`` the frozen amount of that
    balance is set to ``amount`` (without it ``amount`` must be 0). Balances never change."""

    TYPE: ClassVar[TxType] = TxType.FREEZE
    account_id: str
    account_frozen: bool
    instrument_id: str | None
    amount: int
    legal_basis_ref: str

    def to_wire(self) -> list[Value]:
        return [
            self.account_id,
            self.account_frozen,
            self.instrument_id,
            self.amount,
            self.legal_basis_ref,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> Freeze:
        aid, flag, iid, amount, legal = codec.expect_fields(value, "freeze", 5)
        body = cls(
            validate_account_id(aid),
            codec.expect_bool(flag, "account_frozen"),
            codec.expect_optional(iid, validate_instrument_id),
            codec.expect_uint(amount, "amount", AMOUNT_MAX),
            validate_ref(legal, "legal_basis_ref", 1),
        )
        if body.instrument_id is None and body.amount:
            raise CodecError("freeze: an amount needs an instrument")
        return body


@dataclass(frozen=True, slots=True)
class GovernanceParamsSet:
    """Governance (under the parameters in force) replaces the governance parameters."""

    TYPE: ClassVar[TxType] = TxType.GOVERNANCE_PARAMS_SET
    params: GovernanceParams

    def to_wire(self) -> list[Value]:
        return self.params.to_wire()

    @classmethod
    def from_wire(cls, value: Value) -> GovernanceParamsSet:
        return cls(GovernanceParams.from_wire(value))


@dataclass(frozen=True, slots=True)
class ParticipantChangeCancel:
    """The participant itself cancels a pending change of its keys, roles or status."""

    TYPE: ClassVar[TxType] = TxType.PARTICIPANT_CHANGE_CANCEL
    participant_id: str

    def to_wire(self) -> list[Value]:
        return [self.participant_id]

    @classmethod
    def from_wire(cls, value: Value) -> ParticipantChangeCancel:
        (pid,) = codec.expect_fields(value, "participant_change_cancel", 1)
        return cls(validate_participant_id(pid))


@dataclass(frozen=True, slots=True)
class Pause:
    """An authority pauses (or lifts its own pause of) the network, an instrument or a
    participant: value stops moving through it; control transactions stay allowed."""

    TYPE: ClassVar[TxType] = TxType.PAUSE
    scope: PauseScope
    target: str
    """"" for the network, else the instrument or participant id."""
    paused: bool
    reason_ref: str

    def to_wire(self) -> list[Value]:
        return [int(self.scope), self.target, self.paused, self.reason_ref]

    @classmethod
    def from_wire(cls, value: Value) -> Pause:
        scope, target, paused, reason = codec.expect_fields(value, "pause", 4)
        checked = read_pause_scope(scope)
        return cls(
            checked,
            validate_pause_target(checked, target),
            codec.expect_bool(paused, "paused"),
            validate_ref(reason, "reason_ref", 1),
        )


@dataclass(frozen=True, slots=True)
class HoldCreate:
    """The submitting account moves ``amount`` from free to held, under ``terms``."""

    TYPE: ClassVar[TxType] = TxType.HOLD_CREATE
    terms: HoldTerms

    def to_wire(self) -> list[Value]:
        return self.terms.to_wire()

    @classmethod
    def from_wire(cls, value: Value) -> HoldCreate:
        return cls(HoldTerms.from_wire(value))


@dataclass(frozen=True, slots=True)
class HoldExecute:
    """Settle every listed hold, all or none (DvP, PvP): each leg pays its payee as a transfer
    would, cross-bank legs through the settlement asset."""

    TYPE: ClassVar[TxType] = TxType.HOLD_EXECUTE
    legs: tuple[HoldRef, ...]
    """1..HOLDS_PER_EXECUTE_MAX holds, sorted by (payer, hold_id), each once."""

    def to_wire(self) -> list[Value]:
        return [leg.to_wire() for leg in self.legs]

    @classmethod
    def from_wire(cls, value: Value) -> HoldExecute:
        legs = codec.expect_list_of(value, "legs", HoldRef.from_wire, HOLDS_PER_EXECUTE_MAX)
        if not legs:
            raise CodecError("hold_execute: at least one hold")
        codec.sorted_unique([(leg.payer, leg.hold_id) for leg in legs], "legs")
        return cls(legs)


@dataclass(frozen=True, slots=True)
class HoldCancel:
    """Release a hold back to its payer's free balance (a refund)."""

    TYPE: ClassVar[TxType] = TxType.HOLD_CANCEL
    payer: str
    hold_id: str

    def to_wire(self) -> list[Value]:
        return [self.payer, self.hold_id]

    @classmethod
    def from_wire(cls, value: Value) -> HoldCancel:
        payer, hid = codec.expect_fields(value, "hold_cancel", 2)
        return cls(validate_account_id(payer, "payer"), validate_hold_id(hid))


@dataclass(frozen=True, slots=True)
class ForcedTransfer:
    """An authority moves funds out of an account under a legal basis, frozen funds included;
    with ``release_hold_id`` that hold of the account is released first, so its funds too."""

    TYPE: ClassVar[TxType] = TxType.FORCED_TRANSFER
    from_account: str
    to_account: str
    instrument_id: str
    amount: int
    legal_basis_ref: str
    release_hold_id: str | None

    def to_wire(self) -> list[Value]:
        return [
            self.from_account,
            self.to_account,
            self.instrument_id,
            self.amount,
            self.legal_basis_ref,
            self.release_hold_id,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> ForcedTransfer:
        src, dst, iid, amount, legal, hold = codec.expect_fields(value, "forced_transfer", 6)
        return cls(
            validate_account_id(src, "from_account"),
            validate_account_id(dst, "to_account"),
            validate_instrument_id(iid),
            validate_amount(amount),
            validate_ref(legal, "legal_basis_ref", 1),
            codec.expect_optional(hold, validate_hold_id),
        )


Body = (
    ParticipantUpsert
    | InstrumentRegister
    | AccountOpen
    | AccountUpdate
    | Mint
    | Redeem
    | Transfer
    | Freeze
    | GovernanceParamsSet
    | ParticipantChangeCancel
    | Pause
    | HoldCreate
    | HoldExecute
    | HoldCancel
    | ForcedTransfer
    | PolicySet
    | HoldApprove
    | AccountRecoveryCancel
)

BODY_TYPES: dict[TxType, type[Body]] = {
    body.TYPE: body
    for body in (
        ParticipantUpsert,
        InstrumentRegister,
        AccountOpen,
        AccountUpdate,
        Mint,
        Redeem,
        Transfer,
        Freeze,
        GovernanceParamsSet,
        ParticipantChangeCancel,
        Pause,
        HoldCreate,
        HoldExecute,
        HoldCancel,
        ForcedTransfer,
        PolicySet,
        HoldApprove,
        AccountRecoveryCancel,
    )
}

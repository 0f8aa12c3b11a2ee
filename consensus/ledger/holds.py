"""Hold records: escrowed funds of one payer, waiting for their conditions or their expiry.

A hold moves an amount of the payer's balance from free to ``held`` (``Balance.held``); the hold
record says who receives it, who may release it and when. Holds are stored under their payer and
id (``state.hold_key``) and kept after they end (status executed or cancelled), so an id is
never reused and an answered hold stays answerable.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger.codes import AMOUNT_MAX, APPROVERS_MAX, PREIMAGE_LEN_MAX
from consensus.ledger.policies import ApprovalRule, TravelRecord
from consensus.ledger.records import (
    validate_account_id,
    validate_amount,
    validate_instrument_id,
    validate_participant_id,
)
from consensus.types import HASH_LEN

HOLD_ID_LEN_MAX = 48
_HOLD_ID = re.compile(rf"[A-Za-z0-9_.\-]{{1,{HOLD_ID_LEN_MAX}}}")


def validate_hold_id(value: Value, name: str = "hold_id") -> str:
    if type(value) is not str or not _HOLD_ID.fullmatch(value):
        raise CodecError(f"{name}: 1..{HOLD_ID_LEN_MAX} chars of [A-Za-z0-9_.-]")
    return value


def validate_executor(value: Value) -> str:
    """Who may execute: a participant id or an account id."""
    if type(value) is not str:
        raise CodecError("executor: expected a str")
    return validate_account_id(value) if "/" in value else validate_participant_id(value)


def validate_hash_lock(value: Value) -> bytes:
    return codec.expect_bytes(value, "hash_lock", HASH_LEN)


def validate_preimage(value: Value) -> bytes:
    return codec.expect_bytes(value, "preimage", max_len=PREIMAGE_LEN_MAX)


class HoldStatus(enum.IntEnum):
    ACTIVE = 1
    EXECUTED = 2
    CANCELLED = 3


@dataclass(frozen=True, slots=True)
class HoldTerms:
    """What HOLD_CREATE declares (the payer is the submitter)."""

    hold_id: str
    payee: str
    instrument_id: str
    """The payer's instrument (its bank's token); a payee at another bank receives its own
    bank's token of the same currency, settled in the settlement asset as a transfer is."""
    amount: int
    not_before_ms: int
    """Block time from which the hold may execute (0: at once)."""
    expiry_ms: int
    """Block time from which the hold no longer executes and anyone may cancel it (refund)."""
    hash_lock: bytes | None
    """sha256 of a preimage the executor must reveal, or None."""
    executor: str | None
    """Participant or account that may execute (and cancel) it; None: the payee."""
    revocable: bool
    """Whether the payer may cancel it before expiry."""
    approval: ApprovalRule | None = None
    """M of these N participants or accounts must approve (HOLD_APPROVE) before it executes."""
    travel: TravelRecord | None = None
    """The payment's travel-rule record (needed at or above the policy threshold)."""

    def to_wire(self) -> list[Value]:
        base: list[Value] = [
            self.hold_id,
            self.payee,
            self.instrument_id,
            self.amount,
            self.not_before_ms,
            self.expiry_ms,
            self.hash_lock,
            self.executor,
            self.revocable,
        ]
        if self.approval is None and self.travel is None:
            return base  # the short form: one encoding per value
        approval = None if self.approval is None else self.approval.to_wire()
        travel = None if self.travel is None else self.travel.to_wire()
        return [*base, approval, travel]

    @classmethod
    def from_wire(cls, value: Value) -> HoldTerms:
        items = codec.expect_list(value, "hold_terms", 11)
        if len(items) not in (9, 11) or (len(items) == 11 and items[9:] == [None, None]):
            raise CodecError("hold_terms: 9 fields, or 11 with approval or travel rule")
        approval, travel = items[9:] if len(items) == 11 else (None, None)
        hid, payee, iid, amount, not_before, expiry, lock, executor, revocable = items[:9]
        terms = cls(
            validate_hold_id(hid),
            validate_account_id(payee, "payee"),
            validate_instrument_id(iid),
            validate_amount(amount),
            codec.expect_uint(not_before, "not_before_ms", AMOUNT_MAX),
            codec.expect_uint(expiry, "expiry_ms", AMOUNT_MAX),
            codec.expect_optional(lock, validate_hash_lock),
            codec.expect_optional(executor, validate_executor),
            codec.expect_bool(revocable, "revocable"),
            codec.expect_optional(approval, lambda v: ApprovalRule.read(v, validate_executor)),
            codec.expect_optional(travel, TravelRecord.from_wire),
        )
        if terms.not_before_ms >= terms.expiry_ms:
            raise CodecError("hold: not_before_ms must be before expiry_ms")
        return terms


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold as stored: its terms, its payer, its status and when it was made."""

    payer: str
    terms: HoldTerms
    status: HoldStatus
    created_height: int
    approvals: tuple[str, ...] = ()
    """Who of the approvers approved so far (sorted)."""

    @property
    def executor(self) -> str:
        return self.terms.executor if self.terms.executor is not None else self.terms.payee

    def to_wire(self) -> list[Value]:
        base = [self.payer, self.terms.to_wire(), int(self.status), self.created_height]
        return [*base, list(self.approvals)] if self.approvals else base

    @classmethod
    def from_wire(cls, value: Value) -> Hold:
        items = codec.expect_list(value, "hold", 5)
        if len(items) not in (4, 5) or (len(items) == 5 and not items[4]):
            raise CodecError("hold: 4 fields, or 5 with approvals")
        payer, terms, status, created = items[:4]
        number = codec.expect_int(status, "status", 1, len(HoldStatus))
        approvals: tuple[str, ...] = ()
        if len(items) == 5:
            approvals = codec.expect_list_of(
                items[4], "approvals", validate_executor, APPROVERS_MAX
            )
            codec.sorted_unique(approvals, "approvals")
        return cls(
            validate_account_id(payer, "payer"),
            HoldTerms.from_wire(terms),
            HoldStatus(number),
            codec.expect_uint(created, "created_height", AMOUNT_MAX),
            approvals,
        )


@dataclass(frozen=True, slots=True)
class HoldRef:
    """One leg of a HOLD_EXECUTE: the hold and, for a hash-locked one, the preimage."""

    payer: str
    hold_id: str
    preimage: bytes | None

    def to_wire(self) -> list[Value]:
        return [self.payer, self.hold_id, self.preimage]

    @classmethod
    def from_wire(cls, value: Value) -> HoldRef:
        payer, hid, preimage = codec.expect_fields(value, "hold_ref", 3)
        return cls(
            validate_account_id(payer, "payer"),
            validate_hold_id(hid),
            codec.expect_optional(preimage, validate_preimage),
        )

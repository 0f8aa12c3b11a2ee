"""Bodies of POLICY_SET and HOLD_APPROVE (the other bodies: ``bodies.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from consensus import codec
from consensus.codec import Value
from consensus.ledger.holds import validate_hold_id
from consensus.ledger.policies import (
    PolicyScope,
    PolicyTerms,
    read_policy_scope,
    validate_policy_target,
)
from consensus.ledger.records import validate_account_id
from consensus.ledger.txtypes import TxType


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The submitter's policy order on a target replaced by ``terms`` (empty terms: lifted).

    Network: governance (or a regulator, as its own order); an instrument: its issuer or a
    regulator; a participant (the accounts a bank keeps): that bank or a regulator; an account:
    its bank or a regulator. The strictest order that applies binds."""

    TYPE: ClassVar[TxType] = TxType.POLICY_SET
    scope: PolicyScope
    target: str
    terms: PolicyTerms

    def to_wire(self) -> list[Value]:
        return [int(self.scope), self.target, self.terms.to_wire()]

    @classmethod
    def from_wire(cls, value: Value) -> PolicySet:
        scope, target, terms = codec.expect_fields(value, "policy_set", 3)
        checked = read_policy_scope(scope)
        return cls(checked, validate_policy_target(checked, target), PolicyTerms.from_wire(terms))


@dataclass(frozen=True, slots=True)
class HoldApprove:
    """One of a hold's named approvers approves it (recorded in the hold)."""

    TYPE: ClassVar[TxType] = TxType.HOLD_APPROVE
    payer: str
    hold_id: str

    def to_wire(self) -> list[Value]:
        return [self.payer, self.hold_id]

    @classmethod
    def from_wire(cls, value: Value) -> HoldApprove:
        payer, hid = codec.expect_fields(value, "hold_approve", 2)
        return cls(validate_account_id(payer, "payer"), validate_hold_id(hid))

"""Policy records: limits per network, instrument, participant (a bank's customers) and account,
the travel-rule threshold, the forced-transfer approvers, the authorities that alone may freeze
or pause; and the travel-rule record a payment carries.

Like freezes and pauses, a policy belongs to the authority that set it: each authority has at
most one order per scope and target, and the binding limit is the **strictest** of every order
that applies (network, the instrument, the bank, the account): a lower authority can tighten a
limit, never loosen one set above it or by another authority.

Storage: the network, instrument and participant orders form one small record (``PolicyBook``,
bounded by ``POLICIES_MAX``), which also counts the account orders; account orders live under
their account (``AccountPolicies``). A payment with no policy anywhere reads one cached key.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger.codes import (
    ACCOUNT_POLICIES_MAX,
    AMOUNT_MAX,
    APPROVERS_MAX,
    NAMED_AUTHORITIES_MAX,
    POLICIES_MAX,
)
from consensus.ledger.records import (
    validate_account_id,
    validate_amount,
    validate_instrument_id,
    validate_participant_id,
)
from consensus.types import HASH_LEN

DAY_MS = 86_400_000
"""A daily maximum counts per UTC day of block time: day = time_ms // DAY_MS."""
GOVERNANCE_AUTHORITY = ""
"""The authority of a network policy set by governance (no single participant owns it)."""
_PURPOSE = re.compile(r"[A-Z0-9]{1,4}")


class PolicyScope(enum.IntEnum):
    NETWORK = 1
    INSTRUMENT = 2
    PARTICIPANT = 3
    """A bank: the policy applies to every account it keeps."""
    ACCOUNT = 4


def read_policy_scope(value: Value) -> PolicyScope:
    return PolicyScope(codec.expect_int(value, "scope", 1, len(PolicyScope)))


def validate_policy_target(scope: PolicyScope, value: Value) -> str:
    if scope is PolicyScope.NETWORK:
        if value != "":
            raise CodecError("policy: the network scope has the empty target")
        return ""
    if scope is PolicyScope.INSTRUMENT:
        return validate_instrument_id(value, "target")
    if scope is PolicyScope.PARTICIPANT:
        return validate_participant_id(value, "target")
    return validate_account_id(value, "target")


def _optional_amount(value: Value, name: str) -> int | None:
    return codec.expect_optional(value, lambda v: validate_amount(v, name))


def _tighter(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


@dataclass(frozen=True, slots=True)
class Limits:
    """Amounts in the minor units of the instrument that moves; None: no limit."""

    tx_max: int | None = None
    """Most a payer sends in one payment (TRANSFER, HOLD_CREATE, each HOLD_EXECUTE leg)."""
    daily_max: int | None = None
    """Most a payer sends per instrument per UTC day of block time (TRANSFER, HOLD_EXECUTE)."""
    balance_cap: int | None = None
    """Most a deposit-token balance may reach by a credit (TRANSFER, HOLD_EXECUTE, MINT)."""
    travel_threshold: int | None = None
    """Payments of at least this amount must carry a travel-rule record."""

    def tighter(self, other: Limits) -> Limits:
        if other is NO_LIMITS:
            return self
        if self is NO_LIMITS:
            return other
        return Limits(
            _tighter(self.tx_max, other.tx_max),
            _tighter(self.daily_max, other.daily_max),
            _tighter(self.balance_cap, other.balance_cap),
            _tighter(self.travel_threshold, other.travel_threshold),
        )

    @property
    def is_empty(self) -> bool:
        return self == NO_LIMITS

    def to_wire(self) -> list[Value]:
        return [self.tx_max, self.daily_max, self.balance_cap, self.travel_threshold]

    @classmethod
    def from_wire(cls, value: Value) -> Limits:
        tx_max, daily, cap, travel = codec.expect_fields(value, "limits", 4)
        return cls(
            _optional_amount(tx_max, "tx_max"),
            _optional_amount(daily, "daily_max"),
            _optional_amount(cap, "balance_cap"),
            _optional_amount(travel, "travel_threshold"),
        )


NO_LIMITS = Limits()


IdReader = Callable[[Value], str]


def read_approvers(value: Value, name: str, read_id: IdReader) -> tuple[str, ...]:
    """1..APPROVERS_MAX ids, sorted and unique."""
    ids = codec.expect_list_of(value, name, read_id, APPROVERS_MAX)
    if not ids:
        raise CodecError(f"{name}: at least one approver")
    codec.sorted_unique(ids, name)
    return ids


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """M of the N named approvers must approve."""

    required: int
    approvers: tuple[str, ...]

    def to_wire(self) -> list[Value]:
        return [self.required, list(self.approvers)]

    @classmethod
    def read(cls, value: Value, read_id: IdReader) -> ApprovalRule:
        required, approvers = codec.expect_fields(value, "approval", 2)
        ids = read_approvers(approvers, "approvers", read_id)
        return cls(codec.expect_int(required, "required", 1, len(ids)), ids)

    @classmethod
    def of_participants(cls, value: Value) -> ApprovalRule:
        return cls.read(value, validate_participant_id)


def read_named_authorities(value: Value, name: str) -> tuple[str, ...]:
    """1..NAMED_AUTHORITIES_MAX participant ids, sorted and unique."""
    ids = codec.expect_list_of(value, name, validate_participant_id, NAMED_AUTHORITIES_MAX)
    if not ids:
        raise CodecError(f"{name}: name at least one authority (omit the list for none)")
    codec.sorted_unique(ids, name)
    return ids


def _optional_names(value: Value, name: str) -> tuple[str, ...] | None:
    return codec.expect_optional(value, lambda v: read_named_authorities(v, name))


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """What one authority's POLICY_SET says about its target."""

    limits: Limits
    force_approval: ApprovalRule | None = None
    """Network policy of governance only: a FORCED_TRANSFER needs the co-signatures of M of
    these N participants (each with its own M-of-N keys), and is submitted by one of them."""
    freezers: tuple[str, ...] | None = None
    """Network policy of governance only: the only authorities that may FREEZE (or lift their
    freeze); None: whoever the roles allow (the account's bank, a regulator)."""
    pausers: tuple[str, ...] | None = None
    """Network policy of governance only: the only authorities that may PAUSE (or unpause);
    None: whoever the roles allow."""

    @property
    def is_empty(self) -> bool:
        return (
            self.limits.is_empty
            and self.force_approval is None
            and self.freezers is None
            and self.pausers is None
        )

    @property
    def names_authorities(self) -> bool:
        return self.freezers is not None or self.pausers is not None

    def to_wire(self) -> list[Value]:
        force = None if self.force_approval is None else self.force_approval.to_wire()
        if not self.names_authorities:  # the short form: one encoding per value
            return [self.limits.to_wire(), force]
        freezers = None if self.freezers is None else list(self.freezers)
        pausers = None if self.pausers is None else list(self.pausers)
        return [self.limits.to_wire(), force, freezers, pausers]

    @classmethod
    def from_wire(cls, value: Value) -> PolicyTerms:
        if type(value) is not list or len(value) not in (2, 4):
            raise CodecError("policy_terms: expected 2 fields, or 4 with named authorities")
        limits, force = value[:2]
        terms = cls(
            Limits.from_wire(limits), codec.expect_optional(force, ApprovalRule.of_participants)
        )
        if len(value) == 2:
            return terms
        freezers = _optional_names(value[2], "freezers")
        pausers = _optional_names(value[3], "pausers")
        if freezers is None and pausers is None:
            raise CodecError("policy_terms: the long form names freezers or pausers")
        return cls(terms.limits, terms.force_approval, freezers, pausers)


def validate_authority(value: Value) -> str:
    """A participant id, or "" for governance."""
    if value == GOVERNANCE_AUTHORITY:
        return GOVERNANCE_AUTHORITY
    return validate_participant_id(value, "authority")


@dataclass(frozen=True, slots=True)
class PolicyOrder:
    """One authority's standing policy on one target."""

    scope: PolicyScope
    target: str
    authority: str
    terms: PolicyTerms

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (int(self.scope), self.target, self.authority)

    def to_wire(self) -> list[Value]:
        return [int(self.scope), self.target, self.authority, self.terms.to_wire()]

    @classmethod
    def from_wire(cls, value: Value) -> PolicyOrder:
        scope, target, authority, terms = codec.expect_fields(value, "policy_order", 4)
        checked = read_policy_scope(scope)
        return cls(
            checked,
            validate_policy_target(checked, target),
            validate_authority(authority),
            PolicyTerms.from_wire(terms),
        )


def combine(orders: tuple[PolicyOrder, ...]) -> dict[tuple[int, str], Limits]:
    """(scope, target) -> the strictest limits of every order on it."""
    combined: dict[tuple[int, str], Limits] = {}
    for order in orders:
        key = (int(order.scope), order.target)
        combined[key] = combined.get(key, NO_LIMITS).tighter(order.terms.limits)
    return combined


def _with_order(
    orders: tuple[PolicyOrder, ...], order: PolicyOrder, remove: bool
) -> tuple[PolicyOrder, ...]:
    kept = [o for o in orders if o.sort_key != order.sort_key]
    if not remove:
        kept.append(order)
    return tuple(sorted(kept, key=lambda o: o.sort_key))


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """Every network, instrument and participant order (sorted, one per authority and target),
    and how many account orders stand (0 lets a payment skip the accounts' records)."""

    orders: tuple[PolicyOrder, ...]
    account_orders: int
    _combined: dict[tuple[int, str], Limits] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_combined", combine(self.orders))

    @property
    def is_empty(self) -> bool:
        return not self.orders and not self.account_orders

    def limits_for(self, scope: PolicyScope, target: str) -> Limits:
        return self._combined.get((int(scope), target), NO_LIMITS)

    def get_order(self, scope: PolicyScope, target: str, authority: str) -> PolicyOrder | None:
        for order in self.orders:
            if order.sort_key == (int(scope), target, authority):
                return order
        return None

    @property
    def governance_terms(self) -> PolicyTerms | None:
        """Governance's network order: the one that names approvers and authorities."""
        order = self.get_order(PolicyScope.NETWORK, "", GOVERNANCE_AUTHORITY)
        return None if order is None else order.terms

    @property
    def force_approval(self) -> ApprovalRule | None:
        terms = self.governance_terms
        return None if terms is None else terms.force_approval

    @property
    def freezers(self) -> tuple[str, ...] | None:
        """Who alone may freeze, if governance names them."""
        terms = self.governance_terms
        return None if terms is None else terms.freezers

    @property
    def pausers(self) -> tuple[str, ...] | None:
        """Who alone may pause, if governance names them."""
        terms = self.governance_terms
        return None if terms is None else terms.pausers

    def with_order(self, order: PolicyOrder, remove: bool) -> PolicyBook:
        return PolicyBook(_with_order(self.orders, order, remove), self.account_orders)

    def with_account_orders(self, delta: int) -> PolicyBook:
        return PolicyBook(self.orders, self.account_orders + delta)

    def to_wire(self) -> list[Value]:
        return [[order.to_wire() for order in self.orders], self.account_orders]

    @classmethod
    def from_wire(cls, value: Value) -> PolicyBook:
        orders, count = codec.expect_fields(value, "policy_book", 2)
        read = codec.expect_list_of(orders, "policy_book", PolicyOrder.from_wire, POLICIES_MAX)
        codec.sorted_unique([order.sort_key for order in read], "policy_book")
        if any(order.scope is PolicyScope.ACCOUNT for order in read):
            raise CodecError("policy_book: account orders live under their account")
        return cls(read, codec.expect_uint(count, "account_orders", AMOUNT_MAX))


EMPTY_POLICY_BOOK = PolicyBook((), 0)


@dataclass(frozen=True, slots=True)
class AccountPolicies:
    """The orders standing on one account (one per authority, sorted by authority)."""

    orders: tuple[PolicyOrder, ...]
    limits: Limits = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        limits = NO_LIMITS
        for order in self.orders:
            limits = limits.tighter(order.terms.limits)
        object.__setattr__(self, "limits", limits)

    def get_order(self, authority: str) -> PolicyOrder | None:
        return next((o for o in self.orders if o.authority == authority), None)

    def with_order(self, order: PolicyOrder, remove: bool) -> AccountPolicies:
        return AccountPolicies(_with_order(self.orders, order, remove))

    def to_wire(self) -> list[Value]:
        return [order.to_wire() for order in self.orders]

    @classmethod
    def from_wire(cls, value: Value) -> AccountPolicies:
        orders = codec.expect_list_of(
            value, "account_policies", PolicyOrder.from_wire, ACCOUNT_POLICIES_MAX
        )
        codec.sorted_unique([order.sort_key for order in orders], "account_policies")
        if any(order.scope is not PolicyScope.ACCOUNT for order in orders):
            raise CodecError("account_policies: account orders only")
        if len({order.target for order in orders}) > 1:
            raise CodecError("account_policies: orders of one account")
        return cls(orders)


EMPTY_ACCOUNT_POLICIES = AccountPolicies(())


@dataclass(frozen=True, slots=True)
class DailySpend:
    """What an account sent of one instrument on one UTC day (block time), while a daily
    maximum applied to it."""

    day: int
    spent: int

    def to_wire(self) -> list[Value]:
        return [self.day, self.spent]

    @classmethod
    def from_wire(cls, value: Value) -> DailySpend:
        day, spent = codec.expect_fields(value, "daily_spend", 2)
        return cls(codec.expect_uint(day, "day", AMOUNT_MAX), validate_amount(spent, "spent"))


@dataclass(frozen=True, slots=True)
class TravelRecord:
    """FATF Recommendation 16 data of a payment, kept off-chain by the banks: on the ledger only
    the sha256 of the canonical JSON of the IVMS101-shaped originator/beneficiary data and an
    ISO 20022 purpose code (ExternalPurpose1Code: 1-4 upper-case letters or digits)."""

    ivms101_hash: bytes
    purpose_code: str

    def to_wire(self) -> list[Value]:
        return [self.ivms101_hash, self.purpose_code]

    @classmethod
    def from_wire(cls, value: Value) -> TravelRecord:
        digest, purpose = codec.expect_fields(value, "travel_rule", 2)
        if type(purpose) is not str or not _PURPOSE.fullmatch(purpose):
            raise CodecError("purpose_code: 1..4 chars of [A-Z0-9]")
        return cls(codec.expect_bytes(digest, "ivms101_hash", HASH_LEN), purpose)

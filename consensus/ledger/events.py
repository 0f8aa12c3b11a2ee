"""Receipts and the typed events they carry.

Receipts are consensus data (a block's results are committed and served as proofs), so they have
a canonical wire format: ``[code, log, [event...]]`` with each event ``[tag, field...]``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, ClassVar

import msgpack

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger.codes import (
    AMOUNT_MAX,
    EVENTS_PER_RECEIPT_MAX,
    LOG_LEN_MAX,
    NAMED_AUTHORITIES_MAX,
    REF_LEN_MAX,
    Code,
)


class EventType(enum.IntEnum):
    PARTICIPANT_UPSERTED = 1
    INSTRUMENT_REGISTERED = 2
    ACCOUNT_OPENED = 3
    ACCOUNT_UPDATED = 4
    ACCOUNT_KEYS_RECOVERED = 5
    ACCOUNT_CLOSED = 6
    MINTED = 7
    REDEEMED = 8
    TRANSFERRED = 9
    INTERBANK_SETTLED = 10
    FROZEN = 11
    PARTICIPANT_CHANGE_PROPOSED = 12
    PARTICIPANT_CHANGE_CANCELLED = 13
    GOVERNANCE_PARAMS_CHANGED = 14
    PAUSED = 15
    HOLD_CREATED = 16
    HOLD_EXECUTED = 17
    HOLD_CANCELLED = 18
    FORCED_TRANSFER = 19
    POLICY_CHANGED = 20
    TRAVEL_RULE_RECORDED = 21
    HOLD_APPROVED = 22
    ACCOUNT_KEYS_ROTATED = 23
    ACCOUNT_RECOVERY_PROPOSED = 24
    ACCOUNT_RECOVERY_CANCELLED = 25
    AUTHORITIES_NAMED = 26


# Each event is flat: str, int, bool or None fields only, which keeps the codec trivial.


@dataclass(frozen=True, slots=True)
class ParticipantUpserted:
    TAG: ClassVar[EventType] = EventType.PARTICIPANT_UPSERTED
    participant_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class InstrumentRegistered:
    TAG: ClassVar[EventType] = EventType.INSTRUMENT_REGISTERED
    instrument_id: str


@dataclass(frozen=True, slots=True)
class AccountOpened:
    TAG: ClassVar[EventType] = EventType.ACCOUNT_OPENED
    account_id: str


@dataclass(frozen=True, slots=True)
class AccountUpdated:
    TAG: ClassVar[EventType] = EventType.ACCOUNT_UPDATED
    account_id: str


@dataclass(frozen=True, slots=True)
class AccountKeysRecovered:
    """Owner keys replaced by the bank without the owner's signature (a recovery): recorded
    distinctly for audit, with its reference and the second authority that co-signed it (empty
    when the keys changed after the recovery delay instead)."""

    TAG: ClassVar[EventType] = EventType.ACCOUNT_KEYS_RECOVERED
    account_id: str
    recovery_ref: str
    authority: str


@dataclass(frozen=True, slots=True)
class AccountKeysRotated:
    """Owner keys replaced by the bank with the owner's signature by its current keys."""

    TAG: ClassVar[EventType] = EventType.ACCOUNT_KEYS_ROTATED
    account_id: str


@dataclass(frozen=True, slots=True)
class AccountRecoveryProposed:
    """A key recovery with no second authority: the owner may cancel it until
    ``effective_height``; the bank applies it by submitting it again from then on."""

    TAG: ClassVar[EventType] = EventType.ACCOUNT_RECOVERY_PROPOSED
    account_id: str
    recovery_ref: str
    effective_height: int


@dataclass(frozen=True, slots=True)
class AccountRecoveryCancelled:
    """The owner cancelled a pending key recovery of its account."""

    TAG: ClassVar[EventType] = EventType.ACCOUNT_RECOVERY_CANCELLED
    account_id: str


@dataclass(frozen=True, slots=True)
class AccountClosed:
    TAG: ClassVar[EventType] = EventType.ACCOUNT_CLOSED
    account_id: str


@dataclass(frozen=True, slots=True)
class Minted:
    TAG: ClassVar[EventType] = EventType.MINTED
    account_id: str
    instrument_id: str
    amount: int
    funding_ref: str


@dataclass(frozen=True, slots=True)
class Redeemed:
    TAG: ClassVar[EventType] = EventType.REDEEMED
    account_id: str
    instrument_id: str
    amount: int
    payout_ref: str


@dataclass(frozen=True, slots=True)
class Transferred:
    TAG: ClassVar[EventType] = EventType.TRANSFERRED
    from_account: str
    to_account: str
    from_instrument: str
    to_instrument: str
    amount: int
    cross_bank: bool


@dataclass(frozen=True, slots=True)
class InterbankSettled:
    """The settlement-asset leg of a cross-bank transfer."""

    TAG: ClassVar[EventType] = EventType.INTERBANK_SETTLED
    settlement_asset: str
    from_bank: str
    to_bank: str
    amount: int


@dataclass(frozen=True, slots=True)
class Frozen:
    """``authority``'s freeze order on an account, as given (it replaces only that authority's
    earlier order; the account stays frozen while any authority's account freeze stands)."""

    TAG: ClassVar[EventType] = EventType.FROZEN
    account_id: str
    authority: str
    account_frozen: bool
    instrument_id: str | None
    amount: int
    legal_basis_ref: str


@dataclass(frozen=True, slots=True)
class ParticipantChangeProposed:
    """Governance changed a participant's keys, roles or status without its signature: the
    change waits until ``effective_height`` and the participant may cancel it until then."""

    TAG: ClassVar[EventType] = EventType.PARTICIPANT_CHANGE_PROPOSED
    participant_id: str
    effective_height: int


@dataclass(frozen=True, slots=True)
class ParticipantChangeCancelled:
    TAG: ClassVar[EventType] = EventType.PARTICIPANT_CHANGE_CANCELLED
    participant_id: str


@dataclass(frozen=True, slots=True)
class GovernanceParamsChanged:
    TAG: ClassVar[EventType] = EventType.GOVERNANCE_PARAMS_CHANGED
    threshold_numerator: int
    threshold_denominator: int
    change_delay_heights: int
    trust_window_heights: int
    validators_min: int


@dataclass(frozen=True, slots=True)
class Paused:
    """``authority`` set (``paused``) or lifted its pause of a scope (``pauses.PauseScope``:
    1 network, 2 instrument, 3 participant) and target."""

    TAG: ClassVar[EventType] = EventType.PAUSED
    scope: int
    target: str
    authority: str
    paused: bool
    reason_ref: str


@dataclass(frozen=True, slots=True)
class HoldCreated:
    TAG: ClassVar[EventType] = EventType.HOLD_CREATED
    payer: str
    hold_id: str
    payee: str
    instrument_id: str
    amount: int
    expiry_ms: int


@dataclass(frozen=True, slots=True)
class HoldExecuted:
    """One leg of a HOLD_EXECUTE (a cross-bank leg is followed by its InterbankSettled)."""

    TAG: ClassVar[EventType] = EventType.HOLD_EXECUTED
    payer: str
    hold_id: str
    payee: str
    from_instrument: str
    to_instrument: str
    amount: int
    cross_bank: bool


@dataclass(frozen=True, slots=True)
class HoldCancelled:
    """The hold's amount went back to its payer's free balance (``expired``: after expiry)."""

    TAG: ClassVar[EventType] = EventType.HOLD_CANCELLED
    payer: str
    hold_id: str
    amount: int
    cancelled_by: str
    expired: bool


@dataclass(frozen=True, slots=True)
class ForcedTransferred:
    """Funds taken from an account by an authority under a legal basis (frozen or held funds
    included): distinct from a Transferred, which its owner made."""

    TAG: ClassVar[EventType] = EventType.FORCED_TRANSFER
    from_account: str
    to_account: str
    from_instrument: str
    to_instrument: str
    amount: int
    authority: str
    legal_basis_ref: str
    cross_bank: bool


@dataclass(frozen=True, slots=True)
class PolicyChanged:
    """``authority``'s policy order on a scope (``policies.PolicyScope``: 1 network,
    2 instrument, 3 participant, 4 account) and target, as set (all None and 0: lifted).
    ``authority`` "" is governance; ``force_required`` 0: no forced-transfer approval rule."""

    TAG: ClassVar[EventType] = EventType.POLICY_CHANGED
    scope: int
    target: str
    authority: str
    tx_max: int | None
    daily_max: int | None
    balance_cap: int | None
    travel_threshold: int | None
    force_required: int


Names = str
"""Participant ids joined by "," (ids never hold one), sorted; "" for none. Longer than a
reference, so it has its own reader."""
NAMES_LEN_MAX = NAMED_AUTHORITIES_MAX * 33


@dataclass(frozen=True, slots=True)
class AuthoritiesNamed:
    """Governance's network policy now names who alone may freeze and who alone may pause
    (each "" : whoever the roles allow). Emitted with the ``PolicyChanged`` of governance's
    network order whenever that order names authorities or named them before."""

    TAG: ClassVar[EventType] = EventType.AUTHORITIES_NAMED
    freezers: Names
    pausers: Names


@dataclass(frozen=True, slots=True)
class TravelRuleRecorded:
    """A payment (TRANSFER, or a hold at creation) carried a travel-rule record: the sha256
    (hex) of the IVMS101-shaped data the banks keep, and the ISO 20022 purpose code."""

    TAG: ClassVar[EventType] = EventType.TRAVEL_RULE_RECORDED
    from_account: str
    to_account: str
    amount: int
    ivms101_hash: str
    purpose_code: str


@dataclass(frozen=True, slots=True)
class HoldApproved:
    """One of a hold's approvers approved it; ``approvals`` so far."""

    TAG: ClassVar[EventType] = EventType.HOLD_APPROVED
    payer: str
    hold_id: str
    approver: str
    approvals: int


TxEvent = (
    ParticipantUpserted
    | InstrumentRegistered
    | AccountOpened
    | AccountUpdated
    | AccountKeysRecovered
    | AccountClosed
    | Minted
    | Redeemed
    | Transferred
    | InterbankSettled
    | Frozen
    | ParticipantChangeProposed
    | ParticipantChangeCancelled
    | GovernanceParamsChanged
    | Paused
    | HoldCreated
    | HoldExecuted
    | HoldCancelled
    | ForcedTransferred
    | PolicyChanged
    | TravelRuleRecorded
    | HoldApproved
    | AccountKeysRotated
    | AccountRecoveryProposed
    | AccountRecoveryCancelled
    | AuthoritiesNamed
)
"""What an accepted transaction emitted, carried in its receipt (the replica's inputs are
``consensus.events.Event``)."""

TX_EVENT_TYPES: dict[EventType, type[TxEvent]] = {
    event.TAG: event
    for event in (
        ParticipantUpserted,
        InstrumentRegistered,
        AccountOpened,
        AccountUpdated,
        AccountKeysRecovered,
        AccountClosed,
        Minted,
        Redeemed,
        Transferred,
        InterbankSettled,
        Frozen,
        ParticipantChangeProposed,
        ParticipantChangeCancelled,
        GovernanceParamsChanged,
        Paused,
        HoldCreated,
        HoldExecuted,
        HoldCancelled,
        ForcedTransferred,
        PolicyChanged,
        TravelRuleRecorded,
        HoldApproved,
        AccountKeysRotated,
        AccountRecoveryProposed,
        AccountRecoveryCancelled,
        AuthoritiesNamed,
    )
}

# field name -> reader, derived once from the annotations (events are flat by construction)
_READERS: dict[str, Any] = {
    "str": lambda v, n: codec.expect_str(v, n, REF_LEN_MAX),
    "int": lambda v, n: codec.expect_uint(v, n, AMOUNT_MAX),
    "bool": codec.expect_bool,
    "int | None": lambda v, n: codec.expect_optional(
        v, lambda x: codec.expect_uint(x, n, AMOUNT_MAX)
    ),
    "str | None": lambda v, n: codec.expect_optional(v, lambda x: codec.expect_str(x, n)),
    "Names": lambda v, n: codec.expect_str(v, n, NAMES_LEN_MAX),
}
_FIELDS: dict[EventType, tuple[tuple[str, Any], ...]] = {
    tag: tuple((f.name, _READERS[str(f.type)]) for f in fields(cls))
    for tag, cls in TX_EVENT_TYPES.items()
}


def _wire_getter(tag: EventType) -> Callable[[Any], list[Value]]:
    """``event -> [tag, field...]`` for events of ``tag`` (one C attrgetter per type)."""
    names, number = [name for name, _ in _FIELDS[tag]], int(tag)
    get = attrgetter(*names)
    if len(names) == 1:  # then attrgetter gives the value itself, not a tuple
        return lambda event: [number, get(event)]
    return lambda event: [number, *get(event)]


_TO_WIRE = {tag: _wire_getter(tag) for tag in _FIELDS}


def event_to_wire(event: TxEvent) -> list[Value]:
    return _TO_WIRE[event.TAG](event)


def pack_flat(wire: list[Value]) -> bytes:
    """``codec.encode`` of a map-free value (receipts: flat lists of str, int, bool, None) without
    its validating walk: strict_types refuses what it refuses by type; ints: msgpack's range."""
    packed: bytes = msgpack.packb(wire, use_bin_type=True, strict_types=True)
    return packed


def encode_each(receipts: Sequence[Receipt]) -> list[bytes]:
    """``[receipt.encode() for receipt in receipts]`` through one packer (``pack_flat``'s)."""
    pack = msgpack.Packer(use_bin_type=True, strict_types=True).pack
    return [pack(receipt.to_wire()) for receipt in receipts]


def event_from_wire(value: Value) -> TxEvent:
    items = codec.expect_list(value, "event", 16)
    if not items:
        raise CodecError("event: empty")
    tag_number = codec.expect_int(items[0], "event.tag", 1, len(EventType))
    tag = EventType(tag_number)
    specs = _FIELDS[tag]
    if len(items) != len(specs) + 1:
        raise CodecError(f"event {tag.name}: expected {len(specs)} fields")
    kwargs = {name: read(item, name) for (name, read), item in zip(specs, items[1:], strict=True)}
    return TX_EVENT_TYPES[tag](**kwargs)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one transaction in a block."""

    code: Code
    log: str
    events: tuple[TxEvent, ...]

    @property
    def is_ok(self) -> bool:
        return self.code is Code.OK

    def to_wire(self) -> list[Value]:
        return [int(self.code), self.log, [event_to_wire(event) for event in self.events]]

    def encode(self) -> bytes:
        return pack_flat(self.to_wire())

    @classmethod
    def from_wire(cls, value: Value) -> Receipt:
        code, log, events = codec.expect_fields(value, "receipt", 3)
        code_number = codec.expect_uint(code, "code", 255)
        try:
            checked = Code(code_number)
        except ValueError as exc:
            raise CodecError(f"unknown receipt code {code_number}") from exc
        return cls(
            checked,
            codec.expect_str(log, "log", LOG_LEN_MAX),
            codec.expect_list_of(events, "events", event_from_wire, EVENTS_PER_RECEIPT_MAX),
        )

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        return cls.from_wire(codec.decode(data))


def encode_receipts(receipts: Sequence[Receipt]) -> bytes:
    """A block's results as stored and served: the list of receipts in block order."""
    return pack_flat([receipt.to_wire() for receipt in receipts])


def decode_receipts(data: bytes) -> tuple[Receipt, ...]:
    return codec.expect_list_of(codec.decode(data), "receipts", Receipt.from_wire)

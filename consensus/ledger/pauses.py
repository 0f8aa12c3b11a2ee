"""Pause orders: who stopped which value movements, network-wide, per instrument or per
participant, and why.

Like freezes, a pause belongs to the authority that gave it: each authority has at most one
order per scope and target, only it lifts its order, and a target is paused while any order on
it stands. The whole book is one small state record (bounded by ``PAUSES_MAX``), so the hot
path of a transfer reads one key, and an empty book costs one probe.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger.codes import PAUSES_MAX, Code, InvalidTransaction
from consensus.ledger.records import (
    validate_instrument_id,
    validate_participant_id,
    validate_ref,
)


class PauseScope(enum.IntEnum):
    NETWORK = 1
    INSTRUMENT = 2
    PARTICIPANT = 3


def validate_pause_target(scope: PauseScope, value: Value) -> str:
    """The network has the empty target; an instrument or participant its id."""
    if scope is PauseScope.NETWORK:
        if value != "":
            raise CodecError("pause: the network scope has the empty target")
        return ""
    if scope is PauseScope.INSTRUMENT:
        return validate_instrument_id(value, "target")
    return validate_participant_id(value, "target")


def read_pause_scope(value: Value) -> PauseScope:
    number = codec.expect_int(value, "scope", 1, len(PauseScope))
    return PauseScope(number)


@dataclass(frozen=True, slots=True)
class PauseOrder:
    """One authority's standing pause of one target."""

    scope: PauseScope
    target: str
    authority: str
    reason_ref: str

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (int(self.scope), self.target, self.authority)

    def to_wire(self) -> list[Value]:
        return [int(self.scope), self.target, self.authority, self.reason_ref]

    @classmethod
    def from_wire(cls, value: Value) -> PauseOrder:
        scope, target, authority, reason = codec.expect_fields(value, "pause_order", 4)
        checked = read_pause_scope(scope)
        return cls(
            checked,
            validate_pause_target(checked, target),
            validate_participant_id(authority, "authority"),
            validate_ref(reason, "reason_ref", 1),
        )


@dataclass(frozen=True, slots=True)
class PauseBook:
    """Every standing pause order, sorted by (scope, target, authority), at most one each."""

    orders: tuple[PauseOrder, ...]

    def is_paused(self, scope: PauseScope, target: str) -> bool:
        return any(o.scope is scope and o.target == target for o in self.orders)

    def has_order(self, scope: PauseScope, target: str, authority: str) -> bool:
        return any(
            o.scope is scope and o.target == target and o.authority == authority
            for o in self.orders
        )

    def with_order(self, order: PauseOrder, paused: bool) -> PauseBook:
        """This book with ``order``'s authority's pause of its target set or lifted."""
        key = order.sort_key
        kept = [o for o in self.orders if o.sort_key != key]
        if paused:
            kept.append(order)
        return PauseBook(tuple(sorted(kept, key=lambda o: o.sort_key)))

    def to_wire(self) -> list[Value]:
        return [order.to_wire() for order in self.orders]

    @classmethod
    def from_wire(cls, value: Value) -> PauseBook:
        orders = codec.expect_list_of(value, "pause_book", PauseOrder.from_wire, PAUSES_MAX)
        codec.sorted_unique([order.sort_key for order in orders], "pause_book")
        return cls(orders)


EMPTY_PAUSE_BOOK = PauseBook(())


def check_not_paused(
    book: PauseBook, instruments: Iterable[str], participants: Iterable[str]
) -> None:
    """Raise PAUSED if the network, one of ``instruments`` or one of ``participants`` is paused.

    Callers name every instrument a movement touches and every participant whose books it
    touches (the banks keeping the accounts, the issuers, the settlement agent)."""
    if not book.orders:
        return
    if book.is_paused(PauseScope.NETWORK, ""):
        raise InvalidTransaction(Code.PAUSED, "the network is paused")
    for instrument_id in instruments:
        if book.is_paused(PauseScope.INSTRUMENT, instrument_id):
            raise InvalidTransaction(Code.PAUSED, f"instrument {instrument_id} is paused")
    for participant_id in participants:
        if book.is_paused(PauseScope.PARTICIPANT, participant_id):
            raise InvalidTransaction(Code.PAUSED, f"participant {participant_id} is paused")

"""Records of who controls what: governance parameters, pending participant changes, freezes.

These are stored next to the ledger records (``records.py``) and share their conventions: frozen
dataclasses with a positional wire form whose ``from_wire`` is strict (raises only
``CodecError``), because they come back from disk after a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consensus import codec
from consensus.codec import CodecError, Value
from consensus.ledger.codes import (
    AMOUNT_MAX,
    CHANGE_DELAY_HEIGHTS_MAX,
    GOVERNED_VALIDATORS_MAX,
    PARTICIPANTS_MAX,
    REF_LEN_MAX,
    THRESHOLD_DENOMINATOR_MAX,
    TRUST_WINDOW_HEIGHTS_MAX,
)
from consensus.ledger.records import (
    Participant,
    validate_instrument_id,
    validate_keyset,
    validate_participant_id,
    validate_ref,
)
from consensus.types import PublicKey


@dataclass(frozen=True, slots=True)
class GovernanceParams:
    """How the network governs itself; changed only by a GOVERNANCE_SET that meets them."""

    threshold_numerator: int
    threshold_denominator: int
    """A governance tx needs strictly more than numerator/denominator of the active banks
    (default 2/3). The fraction is at least 1/2 and below 1, so a minority never governs and
    all active banks together always can."""
    change_delay_heights: int
    """Heights a participant has to cancel a change of its keys, roles or status that it did
    not sign (the change applies only when re-submitted after them)."""
    trust_window_heights: int
    """Heights over which validator-set changes add up: within them, less than 1/3 of the
    voting power may be added or removed (what a light client trusting an older set needs)."""
    validators_min: int
    """No validator-set change may leave fewer validators than this."""

    def validate(self) -> None:
        """Raise CodecError if the parameters are out of their bounds."""
        num, den = self.threshold_numerator, self.threshold_denominator
        if not 1 <= num < den <= THRESHOLD_DENOMINATOR_MAX or 2 * num < den:
            raise CodecError(f"governance threshold {num}/{den}: need 1/2 <= n/d < 1, d <= 1000")
        if not 1 <= self.change_delay_heights <= CHANGE_DELAY_HEIGHTS_MAX:
            raise CodecError(f"change_delay_heights: 1..{CHANGE_DELAY_HEIGHTS_MAX}")
        if not 0 <= self.trust_window_heights <= TRUST_WINDOW_HEIGHTS_MAX:
            raise CodecError(f"trust_window_heights: 0..{TRUST_WINDOW_HEIGHTS_MAX}")
        if not 1 <= self.validators_min <= GOVERNED_VALIDATORS_MAX:
            raise CodecError(f"validators_min: 1..{GOVERNED_VALIDATORS_MAX}")

    def is_reached(self, signed: int, active: int) -> bool:
        """True if ``signed`` of ``active`` banks is strictly more than the threshold."""
        return signed * self.threshold_denominator > self.threshold_numerator * active

    def to_wire(self) -> list[Value]:
        return [
            self.threshold_numerator,
            self.threshold_denominator,
            self.change_delay_heights,
            self.trust_window_heights,
            self.validators_min,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> GovernanceParams:
        num, den, delay, window, vmin = codec.expect_fields(value, "governance", 5)
        params = cls(
            codec.expect_int(num, "threshold_numerator", 1, THRESHOLD_DENOMINATOR_MAX),
            codec.expect_int(den, "threshold_denominator", 1, THRESHOLD_DENOMINATOR_MAX),
            codec.expect_uint(delay, "change_delay_heights", CHANGE_DELAY_HEIGHTS_MAX),
            codec.expect_uint(window, "trust_window_heights", TRUST_WINDOW_HEIGHTS_MAX),
            codec.expect_uint(vmin, "validators_min", GOVERNED_VALIDATORS_MAX),
        )
        params.validate()
        return params


DEFAULT_GOVERNANCE = GovernanceParams(2, 3, 1_000, 1_000, 1)
"""Genesis defaults: > 2/3 of the active banks, a 1,000-height delay and trust window."""


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A governance change of a participant's keys, roles or status it did not sign."""

    participant: Participant
    """The record as it will be once applied."""
    proposed_height: int
    effective_height: int
    """From this height the same PARTICIPANT_UPSERT, signed by governance again, applies it;
    until then the participant may cancel it."""

    def to_wire(self) -> list[Value]:
        return [self.participant.to_wire(), self.proposed_height, self.effective_height]

    @classmethod
    def from_wire(cls, value: Value) -> PendingChange:
        participant, proposed, effective = codec.expect_fields(value, "pending_change", 3)
        return cls(
            Participant.from_wire(participant),
            codec.expect_uint(proposed, "proposed_height", AMOUNT_MAX),
            codec.expect_uint(effective, "effective_height", AMOUNT_MAX),
        )


@dataclass(frozen=True, slots=True)
class PendingRecovery:
    """A bank's replacement of an account's keys that neither the owner nor a second authority
    signed: the owner may cancel it until ``effective_height``; from then on the same
    ACCOUNT_UPDATE, submitted again by the bank, applies it."""

    keys: tuple[PublicKey, ...]
    threshold: int
    recovery_ref: str
    proposed_height: int
    effective_height: int

    def to_wire(self) -> list[Value]:
        return [
            list(self.keys),
            self.threshold,
            self.recovery_ref,
            self.proposed_height,
            self.effective_height,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> PendingRecovery:
        keys, threshold, ref, proposed, effective = codec.expect_fields(
            value, "pending_recovery", 5
        )
        keyset, checked = validate_keyset(keys, threshold)
        return cls(
            keyset,
            checked,
            validate_ref(ref, "recovery_ref", 1),
            codec.expect_uint(proposed, "proposed_height", AMOUNT_MAX),
            codec.expect_uint(effective, "effective_height", AMOUNT_MAX),
        )


_BLANK_EDGE = re.compile(r"^ | $")


def is_real_reference(text: str) -> bool:
    """A legal basis names something: non-blank, no leading or trailing space, bounded."""
    return 0 < len(text) <= REF_LEN_MAX and not _BLANK_EDGE.search(text)


FREEZE_INSTRUMENTS_MAX = 16


@dataclass(frozen=True, slots=True)
class FreezeOrder:
    """One authority's standing freeze of one account: only that authority changes it."""

    authority: str
    account_frozen: bool
    amounts: tuple[tuple[str, int], ...]
    """(instrument_id, frozen amount) sorted by instrument, amounts > 0."""
    legal_basis_ref: str
    """The reference of the authority's latest order."""

    @property
    def is_empty(self) -> bool:
        return not self.account_frozen and not self.amounts

    def get_amount(self, instrument_id: str) -> int:
        return dict(self.amounts).get(instrument_id, 0)

    def to_wire(self) -> list[Value]:
        return [
            self.authority,
            self.account_frozen,
            [list(pair) for pair in self.amounts],
            self.legal_basis_ref,
        ]

    @classmethod
    def from_wire(cls, value: Value) -> FreezeOrder:
        authority, flag, amounts, legal = codec.expect_fields(value, "freeze_order", 4)

        def read_amount(item: Value) -> tuple[str, int]:
            iid, amount = codec.expect_fields(item, "frozen_amount", 2)
            return validate_instrument_id(iid), codec.expect_int(amount, "amount", 1, AMOUNT_MAX)

        pairs = codec.expect_list_of(amounts, "amounts", read_amount, FREEZE_INSTRUMENTS_MAX)
        codec.sorted_unique([iid for iid, _ in pairs], "amounts")
        return cls(
            validate_participant_id(authority, "authority"),
            codec.expect_bool(flag, "account_frozen"),
            pairs,
            validate_ref(legal, "legal_basis_ref", 1),
        )


@dataclass(frozen=True, slots=True)
class FreezeBook:
    """Every standing freeze order on one account, by authority (sorted, none empty)."""

    orders: tuple[FreezeOrder, ...]

    def get_order(self, authority: str) -> FreezeOrder | None:
        for order in self.orders:
            if order.authority == authority:
                return order
        return None

    def with_order(self, order: FreezeOrder) -> FreezeBook:
        """This book with ``authority``'s order replaced (an empty order removes it)."""
        others = [o for o in self.orders if o.authority != order.authority]
        kept = others if order.is_empty else [*others, order]
        return FreezeBook(tuple(sorted(kept, key=lambda o: o.authority)))

    @property
    def account_frozen(self) -> bool:
        """Frozen while any authority's account freeze stands."""
        return any(order.account_frozen for order in self.orders)

    def frozen_amount(self, instrument_id: str) -> int:
        """Amount freezes stack: each authority's order binds its own amount."""
        return sum(order.get_amount(instrument_id) for order in self.orders)

    def to_wire(self) -> list[Value]:
        return [order.to_wire() for order in self.orders]

    @classmethod
    def from_wire(cls, value: Value) -> FreezeBook:
        orders = codec.expect_list_of(value, "freeze_book", FreezeOrder.from_wire, PARTICIPANTS_MAX)
        codec.sorted_unique([order.authority for order in orders], "freeze_book")
        if any(order.is_empty for order in orders):
            raise CodecError("freeze_book: an empty order is stored")
        return cls(orders)


EMPTY_FREEZE_BOOK = FreezeBook(())

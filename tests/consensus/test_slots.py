"""consensus/slots.py: slot setters build what the frozen dataclass's constructor builds, and
refuse every class or field list for which they would not."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.ledger.txs import SignedTx, Transfer, UnsignedTx, ValidUntil, ValidUntilKind
from consensus.slots import slot_setters


@dataclasses.dataclass(frozen=True, slots=True)
class Pair:
    first: int
    second: Any = None


def build(cls: type, values: tuple[Any, ...]) -> Any:
    names = tuple(field.name for field in dataclasses.fields(cls))
    made = cls.__new__(cls)
    for setter, value in zip(slot_setters(cls, *names), values, strict=True):
        setter(made, value)
    return made


@given(st.integers(), st.one_of(st.none(), st.text(), st.integers()))
def test_a_slot_built_object_is_the_constructed_one(first: int, second: object) -> None:
    made, constructed = build(Pair, (first, second)), Pair(first, second)
    assert (
        made == constructed and hash(made) == hash(constructed) and repr(made) == repr(constructed)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.first = 1  # type: ignore[misc]
    assert dataclasses.replace(made, first=7) == Pair(7, second)


def test_the_tx_classes_built_slot_by_slot_equal_the_constructed_ones() -> None:
    until = ValidUntil(ValidUntilKind.TIME_MS, 5)
    body = Transfer("BANKB/bob", "BANKA:USD", 3)
    unsigned = UnsignedTx("c", "BANKA/alice", 1, "k", until, "m", body)  # type: ignore[arg-type]
    signed = SignedTx(unsigned, ((b"k" * 32, b"s" * 64),))  # type: ignore[arg-type]
    for made in (until, body, unsigned, signed):
        values = tuple(getattr(made, field.name) for field in dataclasses.fields(made))
        rebuilt = build(type(made), values)
        assert rebuilt == made and hash(rebuilt) == hash(made)


def test_setters_must_name_every_field_in_order() -> None:
    with pytest.raises(TypeError, match="fields are"):
        slot_setters(Pair, "second", "first")
    with pytest.raises(TypeError, match="fields are"):
        slot_setters(Pair, "first")


def test_only_frozen_slotted_dataclasses_whose_init_only_assigns() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        first: int

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        first: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        first: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        first: int
        second: int = dataclasses.field(init=False, default=0)

    class Plain:
        __slots__ = ("first",)

    for cls, names in (
        (Mutable, ("first",)),
        (Unslotted, ("first",)),
        (Checked, ("first",)),
        (Derived, ("first", "second")),
        (Plain, ("first",)),
    ):
        with pytest.raises(TypeError):
            slot_setters(cls, *names)

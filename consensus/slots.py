"""Building frozen slotted dataclasses on the hot decode path without their generated ``__init__``.

A frozen dataclass's ``__init__`` assigns each field through ``object.__setattr__`` (the class's
own ``__setattr__`` refuses), about twice what setting the slot through its descriptor costs; a
node builds four such objects per transaction it admits. ``slot_setters`` hands out the slot
descriptors' setters for a decoder to fill ``cls.__new__(cls)`` with: the object is the very one
``cls(*values)`` would build (same fields, so same ``==``, ``hash`` and immutability afterwards),
as long as the setters cover every field and ``__init__`` does nothing else. Both are checked
here, once, at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

Setter = Callable[[Any, Any], None]


def slot_setters(cls: type, *names: str) -> tuple[Setter, ...]:
    """The setters of ``cls``'s slots ``names``, which must be ALL its fields in declaration
    order (so a reordered or added field fails at import, not silently). ``cls`` must be a
    frozen, slotted dataclass whose ``__init__`` only assigns its fields."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: not a frozen slotted dataclass")
    fields = tuple(field.name for field in dataclasses.fields(cls))
    if names != fields:
        raise TypeError(f"{cls.__name__}: setters for {names}, but the fields are {fields}")
    if hasattr(cls, "__post_init__") or any(not field.init for field in dataclasses.fields(cls)):
        raise TypeError(f"{cls.__name__}: __init__ does more than assign its fields")
    return tuple(cls.__dict__[name].__set__ for name in names)

"""CometBFT's event query language, the subset clients use: ``cond AND cond AND ...``.

A condition is ``key op operand`` with ``op`` one of ``= < <= > >= CONTAINS EXISTS``, the key a
composite event key (``tm.event``, ``tx.hash``, ``tx.height``, ``Transferred.from_account``)
and the operand a single-quoted string or a number. Queries are bounded in length and in
conditions; anything else raises :class:`QueryError` (the client's fault, answered as invalid
params), never something broader.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from node.errors import NodeError

QUERY_LEN_MAX = 512
CONDITIONS_MAX = 8


class QueryError(NodeError, ValueError):
    """A query that does not parse, or is larger than the bounds allow."""


class Op(enum.Enum):
    EQ = "="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "CONTAINS"
    EXISTS = "EXISTS"


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    op: Op
    operand: str | Decimal | None
    """A string (quoted in the query), a number, or None for EXISTS."""

    def is_match(self, values: Sequence[str]) -> bool:
        return any(self._is_value_match(value) for value in values)

    def _is_value_match(self, value: str) -> bool:
        operand = self.operand
        if self.op is Op.EXISTS:
            return True
        if self.op is Op.CONTAINS:
            return isinstance(operand, str) and operand in value
        if isinstance(operand, str):
            return self.op is Op.EQ and value == operand
        assert operand is not None  # parse() gives every other op an operand
        number = _to_number(value)
        if number is None:
            return False
        return _compare(self.op, number, operand)


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    conditions: tuple[Condition, ...]

    def is_match(self, events: Mapping[str, Sequence[str]]) -> bool:
        return all(c.is_match(events.get(c.key, ())) for c in self.conditions)

    def get(self, key: str, op: Op = Op.EQ) -> list[Condition]:
        return [c for c in self.conditions if c.key == key and c.op is op]

    def get_eq_strings(self) -> list[Condition]:
        return [c for c in self.conditions if c.op is Op.EQ and isinstance(c.operand, str)]

    @property
    def event_type(self) -> str | None:
        """The ``tm.event='…'`` value, if the query names one."""
        found = self.get("tm.event")
        return str(found[0].operand) if found else None


_CONDITION = re.compile(
    r"""\s*(?P<key>[A-Za-z0-9_.\-/:]{1,128})\s*
        (?:(?P<exists>EXISTS)
          |(?P<op><=|>=|=|<|>|CONTAINS)\s*
           (?:'(?P<string>[^']{0,256})'|(?P<number>-?\d{1,30}(?:\.\d{1,18})?))
        )\s*$""",
    re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+")


def parse_query(text: object) -> Query:
    if not isinstance(text, str):
        raise QueryError("query must be a string")
    if not text.strip():
        raise QueryError("query must not be empty")
    if len(text) > QUERY_LEN_MAX:
        raise QueryError(f"query longer than {QUERY_LEN_MAX} characters")
    parts = _split_and(text)
    if len(parts) > CONDITIONS_MAX:
        raise QueryError(f"at most {CONDITIONS_MAX} conditions")
    return Query(text, tuple(_parse_condition(part) for part in parts))


def _split_and(text: str) -> list[str]:
    # AND inside a quoted operand is data, not a separator: split only outside quotes.
    pieces: list[str] = []
    current = ""
    for chunk in re.split(r"('[^']*')", text):
        if chunk.startswith("'") and chunk.endswith("'") and len(chunk) >= 2:
            current += chunk
            continue
        split = _AND.split(chunk)
        current += split[0]
        for piece in split[1:]:
            pieces.append(current)
            current = piece
    pieces.append(current)
    return pieces


def _parse_condition(text: str) -> Condition:
    match = _CONDITION.match(text)
    if match is None:
        raise QueryError(f"cannot parse condition {text.strip()!r}")
    key = match["key"]
    if match["exists"]:
        return Condition(key, Op.EXISTS, None)
    op = Op(match["op"])
    if match["string"] is not None:
        if op not in (Op.EQ, Op.CONTAINS):
            raise QueryError(f"{op.value} needs a number, not a string")
        return Condition(key, op, match["string"])
    if op is Op.CONTAINS:
        raise QueryError("CONTAINS needs a quoted string")
    return Condition(key, op, Decimal(match["number"]))


def _to_number(value: str) -> Decimal | None:
    if len(value) > 40:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _compare(op: Op, value: Decimal, operand: Decimal) -> bool:
    if op is Op.EQ:
        return value == operand
    if op is Op.LT:
        return value < operand
    if op is Op.LE:
        return value <= operand
    if op is Op.GT:
        return value > operand
    return value >= operand

"""What an export of a block through the Export API asks for, as plain values: the file's
format (headers, dates, delimiter, decimal separator, byte order mark) and which columns and
rows to keep. Pure: the API reads Pigment's request bodies into these values; the blocks
service checks them against the block and streams its rows.

Planport's items are known by their codes, so a filter's items are item codes (Pigment's
`modalityIds`). A column's **technical name** is its name with each run of characters other
than letters, digits and `_` made one `_` (`Unit price (€)` → `Unit_price`); when two columns
of a block would share one, ignoring case, the later gets `_2`, `_3`….
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from planport.domain.enums import PropertyType, ValueType
from planport.domain.errors import Invalid
from planport.domain.names import name_key
from planport.domain.values import INTEGER_MAX, INTEGER_MIN, format_value, parse_value


class DateFormat(StrEnum):
    """How dates are written: Pigment's `Legacy` (`01/21/2054` in Lists, `01/21/2054 00:00:00
    +00:00` in Metrics) or `Iso8601` (`2054-01-21`)."""

    LEGACY = "Legacy"
    ISO8601 = "Iso8601"


class FieldDelimiter(StrEnum):
    SEMICOLON = "Semicolon"
    COMMA = "Comma"

    @property
    def char(self) -> str:
        return ";" if self is FieldDelimiter.SEMICOLON else ","


class DecimalSeparator(StrEnum):
    COMMA = "Comma"
    DOT = "Dot"

    @property
    def char(self) -> str:
        return "," if self is DecimalSeparator.COMMA else "."


class FileEncoding(StrEnum):
    UTF8_WITH_BOM = "Utf8WithBom"
    UTF8_WITHOUT_BOM = "Utf8WithoutBom"


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """How the file is written. The defaults are the document's for its /v1/ paths."""

    friendly_headers: bool = False
    date_format: DateFormat = DateFormat.ISO8601
    field_delimiter: FieldDelimiter = FieldDelimiter.SEMICOLON
    decimal_separator: DecimalSeparator = DecimalSeparator.DOT
    encoding: FileEncoding = FileEncoding.UTF8_WITHOUT_BOM

    @property
    def bom(self) -> bool:
        return self.encoding is FileEncoding.UTF8_WITH_BOM

    def text_of(self, kind: PropertyType, value: Any, *, dates_with_time: bool) -> str:
        """A stored value as the file shows it, before formula escaping (blank for None).
        `dates_with_time`: Legacy dates carry Pigment's midnight UTC (Metrics do)."""
        if value is None:
            return ""
        if kind is PropertyType.DATE and isinstance(value, date):
            if self.date_format is DateFormat.ISO8601:
                return value.isoformat()
            shown = f"{value.month:02d}/{value.day:02d}/{value.year:04d}"
            return f"{shown} 00:00:00 +00:00" if dates_with_time else shown
        text = format_value(kind, value)
        if kind is PropertyType.NUMBER and self.decimal_separator is DecimalSeparator.COMMA:
            return text.replace(".", ",")
        return text


# ---------------------------------------------------------------- which rows


@dataclass(frozen=True, slots=True)
class DimensionFilter:
    """Keep a Metric's rows whose item of the Dimension List `list_id` is one of `codes`
    (none: every row). `where` names the request's field, for messages."""

    where: str
    list_id: uuid.UUID
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    """Keep a List's rows whose dimension property `technical_name` holds one of `codes`."""

    where: str
    technical_name: str
    codes: tuple[str, ...]


class Comparison(StrEnum):
    LESS_THAN = "LessThan"
    LESS_THAN_OR_EQUAL = "LessThanOrEqual"
    EQUAL = "Equal"
    NOT_EQUAL = "NotEqual"
    GREATER_THAN = "GreaterThan"
    GREATER_THAN_OR_EQUAL = "GreaterThanOrEqual"
    IS_NOT_BLANK = "IsNotBlank"

    @property
    def orders(self) -> bool:
        return self in _ORDERING


_ORDERING = frozenset(
    {
        Comparison.LESS_THAN,
        Comparison.LESS_THAN_OR_EQUAL,
        Comparison.GREATER_THAN,
        Comparison.GREATER_THAN_OR_EQUAL,
    }
)


@dataclass(frozen=True, slots=True)
class ValueFilter:
    """Keep rows where the value of Metric `metric_id` at the row's items compares as asked.
    `value` is as the request sent it (None for IsNotBlank); see `operand`."""

    where: str
    metric_id: uuid.UUID
    comparison: Comparison
    value: Any = None


@dataclass(frozen=True, slots=True)
class AllOf:
    where: str
    parts: tuple[RowFilter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    where: str
    parts: tuple[RowFilter, ...]


RowFilter = DimensionFilter | ValueFilter | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class ListExport:
    """A List's export: `properties` by technical name in that order (None: every column,
    ordered by technical name), its own items by code, filters on dimension properties."""

    format: ExportFormat = ExportFormat()
    properties: tuple[str, ...] | None = None
    items: tuple[str, ...] = ()
    property_filters: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricExport:
    format: ExportFormat = ExportFormat()
    filter: RowFilter | None = None


# ---------------------------------------------------------------- names and values

_EDGES = re.compile(r"^\W+|\W+$")
_INNER = re.compile(r"\W+")


def technical_name(name: str) -> str:
    """`name` as an identifier: runs of characters other than letters, digits and `_` become
    one `_`, dropped at either end (never empty: `_` for a name of none of them)."""
    return _INNER.sub("_", _EDGES.sub("", name)) or "_"


def technical_names(names: Sequence[str]) -> list[str]:
    """The technical names of one block's columns, in their order, unique ignoring case."""
    taken: set[str] = set()
    found: list[str] = []
    for name in names:
        base = technical_name(name)
        candidate, number = base, 2
        while name_key(candidate) in taken:
            candidate, number = f"{base}_{number}", number + 1
        taken.add(name_key(candidate))
        found.append(candidate)
    return found


_EXAMPLES = {
    ValueType.NUMBER: "a number, such as 10.5",
    ValueType.INTEGER: "a whole number, such as 10",
    ValueType.TEXT: 'a string, such as "Open"',
    ValueType.DATE: 'a date as a string, such as "2027-01-31"',
    ValueType.BOOLEAN: "true or false",
}


def operand(value_type: ValueType, condition: ValueFilter, metric_name: str) -> Any:
    """The value to compare Metric `metric_name`'s values with, typed as they are (None for
    IsNotBlank). Raises Invalid naming the condition's field when the value is missing, sent
    for IsNotBlank, of another type, or ordered where only equality means something."""
    where = f"{condition.where}.condition"
    comparison, value = condition.comparison, condition.value
    if comparison is Comparison.IS_NOT_BLANK:
        if value is not None:
            raise Invalid(f"{where}.value must be left out for IsNotBlank.", field=where)
        return None
    if value is None:
        raise Invalid(f"{where}.value is required for {comparison.value}.", field=where)
    if comparison.orders and value_type is ValueType.BOOLEAN:
        raise Invalid(
            f"{where}.type: {metric_name!r} holds booleans, which are compared with Equal, "
            f"NotEqual or IsNotBlank, not {comparison.value}.",
            field=where,
        )
    typed = _typed(value_type, value)
    if typed is None:
        raise Invalid(
            f"{where}.value: {metric_name!r} holds {value_type.label.lower()} values; send "
            f"{_EXAMPLES[value_type]}, not {_shown(value)}.",
            field=where,
        )
    return typed


def _typed(value_type: ValueType, value: Any) -> Any:
    """`value` as a value of `value_type`, or None when it is not one."""
    match value_type:
        case ValueType.NUMBER:
            return _finite(value)
        case ValueType.INTEGER:
            number = _finite(value)
            if number is None or not number.is_integer():
                return None
            whole = int(value)
            return whole if INTEGER_MIN <= whole <= INTEGER_MAX else None
        case ValueType.TEXT:
            return value if isinstance(value, str) else None
        case ValueType.BOOLEAN:
            return value if isinstance(value, bool) else None
        case ValueType.DATE:
            if not isinstance(value, str):
                return None
            try:
                return parse_value(PropertyType.DATE, value)
            except ValueError:
                return None
    raise AssertionError(value_type)  # pragma: no cover - exhaustive match


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float, None for anything else (true is no number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return number if math.isfinite(number) else None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)

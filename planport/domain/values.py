"""Typed values of properties and metrics: parsing text and converting between types.

Pure functions over plain values. `ValueError` carries a reason a user can read; callers add
where the value came from (item, line, column).
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from planport.domain.enums import PropertyType

_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})

# Types whose values any other type can always be rendered into.
_ALWAYS_TO = {PropertyType.TEXT}


def parse_value(kind: PropertyType, text: str) -> Any:
    """Parse `text` as a value of `kind`; blank text is `None`.

    Dimension values stay text (an item code); resolving codes to items is the caller's job.
    Raises ValueError with a readable reason when the text is not a value of that type.
    """
    stripped = text.strip()
    if stripped == "":
        return None
    match kind:
        case PropertyType.TEXT | PropertyType.DIMENSION:
            return text if kind is PropertyType.TEXT else stripped
        case PropertyType.NUMBER:
            return _parse_number(stripped)
        case PropertyType.INTEGER:
            return _parse_integer(stripped)
        case PropertyType.DATE:
            return _parse_date(stripped)
        case PropertyType.BOOLEAN:
            return _parse_boolean(stripped)
    raise AssertionError(kind)  # pragma: no cover - exhaustive match


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1  # what an integer column stores


def _parse_integer(text: str) -> int:
    if re.fullmatch(r"[+-]?\d+", text):
        value = int(text)
    else:
        number = _parse_number(text)
        if not number.is_integer():
            raise ValueError(f"{text!r} is not a whole number")
        value = int(number)
    if not INTEGER_MIN <= value <= INTEGER_MAX:
        raise ValueError(f"{text!r} is too large for an integer (at most 19 digits)")
    return value


def _parse_date(text: str) -> date:
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def _parse_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (expected true/false, yes/no or 1/0)")


def format_value(kind: PropertyType, value: Any) -> str:
    """Render a stored value as text, the inverse of `parse_value` (blank for None)."""
    if value is None:
        return ""
    if kind is PropertyType.BOOLEAN:
        return "true" if value else "false"
    if kind is PropertyType.NUMBER:
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    if kind is PropertyType.DATE and isinstance(value, date):
        return value.isoformat()
    return str(value)


def conversion_is_possible(source: PropertyType, target: PropertyType) -> bool:
    """Whether values of `source` may be converted to `target` at all (data permitting)."""
    if source is target or target in _ALWAYS_TO:
        return True
    if source is PropertyType.TEXT:
        return True
    return (source, target) in {
        (PropertyType.INTEGER, PropertyType.NUMBER),
        (PropertyType.NUMBER, PropertyType.INTEGER),
        (PropertyType.INTEGER, PropertyType.BOOLEAN),
    }


def convert_value(source: PropertyType, target: PropertyType, value: Any) -> Any:
    """Convert one stored value of `source` type to `target` type.

    Dimension values are item codes here (text). Raises ValueError when this value cannot be
    represented in the target type.
    """
    if value is None or source is target:
        return value
    if not conversion_is_possible(source, target):
        raise ValueError(f"{source.label} values cannot become {target.label}")
    return parse_value(target, format_value(source, value))

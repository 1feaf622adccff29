"""Typed values from text columns, computed on whole Arrow arrays (no per-cell Python).

Each parser returns `Parsed`: the typed array (null where blank or unreadable) and a mask of
cells that were not blank yet could not be read, which become ParsingError rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from planport.engine.file_settings import BooleanFormat, DateFormat, NumberFormat

_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d{1,18}$"
_DAYS_IN_MONTH = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
_EXCEL_EPOCH_OFFSET = 25569  # days from 1899-12-30 (Excel's day 0) to 1970-01-01

_MONTH_NAMES: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "jan january janv janvier januar ene enero gen gennaio jän",
        "feb february fév févr février februar febrero febbraio",
        "mar march mars märz mär marzo mrz",
        "apr april avr avril abr abril aprile",
        "may mai mayo mag maggio",
        "jun june juin juni junio giu giugno",
        "jul july juil juillet juli julio lug luglio",
        "aug august aoû août ago agosto",
        "sep sept september septembre septiembre set settembre",
        "oct october octobre okt oktober octubre ott ottobre",
        "nov november novembre noviembre",
        "dec december déc décembre dez dezember dic diciembre dicembre",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTH_NAMES[_name] = _number
_MONTH_KEYS = pa.array(list(_MONTH_NAMES))
_MONTH_VALUES = pa.array(list(_MONTH_NAMES.values()), pa.int64())

# Date patterns as regexes with named parts (y, m, d, or mon for a month name).
_DATE_REGEXES = {
    "yyyy-MM-dd": r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$",
    "dd/MM/yyyy": r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$",
    "MM/dd/yyyy": r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})$",
    "dd.MM.yyyy": r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$",
    "dd-MM-yyyy": r"^(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>\d{4})$",
    "yyyyMMdd": r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$",
    "yyyy/MM/dd": r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$",
    "MMM yyyy": r"^(?P<mon>\pL+)\.?[ -](?P<y>\d{4})$",
    "dd MMM yyyy": r"^(?P<d>\d{1,2})[ -](?P<mon>\pL+)\.?[ -](?P<y>\d{4})$",
}


@dataclass(frozen=True, slots=True)
class Parsed:
    values: pa.Array
    failed: pa.BooleanArray  # True where the cell had text that is not a value of the type


def blank_mask(column: pa.Array) -> pa.BooleanArray:
    """True where the cell is empty or only whitespace."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.fill_null(pc.equal(trimmed, ""), True)


def parse_text(column: pa.Array) -> Parsed:
    """Text is kept as written; an empty cell is null."""
    values = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    return Parsed(values, _no_failures(column))


def parse_numbers(column: pa.Array, fmt: NumberFormat) -> Parsed:
    """Numbers as `fmt` writes them. A written % divides by 100; with `fmt.percent` every value
    is a percentage (divided by 100 once, % sign or not)."""
    plain = _plain_numbers(column, fmt)
    if plain is not None:
        return plain
    cleaned, negative, percent = _normalise_number_text(column, fmt)
    valid = pc.fill_null(pc.match_substring_regex(cleaned, _NUMBER), False)
    numbers = pc.cast(pc.if_else(valid, cleaned, pa.scalar(None, pa.string())), pa.float64())
    numbers = pc.if_else(negative, pc.negate(numbers), numbers)
    if fmt.percent:
        numbers = pc.divide(numbers, 100.0)
    else:
        numbers = pc.if_else(percent, pc.divide(numbers, 100.0), numbers)
    if fmt.multiplier != 1.0:
        numbers = pc.multiply(numbers, fmt.multiplier)
    return Parsed(numbers, _failed(column, valid))


def _plain_numbers(column: pa.Array, fmt: NumberFormat) -> Parsed | None:
    """The common case in one regex pass: every cell empty or a plain `[-]digits.digits`
    number, in a format that reads such text as written. None when any cell needs the general
    path (whitespace, signs of a format, separators, parentheses, %, or not a number).

    The general path costs some ten passes over the column (trims, regex replacements, masks);
    this was most of the typing time of a large metric file.
    """
    if fmt.decimal_separator != "." or fmt.prefix or fmt.suffix or fmt.percent:
        return None
    if column.null_count:
        return None
    valid = pc.match_substring_regex(column, _NUMBER)
    if not pc.all(pc.or_(valid, pc.equal(column, ""))).as_py():
        return None
    numbers = pc.cast(pc.if_else(valid, column, pa.scalar(None, pa.string())), pa.float64())
    if fmt.multiplier != 1.0:
        numbers = pc.multiply(numbers, fmt.multiplier)
    return Parsed(numbers, _no_failures(column))


def parse_integers(column: pa.Array, fmt: NumberFormat) -> Parsed:
    """Whole numbers: exact (through int64) for up to 18 digits as written, else through the
    number path when the value is whole."""
    numbers = parse_numbers(column, fmt)
    whole = pc.equal(numbers.values, pc.floor(numbers.values))
    in_range = pc.less(pc.abs(numbers.values), 9.2e18)
    ok = pc.fill_null(pc.and_(whole, in_range), False)
    values = pc.cast(pc.if_else(ok, numbers.values, pa.scalar(None, pa.float64())), pa.int64())
    cleaned, negative, percent = _normalise_number_text(column, fmt)
    plain = pc.replace_substring_regex(cleaned, r"^\+", "")
    exact = pc.fill_null(pc.match_substring_regex(plain, _INTEGER), False)
    exact = pc.and_(exact, pc.invert(percent))
    if fmt.multiplier == 1 and not fmt.percent and pc.any(exact).as_py():
        exact_values = pc.cast(pc.if_else(exact, plain, pa.scalar(None, pa.string())), pa.int64())
        exact_values = pc.if_else(negative, pc.negate(exact_values), exact_values)
        values = pc.if_else(exact, exact_values, values)
    return Parsed(values, _failed(column, pc.or_(exact, ok)))


def parse_dates(column: pa.Array, fmt: DateFormat) -> Parsed:
    trimmed = pc.utf8_trim_whitespace(column)
    if fmt.pattern == "excel":
        return _excel_dates(column, trimmed)
    parts = pc.extract_regex(trimmed, _DATE_REGEXES[fmt.pattern])
    matched = pc.fill_null(pc.is_valid(parts), False)
    names = parts.type.names if hasattr(parts.type, "names") else [f.name for f in parts.type]
    year = _int_field(parts, "y")
    month = _month_field(parts) if "mon" in names else _int_field(parts, "m")
    day = (
        _int_field(parts, "d")
        if "d" in names
        else pc.cast(pc.fill_null(pa.nulls(len(column), pa.int64()), 1), pa.int64())
    )
    valid = pc.fill_null(pc.and_(matched, _real_date(year, month, day)), False)
    iso = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(year, pa.string()), 4, "0"),
        pc.utf8_lpad(pc.cast(month, pa.string()), 2, "0"),
        pc.utf8_lpad(pc.cast(day, pa.string()), 2, "0"),
        "-",
    )
    dates = pc.cast(pc.if_else(valid, iso, pa.scalar(None, pa.string())), pa.date32())
    return Parsed(dates, _failed(column, valid))


def parse_booleans(column: pa.Array, fmt: BooleanFormat) -> Parsed:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
    true = pc.fill_null(pc.is_in(lowered, pa.array([v.lower() for v in fmt.true_values])), False)
    false = pc.fill_null(pc.is_in(lowered, pa.array([v.lower() for v in fmt.false_values])), False)
    valid = pc.or_(true, false)
    values = pc.if_else(valid, true, pa.scalar(None, pa.bool_()))
    return Parsed(values, _failed(column, valid))


def _normalise_number_text(
    column: pa.Array, fmt: NumberFormat
) -> tuple[pa.Array, pa.BooleanArray, pa.BooleanArray]:
    """Plain `[-]digits.digits` text, plus masks of (parenthesised) negatives and percents."""
    text = pc.utf8_trim_whitespace(column)
    negative = constant(False, len(column))
    if fmt.parentheses_negative:
        negative = pc.fill_null(pc.match_substring_regex(text, r"^\(.*\)$"), False)
    if fmt.parentheses_negative:
        text = pc.replace_substring_regex(text, r"^\((.*)\)$", r"\1")
    for affix, at_start in ((fmt.prefix, True), (fmt.suffix, False)):
        if affix:
            escaped = re.escape(affix)
            pattern = rf"^([+-]?)\s*{escaped}\s*" if at_start else rf"\s*{escaped}$"
            text = pc.replace_substring_regex(text, pattern, r"\1" if at_start else "")
    percent = pc.fill_null(pc.ends_with(text, "%"), False)
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"%$", ""))
    if fmt.thousands_separator:
        text = pc.replace_substring(text, fmt.thousands_separator, "")
    if fmt.decimal_separator != ".":
        text = pc.replace_substring(text, fmt.decimal_separator, ".")
    return text, negative, percent


def _excel_dates(column: pa.Array, trimmed: pa.Array) -> Parsed:
    valid = pc.fill_null(pc.match_substring_regex(trimmed, r"^\d{1,6}(\.\d+)?$"), False)
    serial = pc.cast(pc.if_else(valid, trimmed, pa.scalar(None, pa.string())), pa.float64())
    days = pc.cast(pc.subtract(pc.floor(serial), _EXCEL_EPOCH_OFFSET), pa.int32())
    return Parsed(pc.cast(days, pa.date32()), _failed(column, valid))


def _int_field(parts: pa.StructArray, name: str) -> pa.Array:
    text = pc.struct_field(parts, name)
    return pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), pa.int64())


def _month_field(parts: pa.StructArray) -> pa.Array:
    names = pc.utf8_lower(pc.struct_field(parts, "mon"))
    index = pc.index_in(names, value_set=_MONTH_KEYS)
    return pc.take(_MONTH_VALUES, index)


def _real_date(year: pa.Array, month: pa.Array, day: pa.Array) -> pa.BooleanArray:
    """Month 1–12 and a day that exists in that month (29 February only in leap years)."""
    month_ok = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    safe_month = pc.if_else(month_ok, month, 0)
    days = pc.take(_DAYS_IN_MONTH, safe_month)
    leap = pc.and_(
        pc.equal(_remainder(year, 4), 0),
        pc.or_(pc.not_equal(_remainder(year, 100), 0), pc.equal(_remainder(year, 400), 0)),
    )
    days = pc.if_else(pc.and_(pc.equal(safe_month, 2), leap), 29, days)
    day_ok = pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, days))
    year_ok = pc.and_(pc.greater_equal(year, 1), pc.less_equal(year, 9999))
    return pc.and_(pc.and_(month_ok, day_ok), year_ok)


def _remainder(values: pa.Array, divisor: int) -> pa.Array:
    return pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor))


def _failed(column: pa.Array, valid: pa.Array) -> pa.BooleanArray:
    return pc.and_(pc.invert(blank_mask(column)), pc.invert(pc.fill_null(valid, False)))


def _no_failures(column: pa.Array) -> pa.BooleanArray:
    return constant(False, len(column))


def constant(value: bool, length: int) -> pa.BooleanArray:
    """A boolean array of one value."""
    return pc.fill_null(pa.nulls(length, pa.bool_()), value)
